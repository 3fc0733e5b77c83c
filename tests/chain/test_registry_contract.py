"""CivicRegistry behaviour through the typed client, on the embedded EVM and on real anvil."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak

import civiccert.chain
from civiccert.chain.nodes import Chain, dev_account
from civiccert.chain.registry import MAX_KEY_BACKDATE_SECONDS, Registry, canonical_jwk
from civiccert.errors import ReasonCode, RegistryError

from chainkit import CITY, OTHER_CITY, Deployed, PublicKey, new_key

pytestmark = pytest.mark.anvil


def h32() -> bytes:
    return os.urandom(32)


def expect(code: ReasonCode, name: str, args: tuple[Any, ...], fn: Callable[[], object]) -> None:
    with pytest.raises(RegistryError) as info:
        fn()
    assert (info.value.code, info.value.error_name, info.value.error_args) == (code, name, args)


def addr(account: LocalAccount) -> str:
    return account.address.lower()


def now(chain: Chain) -> int:
    return int(chain.w3.eth.get_block("latest")["timestamp"])


def register(client: Registry, key: PublicKey, valid_from: int | None = None, cert_hash: bytes | None = None) -> Any:
    start = now(client.chain) if valid_from is None else valid_from
    return client.register_key(key.thumbprint, start, public_jwk=key.jwk, cert_hash=cert_hash)


def logs_of(chain: Chain, tx_hash: str) -> list[Any]:
    return list(chain.w3.eth.get_transaction_receipt(tx_hash)["logs"])  # type: ignore[arg-type]


# ---- governance ------------------------------------------------------------------------------------------


def test_deployer_is_admin_and_operator_acts_for_one_municipality(deployed: Deployed) -> None:
    assert deployed.admin.admin() == deployed.admin_account.address
    assert deployed.admin.operator_of(deployed.operator_account.address) == CITY
    info = deployed.admin.municipality(CITY)
    assert info is not None
    assert (info.code, info.suspended, info.operators) == (CITY, False, (deployed.operator_account.address,))
    assert deployed.admin.municipality(OTHER_CITY) is None


@pytest.mark.parametrize(
    "call",
    [
        lambda r, a: r.register_municipality(OTHER_CITY, a),
        lambda r, a: r.suspend(CITY),
        lambda r, a: r.unsuspend(CITY),
        lambda r, a: r.transfer_admin(a),
    ],
    ids=["register_municipality", "suspend", "unsuspend", "transfer_admin"],
)
def test_non_admin_cannot_govern(deployed: Deployed, call: Callable[[Registry, str], object]) -> None:
    stranger = dev_account(deployed.chain)
    for account in (stranger, deployed.operator_account):
        client = deployed.client(account)
        expect(
            ReasonCode.UNAUTHORIZED,
            "RegistryUnauthorizedAdmin",
            (addr(account),),
            partial(call, client, deployed.operator_account.address),
        )


@pytest.mark.parametrize(
    "call",
    [
        lambda r: r.anchor(h32(), 1),
        lambda r: r.revoke([h32()], 1),
        lambda r: r.revoke([h32(), h32()], 1),
        lambda r: register(r, new_key()),
        lambda r: r.retire_key(h32(), 0),
        lambda r: r.revoke_key(h32(), 0),
        lambda r: r.record_certificate(h32(), h32()),
        lambda r: r.add_operator(dev_account(r.chain).address),
        lambda r: r.remove_operator(dev_account(r.chain).address),
    ],
    ids=["anchor", "revoke", "revokeMany", "register_key", "retire_key", "revoke_key", "record_certificate",
         "add_operator", "remove_operator"],
)
def test_non_operator_cannot_act_even_the_admin(deployed: Deployed, call: Callable[[Registry], object]) -> None:
    for account in (dev_account(deployed.chain), deployed.admin_account):
        expect(
            ReasonCode.UNAUTHORIZED,
            "RegistryUnauthorizedOperator",
            (addr(account),),
            partial(call, deployed.client(account)),
        )


def test_registration_conflicts(deployed: Deployed) -> None:
    op = deployed.operator_account
    expect(
        ReasonCode.MUNICIPALITY_EXISTS,
        "RegistryMunicipalityAlreadyRegistered",
        (CITY,),
        lambda: deployed.admin.register_municipality(CITY, dev_account(deployed.chain).address),
    )
    expect(
        ReasonCode.OPERATOR_ASSIGNED,
        "RegistryOperatorAlreadyAssigned",
        (addr(op), CITY),
        lambda: deployed.admin.register_municipality(OTHER_CITY, op.address),
    )
    stranger = dev_account(deployed.chain)
    expect(
        ReasonCode.UNAUTHORIZED,
        "RegistryUnknownOperator",
        (addr(stranger),),
        lambda: deployed.city.remove_operator(stranger.address),
    )
    expect(
        ReasonCode.OPERATOR_ASSIGNED,
        "RegistryOperatorAlreadyAssigned",
        (addr(op), CITY),
        lambda: deployed.city.add_operator(op.address),
    )
    with pytest.raises(ValueError, match=r"1\.\.999999"):
        deployed.admin.register_municipality(1_000_000, stranger.address)


def test_removed_operator_can_no_longer_anchor(deployed: Deployed) -> None:
    second = dev_account(deployed.chain)
    deployed.city.add_operator(second.address)
    deployed.client(second).anchor(h32(), 1)
    deployed.city.remove_operator(second.address)
    assert deployed.admin.operator_of(second.address) is None
    info = deployed.admin.municipality(CITY)
    assert info is not None
    assert info.operators == (deployed.operator_account.address,)
    expect(
        ReasonCode.UNAUTHORIZED,
        "RegistryUnauthorizedOperator",
        (addr(second),),
        lambda: deployed.client(second).anchor(h32(), 1),
    )


def test_admin_transfer_takes_two_steps(deployed: Deployed) -> None:
    new_admin = dev_account(deployed.chain)
    deployed.admin.transfer_admin(new_admin.address)
    assert deployed.admin.admin() == deployed.admin_account.address
    stranger = dev_account(deployed.chain)
    expect(
        ReasonCode.UNAUTHORIZED,
        "RegistryUnauthorizedPendingAdmin",
        (addr(stranger),),
        lambda: deployed.client(stranger).accept_admin(),
    )
    deployed.client(new_admin).accept_admin()
    assert deployed.admin.admin() == new_admin.address
    expect(
        ReasonCode.UNAUTHORIZED,
        "RegistryUnauthorizedAdmin",
        (addr(deployed.admin_account),),
        lambda: deployed.admin.suspend(CITY),
    )


# ---- suspension --------------------------------------------------------------------------------------


def test_suspended_municipality_cannot_anchor_or_manage_keys_until_unsuspended(deployed: Deployed) -> None:
    root, pub = h32(), new_key()
    key = pub.thumbprint
    deployed.city.anchor(root, 3)
    register(deployed.city, pub)
    late = dev_account(deployed.chain)
    deployed.city.add_operator(late.address)
    deployed.admin.suspend(CITY)
    expect(ReasonCode.MUNICIPALITY_SUSPENDED, "RegistryMunicipalitySuspended", (CITY,),
           lambda: deployed.city.add_operator(dev_account(deployed.chain).address))
    info = deployed.admin.municipality(CITY)
    assert info is not None
    assert info.suspended
    for client in (deployed.city, deployed.client(late)):
        for call in (
            lambda c=client: c.anchor(h32(), 1),
            lambda c=client: register(c, new_key()),
            lambda c=client: c.retire_key(key, 0),
        ):
            expect(ReasonCode.MUNICIPALITY_SUSPENDED, "RegistryMunicipalitySuspended", (CITY,), call)
    root_info = deployed.admin.root(CITY, root)
    assert root_info is not None
    assert root_info.leaf_count == 3  # what was recorded stays
    deployed.admin.suspend(CITY)  # idempotent
    deployed.admin.unsuspend(CITY)
    deployed.city.anchor(h32(), 1)
    deployed.client(late).anchor(h32(), 1)
    deployed.city.retire_key(key, 0)


def test_suspended_municipality_can_still_revoke_and_it_outlives_the_suspension(deployed: Deployed) -> None:
    """A compromise found during a suspension is contained now, not "when someone remembers" afterwards."""
    pub, one, many = new_key(), h32(), [h32(), h32()]
    key = pub.thumbprint
    register(deployed.city, pub)
    late, leaked = dev_account(deployed.chain), dev_account(deployed.chain)
    deployed.city.add_operator(late.address)
    deployed.city.add_operator(leaked.address)
    deployed.admin.suspend(CITY)
    deployed.client(late).remove_operator(leaked.address)  # containment needs no unsuspension
    assert deployed.admin.operator_of(leaked.address) is None
    deployed.city.revoke([one], 1)
    deployed.client(late).revoke(many, 2)
    outcome = deployed.city.revoke_key(key, 2**63)
    deployed.admin.unsuspend(CITY)
    assert [r[0] if r else None for r in (deployed.city.revocation(CITY, h) for h in [one, *many])] == [1, 2, 2]
    info = deployed.city.key(CITY, key)
    assert info is not None
    assert info.revoked_at == outcome.block_timestamp
    assert deployed.city.is_key_valid_at(CITY, key, outcome.block_timestamp) is False
    stranger = dev_account(deployed.chain)  # not an operator: still refused
    expect(ReasonCode.UNAUTHORIZED, "RegistryUnauthorizedOperator", (addr(stranger),),
           lambda: deployed.client(stranger).revoke_key(key, 0))


# ---- anchors -----------------------------------------------------------------------------------------


def test_anchored_root_never_changes(deployed: Deployed, dev_accounts: Any) -> None:
    root = h32()
    outcome = deployed.city.anchor(root, 7)
    info = deployed.city.root(CITY, root)
    assert info is not None
    assert (info.municipality, info.leaf_count, info.block_number) == (CITY, 7, outcome.block_number)
    assert info.anchored_at == outcome.block_timestamp
    second = dev_accounts(deployed.chain, 1)[0]
    deployed.city.add_operator(second.address)
    for client in (deployed.city, deployed.client(second)):  # any operator of the same municipality
        expect(
            ReasonCode.ROOT_ALREADY_ANCHORED,
            "RegistryRootAlreadyAnchored",
            ("0x" + root.hex(),),
            partial(client.anchor, root, 9),
        )
    assert deployed.city.root(CITY, root) == info
    assert deployed.city.root(CITY, h32()) is None


def test_another_municipality_anchoring_our_root_first_does_not_affect_us(deployed: Deployed) -> None:
    """Front-running: 札幌市 copies 松戸市's root from the mempool and anchors it first."""
    other = dev_account(deployed.chain)
    deployed.admin.register_municipality(OTHER_CITY, other.address)
    root = h32()
    theirs = deployed.client(other).anchor(root, 1)
    assert deployed.city.root(CITY, root) is None  # their namespace, not ours
    ours = deployed.city.anchor(root, 7)
    mine = deployed.city.root(CITY, root)
    assert mine is not None
    assert (mine.municipality, mine.leaf_count, mine.block_number) == (CITY, 7, ours.block_number)
    squatted = deployed.city.root(OTHER_CITY, root)
    assert squatted is not None
    assert (squatted.municipality, squatted.leaf_count, squatted.block_number) == (OTHER_CITY, 1, theirs.block_number)
    assert deployed.city.status(CITY, root, h32()).leaf_count == 7


