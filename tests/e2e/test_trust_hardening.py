"""What decides trust must itself be trustworthy: a pinned registry, refused future snapshots, and
credentials issued before their key went on chain (embedded EVM, public API)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

import civiccert as cc
from civiccert import ReasonCode, Verdict
from civiccert.records import Municipality
from civiccert.verification.trust import snapshot_from_registry

from worldkit import PASSPHRASE, World


def codes(result: cc.VerificationResult) -> dict[str, str]:
    return {c.name.value: c.code.value for c in result.checks}


def genuine_snapshot(world: World) -> cc.TrustSnapshot:
    return snapshot_from_registry(world.registry.trust_snapshot())


def attacker_registry(world: World) -> cc.Registry:
    """A second registry on the same chain in which an attacker registered 122076 with a key of its own."""
    attacker = cc.Registry.deploy(world.chain, cc.dev_account(world.chain))
    attacker.register_municipality(122076, cc.dev_account(world.chain).address)
    return attacker


def test_a_registry_snapshot_pins_the_registry(world: World) -> None:
    snapshot = genuine_snapshot(world)
    assert (snapshot.chain_id, snapshot.registry) == (world.chain.chain_id, world.registry.address)
    cred = world.issue_anchored()
    attacker = attacker_registry(world)
    with pytest.raises(cc.ConfigError) as info:
        cc.Verifier(trust=snapshot, registry=cc.OnlineRegistry.of(world.chain, attacker.address))
    assert info.value.code is ReasonCode.REGISTRY_MISMATCH
    pinned = cc.Verifier(trust=snapshot, registry=cc.OnlineRegistry.of(world.chain, world.registry.address))
    assert pinned.verify(cred).verdict is Verdict.VALID


def test_a_node_on_another_chain_than_the_snapshot_is_never_valid(world: World) -> None:
    cred = world.issue_anchored()
    snapshot = dataclasses.replace(genuine_snapshot(world), chain_id=world.chain.chain_id + 1)
    result = cc.Verifier(trust=snapshot, registry=cc.OnlineRegistry.of(world.chain, world.registry.address)
                         ).verify(cred)
    assert result.verdict is Verdict.INDETERMINATE
    assert codes(result)["anchor"] == "chain_id_mismatch"


def test_offline_a_receipt_from_another_registry_than_the_snapshot_is_invalid(world: World) -> None:
    cred = world.issue_anchored()
    snapshot = genuine_snapshot(world).with_jwks_from(world.issuer.trust_export())
    assert cc.Verifier(trust=snapshot).verify(cred).verdict is Verdict.VALID
    elsewhere = dataclasses.replace(snapshot, registry="0x" + "11" * 20)
    result = cc.Verifier(trust=elsewhere).verify(cred)
    assert result.verdict is Verdict.INVALID
    assert codes(result)["anchor"] == "receipt_mismatch"


def test_a_snapshot_dated_in_the_future_is_refused(world: World) -> None:
    cred = world.issue_anchored()
    export = world.issuer.trust_export()
    future = dataclasses.replace(export, generated_at=int(time.time()) + 30 * 86400)
    result = cc.Verifier(trust=future).verify(cred)
    assert result.verdict is Verdict.INDETERMINATE
    assert codes(result)["issuer"] == "trust_snapshot_future"
    # a clock difference within the policy's skew is no reason to refuse it
    near = dataclasses.replace(export, generated_at=int(time.time()) + 60)
    assert cc.Verifier(trust=near).verify(cred).verdict is Verdict.VALID


def test_a_credential_issued_before_the_key_went_on_chain_is_valid_once_anchored(tmp_path: Path) -> None:
    """init, issue, then (an hour later) chain up + register, anchor, verify online: VALID."""
    offset = [3600.0]
    issuer = cc.Issuer.init(tmp_path / "early", municipality_code="122076", municipality_name="松戸市",
                            passphrase=PASSPHRASE, clock=lambda: time.time() - offset[0])
    try:
        assert issuer.config.key_created_at is not None
        assert abs(issuer.config.key_created_at - (time.time() - 3600)) < 60
        cred = issuer.issue(cc.load_record(cc.sample_record_path("household-matsudo.json")))
        offset[0] = 0.0  # an hour later the city goes on chain
        chain = cc.connect("embedded")
        registry = cc.Registry.deploy(chain, cc.dev_account(chain))
        assert issuer.account is not None
        cc.fund_dev_account(chain, issuer.account.address)
        issuer.use_chain(chain, registry.address)
        issuer.register_on_chain(registry)
        issuer.anchor()
        cred = issuer.with_receipts(cred)
        online = cc.Verifier(trust=snapshot_from_registry(registry.trust_snapshot()),
                             registry=cc.OnlineRegistry.of(chain, registry.address))
        result = online.verify(cred)
        assert result.verdict is Verdict.VALID, codes(result)
        # the registry records the key's real start of use (key_created_at), so offline it verifies too
        info = registry.key(122076, issuer.key.thumbprint)
        assert info is not None
        assert info.valid_from == issuer.config.key_created_at
        unanchored = cc.Verifier(trust=snapshot_from_registry(registry.trust_snapshot())
                                 .with_jwks_from(issuer.trust_export()))
        assert codes(unanchored.verify(cred))["issuer"] == "ok"
    finally:
        issuer.close()


@pytest.mark.parametrize(
    ("code", "name", "reason"),
    [
        ("122173", "松戸市", ReasonCode.MUNICIPALITY_NAME_MISMATCH),  # 122173 is 柏市
        ("122076", "松戸", ReasonCode.MUNICIPALITY_NAME_MISMATCH),
        ("999997", "見本市", ReasonCode.MUNICIPALITY_CODE_INVALID),  # valid check digit, no such municipality
        ("122076", "松戸市\u202e", ReasonCode.TEXT_CONTROL_CHAR),
        ("122076", "", ReasonCode.TEXT_EMPTY),
        ("122076", "市" * 65, ReasonCode.FIELD_INVALID),
    ],
)
def test_init_accepts_only_the_official_name_for_a_code(tmp_path: Path, code: str, name: str,
                                                       reason: ReasonCode) -> None:
    with pytest.raises(cc.RecordError) as info:
        cc.Issuer.init(tmp_path / "home", municipality_code=code, municipality_name=name, passphrase=PASSPHRASE)
    assert info.value.code is reason
    assert not (tmp_path / "home").exists()


def test_a_credential_naming_another_city_for_its_code_is_invalid(world: World) -> None:
    """A home made before the list existed (or edited by hand) signs 柏市 for 松戸市's code: INVALID."""
    genuine = world.issue_anchored()
    assert world.online_verifier().verify(genuine).issuer["name"] == "松戸市"
    world.issuer.config = dataclasses.replace(world.issuer.config, municipality_name="柏市")
    record = dataclasses.replace(world.household(), municipality=Municipality("122076", "柏市"))
    result = world.online_verifier().verify(world.issue_anchored(record))
    assert result.verdict is Verdict.INVALID
    assert codes(result)["issuer"] == "municipality_name_mismatch"
    with pytest.raises(cc.RecordError) as info:  # nor can such a home register on chain
        world.issuer.register_on_chain(world.registry)
    assert info.value.code is ReasonCode.MUNICIPALITY_NAME_MISMATCH
