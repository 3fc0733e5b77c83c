"""Independent verifiers trust a certified civiccert credential through its x5c chain alone: polaris-oid4vp
(OpenID4VP/HAIP, given nothing but the root certificate), @sd-jwt (key taken from x5c by Node's own X.509),
and cwt (the paper twin's COSE signature under the leaf's public key)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

import civiccert as cc
from civiccert.credentials.b64url import b64url_decode
from civiccert.paper import payload as paper_payload
from civiccert.pki import cert_kid
from civiccert.status.publish import list_name
from conftest import Certified

ROOT = Path(__file__).resolve().parents[2]
AUD, NONCE = "https://bank.example", "n-7f3a"


def _presentation(certified: Certified, household: cc.ResidentRecord) -> tuple[str, cc.CredentialFile]:
    holder = cc.IssuerKey.generate()
    certified.leaf()
    cred = certified.issuer.issue(household, holder_jwk=holder.public_jwk())
    shown = cc.present(cred, ["household.address"], holder_key=holder, aud=AUD, nonce=NONCE)
    return shown.sd_jwt, cred


def test_polaris_verifies_with_only_the_root(certified: Certified, household: cc.ResidentRecord) -> None:
    sdjwt_mod = pytest.importorskip("polaris_oid4vp.sdjwt")
    presentation, _ = _presentation(certified, household)
    verdict = sdjwt_mod.verify_presentation(presentation, expected_nonce=NONCE, expected_audience=AUD,
                                            trust_anchors=[certified.ca.root])
    assert verdict.authentic, (verdict.code, verdict.reason)
    assert verdict.iss_bound is True  # the leaf's URI name is the credential's iss
    assert verdict.claims["household"]["address"] == "千葉県松戸市見本町一丁目2番3号"
    assert verdict.claims["municipality"]["code"] == "122076"
    # and a root that did not certify the city is refused
    other = cc.TestCA.create(certified.home.parent / "other-ca")
    refused = sdjwt_mod.verify_presentation(presentation, expected_nonce=NONCE, expected_audience=AUD,
                                            trust_anchors=[other.root])
    assert not refused.authentic
    assert refused.code == "issuer_key"


@pytest.mark.node
@pytest.mark.skipif(shutil.which("node") is None or not (ROOT / "node_modules" / "@sd-jwt" / "sd-jwt-vc").is_dir(),
                    reason="needs node and node_modules/@sd-jwt (run scripts/setup)")
def test_sd_jwt_js_verifies_with_the_x5c_key(certified: Certified, household: cc.ResidentRecord) -> None:
    presentation, cred = _presentation(certified, household)
    issuer = certified.issuer

    def node_verify(credential: str) -> dict[str, Any]:
        publication, _ = issuer.publish_status(certified.home.parent / "published", anchor=False)
        lists = {uri: publication.files[list_name(uri)].decode() for uri in [issuer.status_list_uri]}
        done = subprocess.run(["node", str(ROOT / "tests" / "interop" / "sdjwt_x5c.mjs")],
                              input=json.dumps({"credential": credential, "presentation": presentation,
                                                "nonce": NONCE, "statusLists": lists}),
                              capture_output=True, text=True, timeout=60, check=True, cwd=ROOT)
        out: dict[str, Any] = json.loads(done.stdout)
        return out

    out = node_verify(cred.sd_jwt)
    assert out["credential"]["ok"], out
    assert out["presentation"]["ok"], out
    assert out["subject"].startswith("C=JP") or "122076" in out["subject"]
    # a tampered signature is refused by the same code path (the test can fail)
    head, body, sig = cred.sd_jwt.split("~")[0].split(".")
    forged = ".".join([head, body, ("A" if sig[0] != "A" else "B") + sig[1:]]) + "~"
    assert not node_verify(forged)["credential"]["ok"]
    # and the status list the city publishes is read by @sd-jwt too: once revoked, it refuses the credential
    issuer.suspend(cred)
    suspended = node_verify(cred.sd_jwt)
    assert not suspended["credential"]["ok"]
    assert "status" in suspended["credential"]["error"].lower()


def test_cwt_verifies_the_paper_twin_with_the_leafs_key(certified: Certified, household: cc.ResidentRecord
                                                       ) -> None:
    cwt = pytest.importorskip("cwt")
    from cryptography.hazmat.primitives import serialization

    leaf = certified.leaf()
    cred = certified.issuer.issue(household)
    assert cred.paper_cose is not None
    decoded = paper_payload.decode_qr_text(paper_payload.qr_text(cred.paper_cose))
    assert len(b64url_decode(decoded.kid)) == 8  # EU DCC: first 8 bytes of SHA-256(leaf DER)
    assert b64url_decode(decoded.kid) == cert_kid(leaf)
    pem = leaf.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    key = cwt.COSEKey.from_pem(pem, alg="ES256", kid=b64url_decode(decoded.kid))
    claims = cwt.decode(cred.paper_cose, keys=[key], no_verify=False)
    assert claims[1] == "https://122076.civiccert.example"
    other = cwt.COSEKey.from_pem(cc.IssuerKey.generate().public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo), alg="ES256",
        kid=b64url_decode(decoded.kid))
    with pytest.raises(cwt.VerifyError):
        cwt.decode(cred.paper_cose, keys=[other])
