"""The registry as a transparency log: a verifier with trust anchors accepts a city's key only when the registry
lists it AND an x5c chain certifies it for that city AND the registry records that very leaf (docs/trust.md)."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from eth_account.signers.local import LocalAccount

import civiccert as cc
from civiccert.verification.trust import snapshot_from_registry
from conftest import PASSPHRASE, Certified

DAY = 24 * 3600


def issuer_check(result: cc.VerificationResult) -> tuple[cc.Outcome, cc.ReasonCode]:
    check = next(c for c in result.checks if c.name is cc.CheckName.ISSUER)
    return check.outcome, check.code


def der_hash(cert: object) -> bytes:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest()  # type: ignore[attr-defined]


@pytest.fixture
def chain() -> cc.Chain:
    return cc.connect("embedded")


def city_registry(chain: cc.Chain) -> tuple[cc.Registry, cc.Registry, LocalAccount]:
    """(admin client, 松戸市's operator client, operator account) on a fresh registry."""
    admin = cc.Registry.deploy(chain, cc.dev_account(chain))
    operator = cc.dev_account(chain)
    admin.register_municipality(122076, operator.address)
    return admin, cc.Registry(chain, admin.address, account=operator), operator


def test_rogue_admin_key_is_refused_by_a_verifier_with_trust_anchors(
        certified: Certified, household: cc.ResidentRecord, chain: cc.Chain) -> None:
    """The admin registers 122076 for an operator of its own and a key nobody certified: the registry lists it,
    a registry-only verifier would accept it, a verifier with trust anchors does not."""
    admin, rogue, _ = city_registry(chain)
    key = certified.issuer.key  # the home has no chain installed: its key is uncertified
    rogue.register_key(key.thumbprint, int(time.time()) - 3600, public_jwk=key.public_jwk())
    cred = certified.issuer.issue(household)
    online = cc.OnlineRegistry.of(chain, admin.address)
    trusting = cc.Verifier(registry=online).verify(cred)
    assert issuer_check(trusting) == (cc.Outcome.PASSED, cc.ReasonCode.OK)  # the registry alone is no defence
    result = certified.verifier(registry=online).verify(cred)
    assert result.verdict is cc.Verdict.INVALID
    assert issuer_check(result) == (cc.Outcome.FAILED, cc.ReasonCode.CERT_REQUIRED)
    snapshot = snapshot_from_registry(admin.trust_snapshot())  # offline, the same
    offline = certified.verifier(trust=snapshot).verify(cred)
    assert issuer_check(offline) == (cc.Outcome.FAILED, cc.ReasonCode.CERT_REQUIRED)


def test_certificate_not_recorded_for_the_key_is_invalid(
        certified: Certified, household: cc.ResidentRecord, chain: cc.Chain) -> None:
    """The city recorded leaf A for its key; a credential carrying leaf B (same key, same CA: e.g. mis-issued to
    someone who obtained the key) is INVALID online and against a registry snapshot; leaf A verifies."""
    admin, city, _ = city_registry(chain)
    recorded = certified.leaf()
    key = certified.issuer.key
    city.register_key(key.thumbprint, int(time.time()) - 3600, public_jwk=key.public_jwk(),
                      cert_hash=der_hash(recorded))
    online = cc.OnlineRegistry.of(chain, admin.address)
    genuine = certified.issuer.issue(household)
    assert issuer_check(certified.verifier(registry=online).verify(genuine)) == (cc.Outcome.PASSED, cc.ReasonCode.OK)
    snapshot_data = admin.trust_snapshot()
    [entry] = snapshot_data["municipalities"][0]["keys"]
    assert entry["certificates"] == ["0x" + der_hash(recorded).hex()]
    snapshot = snapshot_from_registry(snapshot_data)
    offline = certified.verifier(trust=snapshot).verify(genuine)
    assert offline.verdict is cc.Verdict.VALID, offline.to_dict()

    other_leaf = certified.leaf()  # a second leaf for the same key, never recorded on chain
    assert der_hash(other_leaf) != der_hash(recorded)
    forged = certified.issuer.issue(household)
    for verifier in (certified.verifier(registry=online), certified.verifier(trust=snapshot)):
        result = verifier.verify(forged)
        assert result.verdict is cc.Verdict.INVALID
        assert issuer_check(result) == (cc.Outcome.FAILED, cc.ReasonCode.CERT_NOT_RECORDED)
    city.record_certificate(key.thumbprint, der_hash(other_leaf))  # the city logs the renewal: accepted
    fresh = cc.OnlineRegistry.of(chain, admin.address)
    assert issuer_check(certified.verifier(registry=fresh).verify(forged)) == (cc.Outcome.PASSED, cc.ReasonCode.OK)


def test_issue_before_register_verifies_offline_against_a_registry_snapshot(
        tmp_path: Path, household: cc.ResidentRecord, chain: cc.Chain) -> None:
    """A city issues for ten days, then goes on chain registering the key's real start: the earlier credential
    verifies offline against a snapshot taken after the registration (no anchor needed)."""
    started = time.time() - 10 * DAY
    issuer = cc.Issuer.init(tmp_path / "early", municipality_code="122076", municipality_name="松戸市",
                            passphrase=PASSPHRASE)
    issuer.close()
    early = cc.Issuer.open(tmp_path / "early", passphrase=PASSPHRASE, clock=lambda: started)
    try:
        cred = early.issue(household)
    finally:
        early.close()
    issuer = cc.Issuer.open(tmp_path / "early", passphrase=PASSPHRASE)
    try:
        admin = cc.Registry.deploy(chain, cc.dev_account(chain))
        assert issuer.account is not None
        cc.fund_dev_account(chain, issuer.account.address)
        issuer.use_chain(chain, admin.address)
        admin.register_municipality(122076, issuer.account.address)
        issuer.register_key(valid_from=int(started) - 60)  # the key's real start of use
        info = admin.key(122076, issuer.key.thumbprint)
        assert info is not None
        assert info.valid_from == int(started) - 60  # not raised to the registration block
        snapshot = snapshot_from_registry(admin.trust_snapshot())
        result = cc.Verifier(trust=snapshot).verify(cred)
        assert result.verdict is cc.Verdict.VALID, result.to_dict()
        assert issuer_check(result) == (cc.Outcome.PASSED, cc.ReasonCode.OK)
    finally:
        issuer.close()
