"""Replay the sd-jwt-python test cases and the SD-JWT VC examples (tests/vectors/*/PROVENANCE.md).

Each compact case runs twice, as STYLE.md asks: the presentation as the reference tool made it, and our
own ``present(..., ["*"])`` of its issuance (with our KB-JWT where the case uses key binding). Their salts
are fixed (random_seed 0), so we also rebuild every digest from the disclosure's parts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from civiccert.credentials import sdjwt
from civiccert.credentials.b64url import b64url_decode, b64url_encode, sha256_b64url
from civiccert.credentials.keys import IssuerKey, public_key_from_jwk
from civiccert.errors import CredentialError, ReasonCode

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
SUITES = ("sd-jwt-python-testcases", "sd-jwt-vc-examples")
# Not replayed (see PROVENANCE.md): JSON serialization is not a format we read.
NOT_REPLAYED = {"json_serialization_flattened", "json_serialization_general"}
# Replayed, and rejected on purpose: "kid": 42 is not a string.
REJECTED = {"header_mod": ReasonCode.MALFORMED}
# The KB-JWTs were made on 2026-11-26; the credentials expire in 2029.
NOW = 1795668944


def _cases() -> list[Any]:
    out = []
    for suite in SUITES:
        for case in sorted(p for p in (VECTORS / suite).iterdir() if (p / "specification.yml").exists()):
            if case.name not in NOT_REPLAYED:
                out.append(pytest.param(case, id=f"{suite}/{case.name}"))
    return out


def _settings(case: Path) -> dict[str, Any]:
    return json.loads((case.parent / "settings.json").read_text())


def _read(case: Path, name: str) -> Any:
    text = (case / name).read_text()
    return json.loads(text) if name.endswith(".json") else text.strip()


def _issuer_resolver(case: Path) -> sdjwt.IssuerKeyResolver:
    key = public_key_from_jwk({k: v for k, v in _settings(case)["key_settings"]["issuer_key"].items() if k != "d"})
    return lambda _header, _payload: key


def _holder_key(case: Path) -> IssuerKey:
    d = b64url_decode(_settings(case)["key_settings"]["holder_key"]["d"])
    return IssuerKey(ec.derive_private_key(int.from_bytes(d, "big"), ec.SECP256R1()))


def _typ(case: Path) -> str:
    header = json.loads(b64url_decode(_read(case, "sd_jwt_issuance.txt").split(".")[0]))
    return str(header["typ"])


def _verify(case: Path, token: str) -> sdjwt.VerifiedSdJwt:
    settings = _settings(case)
    return sdjwt.verify(
        token,
        resolve_key=_issuer_resolver(case),
        expected_typ=_typ(case),
        aud=settings["identifiers"]["verifier"],
        nonce=settings["key_binding_nonce"],
        now=NOW,
    )


def test_the_replayed_set_is_the_documented_one() -> None:
    names = {p.name for suite in SUITES for p in (VECTORS / suite).iterdir() if (p / "specification.yml").exists()}
    assert len(names) == 20
    assert names >= NOT_REPLAYED
    assert set(REJECTED) <= names


@pytest.mark.parametrize("case", _cases())
def test_reference_presentation_verifies_to_the_expected_claims(case: Path) -> None:
    presentation = _read(case, "sd_jwt_presentation.txt")
    if case.name in REJECTED:
        with pytest.raises(CredentialError) as exc:
            _verify(case, presentation)
        assert exc.value.code is REJECTED[case.name]
        return
    result = _verify(case, presentation)
    assert result.claims == _read(case, "verified_contents.json")
    assert result.payload == _read(case, "sd_jwt_payload.json")
    assert (result.key_binding is not None) == (case / "kb_jwt_payload.json").exists()
    if result.key_binding is not None:
        assert result.key_binding == _read(case, "kb_jwt_payload.json")


@pytest.mark.parametrize("case", _cases())
def test_disclose_all_with_our_present_gives_the_user_claims(case: Path) -> None:
    issuance = _read(case, "sd_jwt_issuance.txt")
    if case.name in REJECTED:
        with pytest.raises(CredentialError) as exc:
            _verify(case, sdjwt.present(issuance, ["*"]))
        assert exc.value.code is REJECTED[case.name]
        return
    spec = _read(case, "case.json")
    settings = _settings(case)
    holder = _holder_key(case) if spec.get("key_binding") else None
    presentation = sdjwt.present(
        issuance,
        ["*"],
        holder_key=holder,
        aud=settings["identifiers"]["verifier"],
        nonce=settings["key_binding_nonce"],
        now=NOW,
    )
    assert presentation.startswith(issuance)  # every disclosure kept, in order
    result = _verify(case, presentation)
    payload = _read(case, "sd_jwt_payload.json")
    expected = dict(_read(case, "user_claims.json"))
    for name in ("iss", "iat", "exp", "nbf", "cnf"):
        if name in payload:
            expected[name] = payload[name]
    assert result.claims == expected
    assert (result.key_binding is not None) == bool(holder)


def _payload_digests(obj: Any, found: list[str]) -> None:
    if isinstance(obj, dict):
        found.extend(obj.get("_sd", []))
        if set(obj) == {"..."}:
            found.append(obj["..."])
        for value in obj.values():
            _payload_digests(value, found)
    elif isinstance(obj, list):
        for value in obj:
            _payload_digests(value, found)


@pytest.mark.parametrize("case", _cases())
def test_digests_are_rebuilt_from_salt_name_and_value(case: Path) -> None:
    issuance = _read(case, "sd_jwt_issuance.txt")
    digests: list[str] = []
    _payload_digests(_read(case, "sd_jwt_payload.json"), digests)
    disclosures = issuance.split("~")[1:-1]
    for disclosure in disclosures:  # digests of nested disclosures live inside disclosed values
        _payload_digests(json.loads(b64url_decode(disclosure))[-1], digests)
    for disclosure in disclosures:
        parts = json.loads(b64url_decode(disclosure))
        # The reference tool serialises with Python's default separators and ASCII escapes.
        rebuilt = b64url_encode(json.dumps(parts).encode("ascii"))
        assert rebuilt == disclosure
        assert sha256_b64url(rebuilt.encode("ascii")) in digests
