"""The verify-side memos (issue 15) keep every answer: a cached header is never shared, a key remembered as
P-256 is still refused for the wrong algorithm or curve, and a bulk run gives the garbage collector back."""

from __future__ import annotations

import gc
import json

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