def test_anchor_emits_batch_anchored_with_the_root_only(deployed: Deployed) -> None:
    root = h32()
    outcome = deployed.city.anchor(root, 5)
    (log,) = logs_of(deployed.chain, outcome.tx_hash)
    assert [bytes(t) for t in log["topics"]] == [keccak(text="BatchAnchored(bytes32)"), root]
    assert bytes(log["data"]) == b""  # municipality: the sender's; leaf count: anchorOf


def test_two_phase_anchor_is_idempotent(deployed: Deployed) -> None:
    root = h32()
    signed = deployed.city.build_anchor(root, 2)
    assert deployed.city.root(CITY, root) is None  # built, not sent
    assert deployed.city.send_raw(signed) == signed.hash
    assert deployed.city.send_raw(signed) == signed.hash  # "already known" / mined: not an error
    outcome = deployed.city.wait_for_receipt(signed.hash, timeout=10)
    assert outcome is not None
    assert outcome.success
    assert outcome.tx_hash == signed.hash
    assert deployed.city.send_raw(signed) == signed.hash  # "nonce too low" for our own hash
    assert deployed.city.root(CITY, root) is not None
    assert deployed.city.wait_for_receipt("0x" + "ab" * 32, timeout=0.2) is None


def test_build_anchor_surfaces_revert_before_signing(deployed: Deployed) -> None:
    root = h32()
    deployed.city.anchor(root, 1)
    with pytest.raises(RegistryError) as info:
        deployed.city.build_anchor(root, 1)
    assert info.value.code is ReasonCode.ROOT_ALREADY_ANCHORED


