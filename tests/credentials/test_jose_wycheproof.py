"""Wycheproof replay through jose.verify_compact and signatures.verify_signature (tests/vectors/wycheproof).

Deliberate differences from Wycheproof's ``result`` are listed in tests/vectors/wycheproof/PROVENANCE.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from civiccert.credentials.b64url import b64url_decode
from civiccert.credentials.jose import verify_compact
from civiccert.credentials.keys import public_key_from_jwk, verify_signature
from civiccert.errors import CredentialError, ReasonCode

WYCHEPROOF = Path(__file__).resolve().parents[1] / "vectors" / "wycheproof"
# base64 group: the cases whose three segments are canonical unpadded base64url (the others are not).
CANONICAL_BASE64 = {357, 358, 359, 367, 370, 376, 377}
OURS = {"ES256", "EdDSA"}


def _load(name: str) -> dict[str, Any]:
    return json.loads((WYCHEPROOF / name).read_text())


def _jws_cases() -> list[Any]:
    out = []
    for group in _load("json_web_signature_test.json")["testGroups"]:
        for test in group["tests"]:
            out.append(pytest.param(group, test, id=f"tcId{test['tcId']}-{group['comment']}"))
    return out


@pytest.mark.parametrize(("group", "test"), _jws_cases())
def test_json_web_signature(group: dict[str, Any], test: dict[str, Any]) -> None:
    public = group.get("public")

    def resolve(_header: dict[str, Any], _payload: bytes) -> Any:
        if public is None:
            raise CredentialError(ReasonCode.KEY_UNKNOWN, "no public key")
        return public_key_from_jwk(public)

    token = test["jws"]
    ours = public is not None and public.get("alg") in OURS and public.get("use", "sig") == "sig"
    if not isinstance(token, str):  # JSON serialization: not a format we accept
        with pytest.raises(TypeError):
            verify_compact(token, algorithms=("ES256", "EdDSA"), resolve_key=resolve)
        return
    if ours and test["result"] == "valid":
        verify_compact(token, algorithms=("ES256", "EdDSA"), resolve_key=resolve)
        return
    with pytest.raises(CredentialError) as exc:
        verify_compact(token, algorithms=("ES256", "EdDSA"), resolve_key=resolve)
    if not ours and test["result"] == "valid":
        # Valid under HS*/RS*/PS*/ES384+: refused by policy, never by accident.
        assert exc.value.code in (ReasonCode.ALG_NOT_ALLOWED, ReasonCode.BASE64URL_INVALID)


def _base64_cases() -> list[Any]:
    for group in _load("json_web_signature_test.json")["testGroups"]:
        if group["comment"] == "base64":
            return [pytest.param(t, id=f"tcId{t['tcId']}") for t in group["tests"]]
    raise AssertionError("no base64 group")


def _decode_all(segments: list[str]) -> None:
    for segment in segments:
        b64url_decode(segment)


@pytest.mark.parametrize("test", _base64_cases())
def test_base64_group_segments_are_decoded_strictly(test: dict[str, Any]) -> None:
    """Only canonical unpadded base64url decodes: a '?' inserted (372, 373, marked valid) is refused."""
    segments = test["jws"].split(".")
    if test["tcId"] in CANONICAL_BASE64:
        for segment in segments:
            b64url_decode(segment)
    else:
        with pytest.raises(CredentialError) as exc:
            _decode_all(segments)
        assert exc.value.code is ReasonCode.BASE64URL_INVALID


def _signature_cases(name: str) -> list[Any]:
    out = []
    for group in _load(name)["testGroups"]:
        for test in group["tests"]:
            out.append(pytest.param(group["publicKey"], test, id=f"tcId{test['tcId']}"))
    return out


@pytest.mark.parametrize(("public", "test"), _signature_cases("ecdsa_secp256r1_sha256_p1363_test.json"))
def test_ecdsa_p256_p1363(public: dict[str, Any], test: dict[str, Any]) -> None:
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), bytes.fromhex(public["uncompressed"]))
    ok = verify_signature("ES256", key, bytes.fromhex(test["msg"]), bytes.fromhex(test["sig"]))
    if test["result"] != "acceptable":
        assert ok is (test["result"] == "valid")


@pytest.mark.parametrize(("public", "test"), _signature_cases("ed25519_test.json"))
def test_ed25519(public: dict[str, Any], test: dict[str, Any]) -> None:
    key = ed25519.Ed25519PublicKey.from_public_bytes(bytes.fromhex(public["pk"]))
    ok = verify_signature("EdDSA", key, bytes.fromhex(test["msg"]), bytes.fromhex(test["sig"]))
    if test["result"] != "acceptable":
        assert ok is (test["result"] == "valid")


def test_es256_refuses_der_and_wrong_key_type() -> None:
    group = next(g for g in _load("json_web_signature_test.json")["testGroups"] if g["comment"] == "es256")
    key = public_key_from_jwk(group["public"])
    valid = next(t for t in group["tests"] if t["result"] == "valid")["jws"]
    head, payload, sig = valid.split(".")
    raw = b64url_decode(sig)
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    data = f"{head}.{payload}".encode()
    assert verify_signature("ES256", key, data, raw)
    assert not verify_signature("ES256", key, data, der)
    assert not verify_signature("EdDSA", key, data, raw)
    assert not verify_signature("HS256", key, data, raw)
