"""A credential signed under a certified key verifies with nothing but the root, and each bad chain fails with
its own reason code (expired, other CA, other city, revoked, key usage, broken chain, self-signed, registry)."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

import civiccert as cc
from civiccert.credentials import sdjwt
from civiccert.credentials.b64url import b64url_decode
from civiccert.credentials.strictjson import json_parse
from civiccert.pki import leaf_subject
from civiccert.pki.hierarchy import SIGNING_KEY_USAGE
from civiccert.pki.home import install_chain, issuer_url
from conftest import PASSPHRASE, Certified, force_chain

ISSUER = cc.CheckName.ISSUER
HOUR = 3600


def issuer_check(result: cc.VerificationResult) -> tuple[cc.Outcome, cc.ReasonCode]:
    check = result.check(ISSUER)
    assert check is not None
    return check.outcome, check.code


def test_valid_with_only_the_root_and_header_carries_x5c(certified: Certified,
                                                         household: cc.ResidentRecord) -> None:
    certified.leaf()
    cred = certified.issuer.issue(household)
    header = json_parse(b64url_decode(cred.sd_jwt.split(".")[0], field="header"), field="header")
    assert sdjwt.unverified_payload(cred.sd_jwt)["iss"] == "https://122076.civiccert.example"
    assert len(header["x5c"]) == 2
    assert "jwk" not in header
    result = certified.verifier(crl=True).verify(cred)
    assert result.verdict is cc.Verdict.VALID, result.to_dict()
    assert issuer_check(result) == (cc.Outcome.PASSED, cc.ReasonCode.OK)


def test_without_anchors_the_x5c_key_alone_is_not_trusted(certified: Certified, household: cc.ResidentRecord
                                                          ) -> None:
    certified.leaf()
    result = cc.Verifier().verify(certified.issuer.issue(household))
    assert result.verdict is cc.Verdict.INDETERMINATE


def test_trust_file_listing_the_key_and_chain_agree(certified: Certified, household: cc.ResidentRecord) -> None:
    certified.leaf()
    cred = certified.issuer.issue(household)
    signed = cc.TrustSnapshot.parse(certified.issuer.signed_trust_export())  # anchors need a signed export
    result = certified.verifier(trust=signed).verify(cred)
    assert result.verdict is cc.Verdict.VALID, result.to_dict()
    # and a verifier with the trust file only (no anchors) still verifies it: x5c is an additional path
    assert cc.Verifier(trust=certified.issuer.trust_export()).verify(cred).verdict is cc.Verdict.VALID


def test_expired_leaf(certified: Certified, household: cc.ResidentRecord, now: dt.datetime) -> None:
    certified.leaf(not_before=now - dt.timedelta(days=10), days=1)
    result = certified.verifier().verify(certified.issuer.issue(household))
    assert result.verdict is cc.Verdict.INVALID
    assert issuer_check(result) == (cc.Outcome.FAILED, cc.ReasonCode.CERT_EXPIRED)


def test_leaf_from_another_ca(certified: Certified, household: cc.ResidentRecord, tmp_path: Path) -> None:
    other = cc.TestCA.create(tmp_path / "other-ca")
    leaf = other.issue_leaf(certified.issuer.key.public_key, code="122076", name="松戸市",
                            issuer_url="https://122076.civiccert.example")
    certified.install([leaf, other.intermediate])
    result = certified.verifier().verify(certified.issuer.issue(household))
    assert issuer_check(result) == (cc.Outcome.FAILED, cc.ReasonCode.CERT_CHAIN_INVALID)


def test_leaf_for_another_city(certified: Certified, household: cc.ResidentRecord, tmp_path: Path) -> None:
    """千代田区's home signs under a leaf that certifies its key as 松戸市's: the claim and the certificate differ."""
    home = tmp_path / "chiyoda"
    chiyoda = cc.Issuer.init(home, municipality_code="131016", municipality_name="千代田区", passphrase=PASSPHRASE)
    leaf = certified.ca.issue_leaf(chiyoda.key.public_key, code="122076", name="松戸市",
                                   issuer_url="https://131016.civiccert.example")
    force_chain(home, [leaf, certified.ca.intermediate])
    chiyoda.close()
    chiyoda = cc.Issuer.open(home, passphrase=PASSPHRASE)
    record = replace(household, municipality=replace(household.municipality, code="131016", name="千代田区"))
    result = certified.verifier().verify(chiyoda.issue(record))
    chiyoda.close()
    assert issuer_check(result) == (cc.Outcome.FAILED, cc.ReasonCode.CERT_WRONG_MUNICIPALITY)


def test_revoked_before_issuance(certified: Certified, household: cc.ResidentRecord, now: dt.datetime) -> None:
    leaf = certified.leaf(not_before=now - dt.timedelta(days=1))
    certified.ca.revoke(leaf, at=now - dt.timedelta(minutes=1), reason=x509.ReasonFlags.superseded)
    cred = certified.issuer.issue(household)
    result = certified.verifier(crl=True).verify(cred)
    assert issuer_check(result) == (cc.Outcome.FAILED, cc.ReasonCode.CERT_REVOKED)
    # without the CRL the verifier cannot know: the chain itself is fine
    assert certified.verifier().verify(cred).verdict is cc.Verdict.VALID


@pytest.mark.parametrize(("reason", "verdict"), [
    (x509.ReasonFlags.superseded, cc.Verdict.VALID),  # a rotated key: earlier credentials stay valid
    (x509.ReasonFlags.key_compromise, cc.Verdict.INDETERMINATE),  # a forger writes any iat: needs an anchor
])
def test_revoked_after_issuance(certified: Certified, household: cc.ResidentRecord, now: dt.datetime,
                                reason: x509.ReasonFlags, verdict: cc.Verdict) -> None:
    leaf = certified.leaf(not_before=now - dt.timedelta(days=1))
    certified.reopen(clock=lambda: time.time() - HOUR)  # issued an hour ago
    cred = certified.issuer.issue(household)
    certified.ca.revoke(leaf, at=now - dt.timedelta(minutes=1), reason=reason)
    result = certified.verifier(crl=True).verify(cred)
    assert result.verdict is verdict, result.to_dict()
    if verdict is cc.Verdict.INDETERMINATE:
        assert issuer_check(result) == (cc.Outcome.UNKNOWN, cc.ReasonCode.ISSUANCE_TIME_UNVERIFIED)


def test_wrong_key_usage(certified: Certified, household: cc.ResidentRecord) -> None:
    usage = x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=True,
                          data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                          encipher_only=False, decipher_only=False)
    certified.leaf(key_usage=usage)
    result = certified.verifier().verify(certified.issuer.issue(household))
    assert issuer_check(result) == (cc.Outcome.FAILED, cc.ReasonCode.CERT_KEY_USAGE)


def test_broken_chain_without_the_intermediate(certified: Certified, household: cc.ResidentRecord) -> None:
    leaf = certified.ca.issue_leaf(certified.issuer.key.public_key, code="122076", name="松戸市",
                                   issuer_url="https://122076.civiccert.example")
    certified.install([leaf])
    result = certified.verifier().verify(certified.issuer.issue(household))
    assert issuer_check(result) == (cc.Outcome.FAILED, cc.ReasonCode.CERT_CHAIN_INVALID)


def test_self_signed_leaf(certified: Certified, household: cc.ResidentRecord, now: dt.datetime) -> None:
    private = serialization.load_pem_private_key(certified.issuer.config.key_path(certified.home).read_bytes(),
                                                 PASSPHRASE)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    subject = leaf_subject("122076", "松戸市")
    leaf = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(private.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(SIGNING_KEY_USAGE, critical=True).sign(private, hashes.SHA256()))
    certified.force_chain([leaf, certified.ca.intermediate])  # x5c = [self-signed leaf, intermediate]
    result = certified.verifier().verify(certified.issuer.issue(household))
    assert issuer_check(result) == (cc.Outcome.FAILED, cc.ReasonCode.CERT_CHAIN_INVALID)


def test_x5c_that_contradicts_the_trust_file(certified: Certified, household: cc.ResidentRecord,
                                             tmp_path: Path) -> None:
    """松戸市's published keys do not include the certified key: the certificate does not override the city."""
    genuine = cc.Issuer.init(tmp_path / "genuine", municipality_code="122076", municipality_name="松戸市",
                             passphrase=PASSPHRASE)
    install_chain(genuine.home, [certified.ca.issue_leaf(genuine.key.public_key, code="122076", name="松戸市",
                                                         issuer_url=issuer_url(genuine.config)),
                                 certified.ca.intermediate])
    genuine.close()
    genuine = cc.Issuer.open(tmp_path / "genuine", passphrase=PASSPHRASE)
    published = cc.TrustSnapshot.parse(genuine.signed_trust_export())
    genuine.close()
    certified.leaf()
    result = certified.verifier(trust=published).verify(certified.issuer.issue(household))
    assert issuer_check(result) == (cc.Outcome.FAILED, cc.ReasonCode.CERT_REGISTRY_CONFLICT)