def test_pipelined_builds_get_consecutive_nonces(deployed: Deployed) -> None:
    first = deployed.city.build_anchor(h32(), 1)
    second = deployed.city.build_anchor(h32(), 1)
    assert second.nonce == first.nonce + 1
    for signed in (first, second):
        deployed.city.send_raw(signed)
    outcomes = [deployed.city.wait_for_receipt(s.hash, timeout=10) for s in (first, second)]
    assert all(o is not None and o.success for o in outcomes)


# ---- credential revocation ---------------------------------------------------------------------------


def test_revocation_is_never_undone_or_overwritten(deployed: Deployed) -> None:
    cred = h32()
    first = deployed.city.revoke([cred], 1)
    (log,) = logs_of(deployed.chain, first.tx_hash)
    assert [bytes(t) for t in log["topics"]] == [keccak(text="CredentialRevoked(bytes32)"), cred]
    assert bytes(log["data"]) == b""  # the reason is read from revocationOf, the municipality is the sender's
    recorded = deployed.city.revocation(CITY, cred)
    assert recorded is not None
    assert recorded[0] == 1
    again = deployed.city.revoke([cred], 4)
    assert logs_of(deployed.chain, again.tx_hash) == []  # a no-op emits nothing
    many = deployed.city.revoke([cred, h32()], 5)
    assert len(logs_of(deployed.chain, many.tx_hash)) == 1
    assert deployed.city.revocation(CITY, cred) == recorded


