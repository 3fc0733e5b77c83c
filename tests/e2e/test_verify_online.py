"""The verifier against a real registry (embedded EVM): every check, and the chain attack cases."""

from __future__ import annotations

import dataclasses
import json
import time
from functools import partial
from pathlib import Path

import pytest

import civiccert as cc
from civiccert import CheckName, Outcome, ReasonCode, Verdict

from worldkit import World, make_world


def codes(result: cc.VerificationResult) -> dict[str, str]:
    return {c.name.value: c.code.value for c in result.checks}


def test_anchored_credential_is_valid_with_every_check_passed(world: World) -> None:
    cred = world.issue_anchored()
    result = world.online_verifier().verify(cred)
    assert result.verdict is Verdict.VALID, result.to_dict()["checks"]
    passed = {c.name for c in result.checks if c.outcome is Outcome.PASSED}
    assert passed == set(CheckName) - {CheckName.HOLDER_BINDING, CheckName.PAGE, CheckName.PDF_SIGNATURE}  # no paper
    assert result.issuer["code"] == "122076"
    assert result.anchor["block"] >= 1


def test_presentation_shows_only_the_chosen_claims_and_keeps_the_anchor(world: World) -> None:
    cred = world.issue_anchored()
    shown = cc.present(cred, ["members[0].name", "household.address"])
    result = world.online_verifier().verify(shown)
    assert result.verdict is Verdict.VALID
    assert result.form == "presentation"
    members = result.claims["members"]
    assert len(members) == 1
    assert set(members[0]) == {"name"}
    assert set(result.claims["household"]) == {"address"}


def test_credential_without_receipt_is_indeterminate_never_valid(world: World) -> None:
    cred = world.issuer.issue(world.household())  # journaled, not anchored yet
    result = world.online_verifier().verify(cred)
    assert result.verdict is Verdict.INDETERMINATE
    assert codes(result)["anchor"] == "receipt_missing"


def test_revoked_credential_is_invalid_and_its_paper_twin_too(world: World, tmp_path: Path) -> None:
    cred = world.issue_anchored()
    world.issuer.revoke(cred, cc.RevocationReason.ISSUED_IN_ERROR)
    verifier = world.online_verifier()
    assert codes(verifier.verify(cred))["revocation"] == "revoked"
    from civiccert.paper.payload import qr_text

    assert cred.paper_cose is not None
    paper = verifier.verify(qr_text(cred.paper_cose, cred.paper_receipt))
    assert paper.form == "paper"
    assert paper.verdict is Verdict.INVALID
    assert codes(paper)["revocation"] == "revoked"


def test_receipt_for_another_registry_or_chain_is_rejected(world: World) -> None:
    cred = world.issue_anchored()
    assert cred.receipt is not None
    for change in ({"registry": "0x" + "11" * 20}, {"chain_id": 1}):
        forged = dataclasses.replace(cred, receipt={**cred.receipt, **change})
        result = world.online_verifier().verify(forged)
        assert result.verdict is Verdict.INVALID
        assert codes(result)["anchor"] == "receipt_mismatch"


def test_proof_for_another_leaf_is_rejected(world: World) -> None:
    first = world.issuer.issue(world.household())
    second = world.issuer.issue(world.seal())
    world.issuer.anchor()
    first, second = world.issuer.with_receipts(first), world.issuer.with_receipts(second)
    swapped = dataclasses.replace(first, receipt=second.receipt)
    result = world.online_verifier().verify(swapped)
    assert result.verdict is Verdict.INVALID
    assert codes(result)["anchor"] == "proof_invalid"


def test_root_anchored_only_by_another_municipality_is_not_anchored(world: World, tmp_path: Path) -> None:
    other = make_world(tmp_path, code="011002", name="札幌市", chain=world.chain, registry=world.registry)
    try:
        cred = world.issuer.issue(world.household())
        from civiccert.credentials import sdjwt

        our_hash = sdjwt.credential_hash(cred.sd_jwt)
        tree = cc.MerkleTree([our_hash])
        assert other.issuer.registry is not None
        other.issuer.registry.anchor(tree.root, 1)  # 札幌市 anchors a root holding 松戸市's credential
        receipt = {"v": 1, "chain_id": world.chain.chain_id, "registry": world.registry.address,
                   "root": "0x" + tree.root.hex(), "index": 0, "size": 1, "proof": [], "tx": None, "block": 0}
        result = world.online_verifier().verify(dataclasses.replace(cred, receipt=receipt))
        assert result.verdict is Verdict.INVALID
        assert codes(result)["anchor"] == "not_anchored"  # anchors are per municipality: not in 松戸市's
    finally:
        other.issuer.close()