def test_x5c_that_contradicts_the_registry(certified: Certified, household: cc.ResidentRecord) -> None:
    """Online: the registry's namespace for 松戸市 holds another key than the certified one."""
    chain = cc.connect("embedded")
    registry = cc.Registry.deploy(chain, cc.dev_account(chain))
    other = cc.IssuerKey.generate()
    operator = cc.dev_account(chain)
    registry.register_municipality(122076, operator.address)
    cc.Registry(chain, registry.address, account=operator).register_key(
        other.thumbprint, int(time.time()) - HOUR, public_jwk=other.public_jwk())
    certified.leaf()
    cred = certified.issuer.issue(household)
    online = cc.OnlineRegistry.of(chain, registry.address)
    result = certified.verifier(registry=online).verify(cred)
    assert issuer_check(result) == (cc.Outcome.FAILED, cc.ReasonCode.CERT_REGISTRY_CONFLICT)


def test_paper_twin_names_its_certificate_and_verifies(certified: Certified, household: cc.ResidentRecord) -> None:
    """The QR carries an 8-byte certificate kid; the certificate comes from the published trust file."""
    from civiccert.paper import payload as paper_payload

    certified.leaf()
    cred = certified.issuer.issue(household)
    assert cred.paper_cose is not None
    text = paper_payload.qr_text(cred.paper_cose)
    signed = cc.TrustSnapshot.parse(certified.issuer.signed_trust_export())
    result = certified.verifier(trust=signed, crl=True).verify(text)
    assert result.verdict is cc.Verdict.VALID, result.to_dict()
    assert result.form == "paper"
    # the certificate kid is unknown to a verifier that has no published certificate for it
    assert cc.Verifier().verify(text).verdict is cc.Verdict.INDETERMINATE


def test_issuer_metadata_lists_the_certified_key(certified: Certified) -> None:
    from civiccert.pki.home import issuer_metadata

    certified.leaf()
    document = issuer_metadata(certified.home)
    assert document["issuer"] == "https://122076.civiccert.example"
    [jwk] = document["jwks"]["keys"]
    assert jwk["kid"] == certified.issuer.key.kid
    assert len(jwk["x5c"]) == 2