def test_revoke_many_lists_only_new_hashes(deployed: Deployed) -> None:
    old, new1, new2 = h32(), h32(), h32()
    deployed.city.revoke([old], 2)
    outcome = deployed.city.revoke([old, new1, new2], 3)
    (log,) = logs_of(deployed.chain, outcome.tx_hash)
    data = bytes(log["data"])
    # (uint8 reason, bytes32[] hashes): reason, offset, length, items
    assert int.from_bytes(data[:32], "big") == 3
    assert int.from_bytes(data[64:96], "big") == 2
    assert [data[96:128], data[128:160]] == [new1, new2]
    assert deployed.city.revocation(CITY, new2) is not None
    again = deployed.city.revoke([old, new1], 3)
    assert logs_of(deployed.chain, again.tx_hash) == []


def test_revocation_lands_in_own_namespace_only(deployed: Deployed) -> None:
    other = dev_account(deployed.chain)
    deployed.admin.register_municipality(OTHER_CITY, other.address)
    root, cred = h32(), h32()
    deployed.city.anchor(root, 1)
    deployed.client(other).revoke([cred], 1)  # another municipality "revokes" CITY's credential
    assert deployed.city.revocation(CITY, cred) is None
    assert deployed.city.revocation(OTHER_CITY, cred) is not None
    status = deployed.city.status(CITY, root, cred)
    assert status.anchored
    assert not status.revoked
    assert deployed.city.status(OTHER_CITY, root, cred).revoked  # in its namespace, where nothing is anchored
    assert not deployed.city.status(OTHER_CITY, root, cred).anchored
    deployed.city.revoke([cred], 6)
    status = deployed.city.status(CITY, root, cred)
    assert status.revoked
    assert status.revocation_reason == 6


# ---- keys --------------------------------------------------------------------------------------------


def advance_time(chain: Chain, seconds: int) -> None:
    """Move the chain's clock forward and mine a block (dev-chain cheat RPCs)."""
    if chain.kind == "embedded":
        chain.w3.testing.timeTravel(now(chain) + seconds)  # type: ignore[attr-defined]
        chain.w3.testing.mine()  # type: ignore[attr-defined]
    else:
        chain.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
        chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


def test_key_validity_over_time(deployed: Deployed) -> None:
    pub = new_key()
    key = pub.thumbprint
    t0 = now(deployed.chain)
    register(deployed.city, pub, t0 + 100)
    deployed.city.retire_key(key, t0 + 1000)
    info = deployed.city.key(CITY, key)
    assert info is not None
    assert (info.municipality, info.valid_from, info.retired_at, info.revoked_at) == (CITY, t0 + 100, t0 + 1000, 0)
    for t, valid in ((t0 + 99, False), (t0 + 100, True), (t0 + 999, True), (t0 + 1000, False)):
        assert deployed.city.is_key_valid_at(CITY, key, t) is valid
        assert info.valid_at(t) is valid  # the offline rule is the on-chain rule
    assert deployed.city.is_key_valid_at(OTHER_CITY, key, t0 + 500) is False
    advance_time(deployed.chain, 600)
    deployed.city.revoke_key(key, t0 + 400)  # compromise found later: revoked into the past
    revoked = deployed.city.key(CITY, key)
    assert revoked is not None
    assert revoked.revoked_at == t0 + 400
    assert deployed.city.is_key_valid_at(CITY, key, t0 + 399) is True
    assert deployed.city.is_key_valid_at(CITY, key, t0 + 400) is False
    expect(
        ReasonCode.KEY_REVOKED,
        "RegistryKeyAlreadyRevoked",
        ("0x" + key.hex(), t0 + 400),
        lambda: deployed.city.revoke_key(key, t0 + 100),
    )
    expect(
        ReasonCode.KEY_RETIRED,
        "RegistryKeyAlreadyRetired",
        ("0x" + key.hex(), t0 + 1000),
        lambda: deployed.city.retire_key(key, 0),
    )


def test_key_revocation_in_the_future_is_capped_at_now(deployed: Deployed) -> None:
    pub = new_key()
    key = pub.thumbprint
    register(deployed.city, pub)
    outcome = deployed.city.revoke_key(key, 2**63)
    info = deployed.city.key(CITY, key)
    assert info is not None
    assert info.revoked_at == outcome.block_timestamp