def test_key_revoked_before_issuance_invalidates_later_credentials(world: World) -> None:
    cred = world.issue_anchored()
    assert world.issuer.registry is not None
    info = world.issuer.registry.key(122076, world.issuer.key.thumbprint)
    assert info is not None
    world.issuer.registry.revoke_key(world.issuer.key.thumbprint, info.valid_from)  # compromised from the start
    result = world.online_verifier().verify(cred)
    assert result.verdict is Verdict.INVALID
    assert codes(result)["issuer"] == "key_revoked_before_issue"


def test_key_registered_after_issuance_is_rejected(tmp_path: Path) -> None:
    chain = cc.connect("embedded")
    registry = cc.Registry.deploy(chain, cc.dev_account(chain))
    issuer = cc.Issuer.init(tmp_path / "late", municipality_code="122076", municipality_name="松戸市",
                            passphrase=b"late-key-passphrase")
    try:
        assert issuer.account is not None
        cc.fund_dev_account(chain, issuer.account.address)
        issuer.use_chain(chain, registry.address)
        registry.register_municipality(122076, issuer.account.address)
        cred = issuer.issue(cc.load_record(cc.sample_record_path("household-matsudo.json")))
        issuer.anchor()
        cred = issuer.with_receipts(cred)
        # the key only becomes valid an hour after the credential was anchored
        issuer.register_on_chain(registry, valid_from=int(chain.w3.eth.get_block("latest")["timestamp"]) + 3600)
        verifier = cc.Verifier(trust=issuer.trust_export(), registry=cc.OnlineRegistry.of(chain, registry.address))
        result = verifier.verify(cred)
        assert result.verdict is Verdict.INVALID
        assert codes(result)["issuer"] == "key_not_yet_valid"
    finally:
        issuer.close()


def test_suspended_municipality_is_rejected(world: World) -> None:
    cred = world.issue_anchored()
    world.registry.suspend(122076)
    result = world.online_verifier().verify(cred)
    assert result.verdict is Verdict.INVALID
    assert codes(result)["issuer"] == "municipality_suspended"


def test_node_down_gives_indeterminate_never_invalid(world: World) -> None:
    cred = world.issue_anchored()
    down = cc.OnlineRegistry.lazy(lambda: cc.connect("http://127.0.0.1:9", timeout=1), world.registry.address)
    result = cc.Verifier(trust=world.issuer.trust_export(), registry=down).verify(cred)
    assert result.verdict is Verdict.INDETERMINATE
    assert codes(result)["anchor"] == "chain_unreachable"


def test_offline_with_trust_export_is_valid_and_says_what_it_skipped(world: World) -> None:
    cred = world.issue_anchored()
    result = world.offline_verifier().verify(cred)
    assert result.verdict is Verdict.VALID
    assert result.check(CheckName.ANCHOR).outcome is Outcome.SKIPPED  # type: ignore[union-attr]


def test_stale_snapshot_gives_indeterminate(world: World) -> None:
    cred = world.issue_anchored()
    later = cc.Verifier(trust=world.issuer.trust_export(), policy=cc.Policy(max_trust_age_seconds=60),
                        clock=lambda: __import__("time").time() + 3600)
    result = later.verify(cred)
    assert result.verdict is Verdict.INDETERMINATE
    assert codes(result)["issuer"] == "trust_snapshot_stale"


def test_expired_credential_is_invalid(world: World) -> None:
    cred = world.issue_anchored()
    future = cc.Verifier(trust=world.issuer.trust_export(), clock=lambda: __import__("time").time() + 400 * 86400,
                         policy=cc.Policy(max_trust_age_seconds=10**9))
    assert codes(future.verify(cred))["validity"] == "expired"


def test_unknown_issuer_offline_is_indeterminate_and_online_invalid(world: World, tmp_path: Path) -> None:
    stranger = cc.Issuer.init(tmp_path / "stranger", municipality_code="122076", municipality_name="松戸市",
                              passphrase=b"stranger-passphrase")
    try:
        forged = stranger.issue(world.household())
        offline = world.offline_verifier().verify(forged)
        assert offline.verdict is Verdict.INDETERMINATE
        online = world.online_verifier().verify(forged)
        assert online.verdict is Verdict.INVALID
        assert codes(online)["issuer"] == "key_unknown"  # self-consistent signature, but nobody's key
    finally:
        stranger.close()


def test_holder_binding_policy(world: World) -> None:
    holder = cc.IssuerKey.generate()
    cred = world.issuer.issue(world.household(), holder_jwk=holder.public_jwk())
    world.issuer.anchor()
    cred = world.issuer.with_receipts(cred)
    policy = {"require_holder_binding": True, "aud": "https://bank.example", "nonce": "n-123"}
    bare = world.online_verifier(**policy).verify(cc.present(cred, ["members[0].name"]))
    assert codes(bare)["holder_binding"] == "holder_binding_missing"
    bound = cc.present(cred, ["members[0].name"], holder_key=holder, aud="https://bank.example", nonce="n-123")
    assert world.online_verifier(**policy).verify(bound).verdict is Verdict.VALID
    replay = cc.present(cred, ["members[0].name"], holder_key=holder, aud="https://bank.example", nonce="old")
    assert codes(world.online_verifier(**policy).verify(replay))["holder_binding"] == "holder_binding_failed"


