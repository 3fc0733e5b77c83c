"""The verify-side memos (issue 15) keep every answer: a cached header is never shared, a key remembered as
P-256 is still refused for the wrong algorithm or curve, and a bulk run gives the garbage collector back."""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

import civiccert as cc
from civiccert.credentials import jose
from civiccert.credentials.b64url import b64url_decode, b64url_encode
from civiccert.credentials.keys import IssuerKey
from civiccert.credentials.signatures import verify_signature
from civiccert.errors import CredentialError, ReasonCode


def _token(key: IssuerKey, header: dict[str, object]) -> str:
    return jose.sign_compact(header, b'{"iss":"x"}', key)


def test_cached_header_with_a_jwk_is_never_shared() -> None:
    key = IssuerKey.generate()
    token = _token(key, {"typ": "t", "jwk": key.public_jwk(), "x": [1, {"y": 2}]})
    public = key.public_key
    first = jose.verify_compact(token, algorithms=("ES256",), resolve_key=lambda h, p: public)
    first.header["jwk"]["x"] = "changed"
    first.header["x"][1]["y"] = 3
    second = jose.verify_compact(token, algorithms=("ES256",), resolve_key=lambda h, p: public)
    assert second.header["jwk"] == key.public_jwk()
    assert second.header["x"] == [1, {"y": 2}]
    assert second.header is not first.header
    assert second.header["jwk"] is not first.header["jwk"]


def test_a_bad_header_is_refused_every_time() -> None:
    key = IssuerKey.generate()
    text = b64url_encode(json.dumps({"alg": "ES256", "kid": key.kid, "crit": ["b64"]}).encode())
    token = text + "." + b64url_encode(b"{}") + "." + b64url_encode(b"\0" * 64)
    for _ in range(2):
        with pytest.raises(CredentialError) as info:
            jose.verify_compact(token, algorithms=("ES256",), resolve_key=lambda h, p: key.public_key)
        assert info.value.code is ReasonCode.CRIT_UNSUPPORTED


def test_remembered_p256_key_does_not_vouch_for_other_keys() -> None:
    key = IssuerKey.generate()
    good = _token(key, {"typ": "t"})
    public = key.public_key
    jose.verify_compact(good, algorithms=("ES256",), resolve_key=lambda h, p: public)  # remembered now
    data, signature = good.rsplit(".", 1)
    raw = b64url_decode(signature)
    assert verify_signature("ES256", public, data.encode(), raw)
    assert not verify_signature("EdDSA", public, data.encode(), raw)
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    assert not verify_signature("ES256", p384, data.encode(), raw)
    assert not verify_signature("ES256", ed25519.Ed25519PrivateKey.generate().public_key(), data.encode(), raw)


def test_algorithm_pin_still_checked() -> None:
    key = IssuerKey.generate()
    token = _token(key, {"typ": "t"})
    for pin in ((), ("ES256", "HS256"), ["none"]):
        with pytest.raises(ValueError, match="algorithms"):
            jose.verify_compact(token, algorithms=pin, resolve_key=lambda h, p: key.public_key)


@pytest.mark.parametrize("enabled", [True, False])
def test_bulk_verification_restores_the_collector(enabled: bool) -> None:
    items = ["not a credential"] * 40  # rejected inputs: exceptions and tracebacks, collected afterwards
    was = gc.isenabled()
    try:
        if not enabled:
            gc.disable()
        results = cc.Verifier().verify_many(items)
        assert {r.verdict for r in results} == {cc.Verdict.INVALID}
        assert gc.isenabled() is enabled
        with pytest.raises(ValueError, match="zip"):  # a failure inside the bulk run gives the collector back too
            cc.Verifier().verify_many(items, sources=[None])
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


def _bad_signature(sd_jwt: str) -> str:
    """The SD-JWT with its issuer signature's first character changed (still canonical base64url)."""
    jwt, rest = sd_jwt.split("~", 1)
    head, signature = jwt.rsplit(".", 1)
    return f"{head}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}~{rest}"


def test_bulk_run_checks_signatures_last_with_the_same_verdicts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    """verify_many checks the issuer signatures after the other local checks (sdjwt.verify ``deferred``) and
    verifies again in place whatever fails: every result equals the one-by-one result, and a bad signature is
    SIGNATURE_INVALID even where a later check would also fail."""
    issuer = cc.Issuer.init(tmp_path / "home", municipality_code="122076", municipality_name="松戸市",
                            passphrase=b"test-passphrase-1")
    record = cc.load_record(cc.sample_record_path("household-matsudo.json"))
    creds = list(issuer.issue_many([record] * 3, paper=False))
    shown = cc.present(creds[0], ["members[0].name"])
    jwt, first, *rest = creds[1].sd_jwt.split("~")
    duplicated = "~".join([jwt, first, first, *rest])  # DISCLOSURE_DUPLICATE once the signature passes
    items: list[Any] = [
        creds[0], shown, _bad_signature(shown.sd_jwt), creds[2], _bad_signature(creds[2].sd_jwt), duplicated,
        _bad_signature(duplicated), "not a credential", shown.sd_jwt.replace(".", ".x", 1), creds[1],
    ]
    verifier = cc.Verifier(trust=issuer.trust_export())
    bulk = [r.to_dict() for r in verifier.verify_many(items * 2)]
    monkeypatch.setattr(cc.Verifier, "_local_many", lambda self, its, srcs: [
        self._local(item, source) for item, source in zip(its, srcs, strict=True)])
    one_by_one = [r.to_dict() for r in verifier.verify_many(items * 2)]
    assert bulk == one_by_one
    reasons = [result["reasons"] for result in bulk[:len(items)]]
    assert reasons[0] == reasons[1] == reasons[3] == reasons[9] == []
    for index in (2, 4, 6):  # then the checks after the signature are "not reached"
        assert reasons[index][0] == ReasonCode.SIGNATURE_INVALID.value
        assert ReasonCode.DISCLOSURE_DUPLICATE.value not in reasons[index]
    assert ReasonCode.DISCLOSURE_DUPLICATE.value in reasons[5]
    assert ReasonCode.SIGNATURE_INVALID.value not in reasons[5]
    issuer.close()