def test_key_start_may_lie_up_to_400_days_before_registration(deployed: Deployed) -> None:
    """Issue first, go on chain later: the key's real start of use is recorded (bounded), not the block time."""
    t0 = now(deployed.chain)
    limit = deployed.city._call("MAX_KEY_BACKDATE")[0]
    assert limit == MAX_KEY_BACKDATE_SECONDS == 400 * 24 * 3600
    pub = new_key()
    register(deployed.city, pub, t0 - 300 * 24 * 3600)
    info = deployed.city.key(CITY, pub.thumbprint)
    assert info is not None
    assert info.valid_from == t0 - 300 * 24 * 3600
    assert deployed.city.is_key_valid_at(CITY, pub.thumbprint, t0 - 299 * 24 * 3600) is True
    late = new_key()
    for too_early in (t0 - 401 * 24 * 3600, 0):
        with pytest.raises(RegistryError) as refused:
            register(deployed.city, late, too_early)
        error = refused.value
        key_hex, start, earliest = error.error_args
        assert (error.code, error.error_name, key_hex, start) == (
            ReasonCode.KEY_NOT_YET_VALID, "RegistryKeyStartTooEarly", "0x" + late.thumbprint.hex(), too_early)
        assert earliest + MAX_KEY_BACKDATE_SECONDS - t0 in range(0, 30)  # the block's time, minus the bound
    assert deployed.city.key(CITY, late.thumbprint) is None


# ---- certificates ------------------------------------------------------------------------------------


def test_register_key_records_its_certificate(deployed: Deployed) -> None:
    pub, cert = new_key(), h32()
    outcome = register(deployed.city, pub, cert_hash=cert)
    assert deployed.admin.certificate_key(CITY, cert) == pub.thumbprint
    assert deployed.admin.certificate_key(OTHER_CITY, cert) is None  # namespaced like everything else
    logs = logs_of(deployed.chain, outcome.tx_hash)
    topic = keccak(text="CertificateRecorded(uint32,bytes32,bytes32)")
    recorded = [log for log in logs if bytes(log["topics"][0]) == topic]
    assert [[bytes(t) for t in log["topics"][1:]] for log in recorded] == [
        [CITY.to_bytes(32, "big"), pub.thumbprint, cert]]
    bare = new_key()
    register(deployed.city, bare)  # an uncertified development key records no certificate
    assert len(logs_of(deployed.chain, register(deployed.city, new_key()).tx_hash)) == 1


def test_record_certificate_adds_a_renewed_leaf_and_never_replaces(deployed: Deployed) -> None:
    pub, first, renewed = new_key(), h32(), h32()
    register(deployed.city, pub, cert_hash=first)
    outcome = deployed.city.record_certificate(pub.thumbprint, renewed)
    assert outcome.success
    assert (deployed.admin.certificate_key(CITY, first), deployed.admin.certificate_key(CITY, renewed)) == (
        pub.thumbprint, pub.thumbprint)
    other = new_key()
    register(deployed.city, other)
    expect(ReasonCode.CERT_ALREADY_RECORDED, "RegistryCertificateAlreadyRecorded",
           ("0x" + first.hex(), "0x" + pub.thumbprint.hex()),
           lambda: deployed.city.record_certificate(other.thumbprint, first))
    expect(ReasonCode.CERT_ALREADY_RECORDED, "RegistryCertificateAlreadyRecorded",
           ("0x" + renewed.hex(), "0x" + pub.thumbprint.hex()),
           lambda: register(deployed.city, new_key(), cert_hash=renewed))
    unknown = h32()
    expect(ReasonCode.KEY_UNKNOWN, "RegistryUnknownKey", ("0x" + unknown.hex(),),
           lambda: deployed.city.record_certificate(unknown, h32()))
    expect(ReasonCode.TRANSACTION_FAILED, "RegistryInvalidHash", ("0x" + "00" * 32,),
           lambda: deployed.city._transact("recordCertificate", pub.thumbprint, bytes(32)))
    revoked = deployed.city.revoke_key(other.thumbprint, 2**63)
    expect(ReasonCode.KEY_REVOKED, "RegistryKeyAlreadyRevoked",
           ("0x" + other.thumbprint.hex(), revoked.block_timestamp),
           lambda: deployed.city.record_certificate(other.thumbprint, h32()))
    deployed.admin.suspend(CITY)
    expect(ReasonCode.MUNICIPALITY_SUSPENDED, "RegistryMunicipalitySuspended", (CITY,),
           lambda: deployed.city.record_certificate(pub.thumbprint, h32()))
    assert deployed.admin.certificate_key(CITY, first) == pub.thumbprint  # never replaced