def test_garbage_input_never_echoes_what_it_was_given(world: World) -> None:
    secret = "見本太郎の個人番号123456789018"
    for text in (secret, "{" + json.dumps(secret) + "}", "CC1:" + secret, "eyJ" + secret + "~"):
        result = world.online_verifier().verify(text)
        assert result.verdict is Verdict.INVALID
        assert secret not in json.dumps(result.to_dict(), ensure_ascii=False)


def test_bulk_verification_matches_single_verification(world: World) -> None:
    creds = [world.issuer.issue(world.household()) for _ in range(5)]
    world.issuer.anchor()
    creds = [world.issuer.with_receipts(c) for c in creds]
    world.issuer.revoke(creds[2])
    results = world.online_verifier().verify_many(creds)
    assert [r.verdict for r in results] == [Verdict.VALID, Verdict.VALID, Verdict.INVALID, Verdict.VALID,
                                            Verdict.VALID]
    assert results[2].reasons == [ReasonCode.REVOKED]


def test_revocation_with_reason_zero_still_counts(world: World) -> None:
    cred = world.issue_anchored()
    from civiccert.credentials import sdjwt

    digital = sdjwt.credential_hash(cred.sd_jwt)
    assert world.issuer.registry is not None
    world.issuer.registry.revoke([digital], 0)  # a raw client call; the Issuer itself never uses 0
    assert codes(world.online_verifier().verify(cred))["revocation"] == "revoked"


def test_a_registered_key_signing_another_credential_type_is_refused(world: World) -> None:
    from civiccert.credentials import sdjwt

    foreign = sdjwt.issue({"iss": "urn:civiccert:lg:122076", "iat": 1, "exp": 2**40, "vct": "urn:example:loyalty-card",
                           "municipality": {"code": "122076", "name": "松戸市"}}, world.issuer.key,
                          header={"jwk": world.issuer.key.public_jwk()})
    result = world.online_verifier().verify(foreign)
    assert result.verdict is Verdict.INVALID
    assert codes(result)["format"] == "vct_unknown"


def test_anchor_details_come_from_the_chain_not_from_the_receipt(world: World) -> None:
    cred = world.issue_anchored()
    assert cred.receipt is not None
    genuine = world.online_verifier().verify(cred)
    forged = dataclasses.replace(cred, receipt={**cred.receipt, "tx": "0x" + "ee" * 32, "block": 99_999})
    shown = world.online_verifier().verify(forged)
    assert shown.verdict is Verdict.VALID  # the receipt's tx and block are hints, never trusted
    assert genuine.anchor["tx"] == cred.receipt["tx"]
    assert shown.anchor["tx"] is None  # the chain does not confirm the forged hash: not shown
    assert shown.anchor["block"] == genuine.anchor["block"] == cred.receipt["block"]


@pytest.mark.anvil
def test_another_municipality_registering_our_key_first_does_not_affect_us(chain: cc.Chain, tmp_path: Path) -> None:
    """Squatting: 札幌市 registers 松戸市's public key (it is public) before 松戸市 does; keys are per municipality."""
    registry = cc.Registry.deploy(chain, cc.dev_account(chain))
    issuer = cc.Issuer.init(tmp_path / "matsudo", municipality_code="122076", municipality_name="松戸市",
                            passphrase=b"squatted-key-passphrase")
    try:
        squatter = cc.dev_account(chain)
        registry.register_municipality(11002, squatter.address)
        cc.Registry(chain, registry.address, squatter).register_key(issuer.key.thumbprint, int(time.time()) - 60,
                                                                    public_jwk=issuer.key.public_jwk())
        assert issuer.account is not None
        cc.fund_dev_account(chain, issuer.account.address)
        issuer.use_chain(chain, registry.address)
        issuer.register_on_chain(registry)  # no RegistryKeyAlreadyRegistered
        assert registry.key(122076, issuer.key.thumbprint) is not None
        cred = issuer.issue(cc.load_record(cc.sample_record_path("household-matsudo.json")))
        issuer.anchor()
        cred = issuer.with_receipts(cred)
        from civiccert.paper.payload import qr_text

        assert cred.paper_cose is not None
        paper = qr_text(cred.paper_cose, cred.paper_receipt)  # no JWK inside: read from 松戸市's KeyRegistered log
        online = partial(cc.OnlineRegistry.of, chain, registry.address)
        for verifier in (cc.Verifier(registry=online()), cc.Verifier(trust=issuer.trust_export(), registry=online())):
            results = [verifier.verify(cred), verifier.verify(paper), *verifier.verify_many([cred, paper])]
            assert [r.verdict for r in results] == [Verdict.VALID] * 4, [codes(r) for r in results]
            assert {codes(r)["issuer"] for r in results} == {"ok"}
    finally:
        issuer.close()