def test_admin_cannot_touch_a_registered_citys_operators_or_keys(deployed: Deployed) -> None:
    """The admin's powers are registerMunicipality, suspend/unsuspend and transferAdmin: nothing else."""
    abi_names = {item["name"] for item in json.loads(
        (Path(civiccert.chain.__file__).parent / "artifacts" / "CivicRegistry.json").read_text())["abi"]
        if item["type"] == "function" and item.get("stateMutability") not in ("view", "pure")}
    assert abi_names == {"acceptAdmin", "addOperator", "anchor", "publishStatusLists", "recordCertificate",
                         "registerKey", "registerMunicipality", "removeOperator", "retireKey", "revoke", "revokeKey",
                         "revokeMany", "suspendMunicipality", "transferAdmin", "unsuspendMunicipality"}
    rogue = dev_account(deployed.chain)
    admin = deployed.admin
    admin_addr = addr(deployed.admin_account)
    for call in (lambda: admin.add_operator(rogue.address),
                 lambda: admin.remove_operator(deployed.operator_account.address),
                 lambda: register(admin, new_key()), lambda: admin.record_certificate(h32(), h32())):
        expect(ReasonCode.UNAUTHORIZED, "RegistryUnauthorizedOperator", (admin_addr,), call)
    expect(ReasonCode.OPERATOR_ASSIGNED, "RegistryLastOperator", (CITY, addr(deployed.operator_account)),
           lambda: deployed.city.remove_operator(deployed.operator_account.address))
    info = deployed.admin.municipality(CITY)
    assert info is not None
    assert info.operators == (deployed.operator_account.address,)


def test_key_errors(deployed: Deployed) -> None:
    t0 = now(deployed.chain)
    pub = new_key()
    key = pub.thumbprint
    register(deployed.city, pub, t0 + 50)
    hexkey = "0x" + key.hex()
    expect(ReasonCode.KEY_EXISTS, "RegistryKeyAlreadyRegistered", (hexkey, CITY), lambda: register(deployed.city, pub))
    expect(
        ReasonCode.KEY_NOT_YET_VALID,
        "RegistryInvalidKeyTime",
        (hexkey, t0),
        lambda: deployed.city.revoke_key(key, t0),
    )
    unknown = h32()
    expect(
        ReasonCode.KEY_UNKNOWN,
        "RegistryUnknownKey",
        ("0x" + unknown.hex(),),
        lambda: deployed.city.retire_key(unknown, 0),
    )
    other = dev_account(deployed.chain)
    deployed.admin.register_municipality(OTHER_CITY, other.address)
    for call in (lambda: deployed.client(other).retire_key(key, 0), lambda: deployed.client(other).revoke_key(key, 0)):
        expect(ReasonCode.KEY_UNKNOWN, "RegistryUnknownKey", (hexkey,), call)  # not in its namespace
    info = deployed.city.key(CITY, key)
    assert info is not None
    assert (info.retired_at, info.revoked_at) == (0, 0)


def test_another_municipality_registering_our_key_first_does_not_affect_us(deployed: Deployed) -> None:
    """Squatting: 札幌市 copies 松戸市's public JWK (trust export, mempool) and registers its thumbprint first."""
    other = dev_account(deployed.chain)
    deployed.admin.register_municipality(OTHER_CITY, other.address)
    pub = new_key()
    key = pub.thumbprint
    theirs = register(deployed.client(other), pub)
    assert deployed.city.key(CITY, key) is None  # their namespace, not ours
    assert deployed.city.public_jwk(CITY, key) is None
    ours = register(deployed.city, pub)  # not RegistryKeyAlreadyRegistered
    mine = deployed.city.key(CITY, key)
    assert mine is not None
    assert mine.municipality == CITY
    squatted = deployed.city.key(OTHER_CITY, key)
    assert squatted is not None
    assert squatted.municipality == OTHER_CITY
    assert theirs.success
    assert deployed.city.is_key_valid_at(CITY, key, ours.block_timestamp) is True
    assert deployed.city.public_jwk(CITY, key) == {m: pub.jwk[m] for m in ("crv", "kty", "x", "y")}
    deployed.client(other).revoke_key(key, 2**63)  # only in its namespace
    assert deployed.city.key(CITY, key) == mine
    assert deployed.city.is_key_valid_at(CITY, key, ours.block_timestamp) is True
    expect(ReasonCode.KEY_EXISTS, "RegistryKeyAlreadyRegistered", ("0x" + key.hex(), OTHER_CITY),
           lambda: register(deployed.client(other), pub))


def test_registered_key_publishes_its_jwk(deployed: Deployed) -> None:
    for alg, members in (("ES256", ("crv", "kty", "x", "y")), ("EdDSA", ("crv", "kty", "x"))):
        pub = new_key(alg)
        outcome = register(deployed.city, pub)
        assert deployed.admin.public_jwk(CITY, pub.thumbprint) == {m: pub.jwk[m] for m in members}  # no kid/alg/use
        (log,) = logs_of(deployed.chain, outcome.tx_hash)
        assert [bytes(t) for t in log["topics"][1:]] == [CITY.to_bytes(32, "big"), pub.thumbprint]
        assert canonical_jwk(pub.jwk) in bytes(log["data"])  # logged, not stored


def test_public_jwk_of_unknown_key_is_none(deployed: Deployed) -> None:
    register(deployed.city, new_key())
    assert deployed.admin.public_jwk(CITY, new_key().thumbprint) is None


def test_key_must_be_the_thumbprint_of_its_jwk(deployed: Deployed) -> None:
    pub, other = new_key(), new_key()
    with pytest.raises(ValueError, match="does not match"):
        deployed.city.register_key(pub.thumbprint, now(deployed.chain), public_jwk=other.jwk)
    # The contract enforces it too: send what the client refuses to build.
    expect(
        ReasonCode.TRANSACTION_FAILED,
        "RegistryKeyMismatch",
        ("0x" + pub.thumbprint.hex(),),
        lambda: deployed.city._transact("registerKey", pub.thumbprint, 1, canonical_jwk(other.jwk), bytes(32)),
    )
    expect(
        ReasonCode.TRANSACTION_FAILED,
        "RegistryKeyMismatch",
        ("0x" + pub.thumbprint.hex(),),
        lambda: deployed.city._transact("registerKey", pub.thumbprint, 1, json.dumps(pub.jwk).encode(), bytes(32)),
    )
    assert deployed.city.key(CITY, pub.thumbprint) is None


def test_canonical_jwk_is_the_rfc_7638_thumbprint_input() -> None:
    # RFC 7638 §3.1 example key (RSA) and its thumbprint.
    n = (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMs"
        "tn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajr"
        "n1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    )
    jwk = {"kty": "RSA", "n": n, "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"}
    canonical = canonical_jwk(jwk)
    assert canonical == ('{"e":"AQAB","kty":"RSA","n":"' + n + '"}').encode()
    thumbprint = base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=")
    assert thumbprint == b"NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    for bad in ({"kty": "oct", "k": "AAAA"}, {"kty": "EC", "crv": "P-256", "x": "AAAA"}):
        with pytest.raises(ValueError, match="public_jwk"):
            canonical_jwk(bad)


# ---- invariants against every state-changing function --------------------------------------------------


def test_invariants_hold_across_every_external_function(deployed: Deployed) -> None:
    root, cred, pub = h32(), h32(), new_key()
    key = pub.thumbprint
    deployed.city.anchor(root, 4)
    deployed.city.revoke([cred], 1)
    register(deployed.city, pub)
    deployed.city.revoke_key(key, now(deployed.chain))
    def records() -> tuple[object, ...]:
        return deployed.city.root(CITY, root), deployed.city.revocation(CITY, cred), deployed.city.key(CITY, key)

    before = records()
    other, extra, new_admin = (dev_account(deployed.chain) for _ in range(3))
    calls: list[Callable[[], object]] = [
        lambda: deployed.admin.register_municipality(OTHER_CITY, other.address),
        lambda: deployed.city.add_operator(extra.address),
        lambda: deployed.client(other).anchor(h32(), 1),
        lambda: deployed.client(other).anchor(root, 1),  # our root, into its own namespace
        lambda: deployed.client(other).revoke([cred], 9),
        lambda: deployed.client(other).revoke([cred, h32()], 9),
        lambda: deployed.city.revoke([cred], 9),
        lambda: deployed.city.revoke([cred, h32()], 9),
        lambda: deployed.city.anchor(root, 99),
        lambda: register(deployed.city, pub),
        lambda: deployed.city.retire_key(key, 0),
        lambda: deployed.city.revoke_key(key, 0),
        lambda: register(deployed.client(other), pub),  # our key, into its own namespace
        lambda: deployed.client(other).retire_key(key, 0),
        lambda: deployed.client(other).revoke_key(key, 0),
        lambda: deployed.admin.suspend(CITY),
        lambda: deployed.admin.unsuspend(CITY),
        lambda: deployed.city.remove_operator(extra.address),
        lambda: deployed.client(other).record_certificate(key, h32()),  # not its key
        lambda: deployed.city.record_certificate(key, h32()),  # revoked key
        lambda: deployed.admin.transfer_admin(new_admin.address),
        lambda: deployed.client(new_admin).accept_admin(),
    ]
    for call in calls:
        with contextlib.suppress(RegistryError):  # reverting is fine; changing the records is not
            call()
        assert records() == before


# ---- views -------------------------------------------------------------------------------------------


def test_status_of_unanchored_root_still_reports_the_revocation(deployed: Deployed) -> None:
    cred = h32()
    deployed.city.revoke([cred], 1)
    status = deployed.city.status(CITY, h32(), cred)
    assert not status.anchored
    assert (status.municipality, status.anchored_at, status.block_number, status.leaf_count) == (CITY, 0, 0, 0)
    assert (status.revoked, status.revocation_reason) == (True, 1)
    fresh = deployed.city.status(OTHER_CITY, h32(), cred)
    assert (fresh.anchored, fresh.revoked, fresh.revocation_reason) == (False, False, 0)


def test_statuses_batch_matches_single_calls(deployed: Deployed) -> None:
    other = dev_account(deployed.chain)
    deployed.admin.register_municipality(OTHER_CITY, other.address)
    root, theirs = h32(), h32()
    creds = [h32() for _ in range(25)]
    deployed.city.anchor(root, len(creds))
    deployed.city.revoke(creds[::3], 2)
    deployed.client(other).anchor(theirs, 1)
    triples: list[tuple[int | str, bytes, bytes]] = [(CITY, root, c) for c in creds]
    triples += [(CITY, h32(), creds[0]), ("011002", root, creds[0]), (CITY, theirs, creds[1])]
    batch = deployed.city.statuses(triples)
    assert batch == [deployed.city.status(m, r, c) for m, r, c in triples]
    assert [s.revoked for s in batch[:25]] == [i % 3 == 0 for i in range(len(creds))]
    assert [s.anchored for s in batch[25:]] == [False, False, False]  # unknown root, other namespaces
    assert (batch[25].revoked, batch[26].revoked) == (True, False)
    assert deployed.city.statuses([]) == []


def test_trust_snapshot_lists_municipalities_and_keys(deployed: Deployed) -> None:
    other = dev_account(deployed.chain)
    deployed.admin.register_municipality("011002", other.address)
    live_key, retired_key = new_key(), new_key("EdDSA")
    live, retired = live_key.thumbprint, retired_key.thumbprint
    cert = h32()
    register(deployed.city, live_key, cert_hash=cert)
    register(deployed.city, retired_key)
    deployed.city.retire_key(retired, 0)
    register(deployed.client(other), live_key)  # the same public key, squatted in 011002's namespace
    deployed.client(other).revoke_key(live, 2**63)
    deployed.admin.suspend(OTHER_CITY)
    snap = deployed.admin.trust_snapshot(log_chunk=2)  # small chunks exercise the paging
    assert snap["chain_id"] == deployed.chain.chain_id
    assert snap["registry"] == deployed.admin.address
    assert snap["block_number"] == deployed.chain.block_number()
    by_code = {m["code"]: m for m in snap["municipalities"]}
    assert set(by_code) == {"122076", "011002"}
    assert by_code["011002"]["suspended"] is True
    (squatted,) = by_code["011002"]["keys"]
    assert (squatted["thumbprint"], squatted["revoked_at"] is not None) == ("0x" + live.hex(), True)
    keys = {k["thumbprint"]: k for k in by_code["122076"]["keys"]}
    assert set(keys) == {"0x" + live.hex(), "0x" + retired.hex()}
    assert (keys["0x" + live.hex()]["retired_at"], keys["0x" + live.hex()]["revoked_at"]) == (None, None)
    assert keys["0x" + retired.hex()]["retired_at"] is not None
    assert keys["0x" + live.hex()]["jwk"] == {k: live_key.jwk[k] for k in ("crv", "kty", "x", "y")}
    assert keys["0x" + retired.hex()]["jwk"] == {k: retired_key.jwk[k] for k in ("crv", "kty", "x")}
    assert (keys["0x" + live.hex()]["certificates"], keys["0x" + retired.hex()]["certificates"]) == (
        ["0x" + cert.hex()], [])
    assert squatted["certificates"] == []  # 松戸市's certificate is recorded in its namespace only


def test_client_rejects_malformed_arguments(deployed: Deployed) -> None:
    with pytest.raises(ValueError, match="zero hash"):
        deployed.city.anchor(b"\x00" * 32, 1)
    with pytest.raises(ValueError, match="leaf_count"):
        deployed.city.anchor(h32(), 0)
    with pytest.raises(ValueError, match="32 bytes"):
        deployed.city.revoke([b"short"], 1)
    with pytest.raises(ValueError, match="uint8"):
        deployed.city.revoke([h32()], 256)
    with pytest.raises(ValueError, match="no account"):
        Registry(deployed.chain, deployed.admin.address).anchor(h32(), 1)  # no account
