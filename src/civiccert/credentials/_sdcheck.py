"""The verifier's time-window and key-binding checks (RFC 9901 section 7.3)."""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from civiccert.credentials._sdcore import KB_JWT_TYP, _digest
from civiccert.credentials.jose import verify_compact
from civiccert.credentials.keys import public_key_from_jwk
from civiccert.credentials.signatures import PublicKey
from civiccert.credentials.strictjson import json_loads
from civiccert.errors import CredentialError, ReasonCode


def _numeric_date(payload: Mapping[str, Any], name: str, field: str) -> float | None:
    value = payload.get(name)
    if value is None and name not in payload:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CredentialError(ReasonCode.MALFORMED, "not a NumericDate", field=field)
    return float(value)


def _check_validity(payload: Mapping[str, Any], now: float, skew: float) -> None:
    exp = _numeric_date(payload, "exp", "exp")
    if exp is not None and now - skew >= exp:
        raise CredentialError(ReasonCode.EXPIRED, "credential has expired", field="exp")
    nbf = _numeric_date(payload, "nbf", "nbf")
    if nbf is not None and now + skew < nbf:
        raise CredentialError(ReasonCode.NOT_YET_VALID, "credential is not yet valid", field="nbf")
    iat = _numeric_date(payload, "iat", "iat")
    if iat is not None and now + skew < iat:
        raise CredentialError(ReasonCode.NOT_YET_VALID, "credential issued in the future", field="iat")


def _binding_failed(message: str, field: str) -> CredentialError:
    return CredentialError(ReasonCode.HOLDER_BINDING_FAILED, message, field=field)


def _holder_key(jwk: dict[str, Any]) -> PublicKey:
    """``public_key_from_jwk``, remembered for a JWK of strings: a holder presents again and again, and
    building a key from its coordinates checks the point (as costly as a good part of one ECDSA verify)."""
    items = tuple(jwk.items())
    if all(type(value) is str for _, value in items):
        return _holder_key_of(items)
    return public_key_from_jwk(jwk)


@lru_cache(maxsize=256)
def _holder_key_of(items: tuple[tuple[str, str], ...]) -> PublicKey:
    return public_key_from_jwk(dict(items))  # only keys that parse are remembered: errors raise each time


def _verify_key_binding(
    kb_jwt: str,
    presented: str,
    payload: Mapping[str, Any],
    *,
    algorithms: Iterable[str],
    aud: str | None,
    nonce: str | None,
    now: float,
    skew: float,
    max_size: int,
    kb_max_age: float | None = None,
) -> dict[str, Any]:
    cnf = payload.get("cnf")
    jwk = cnf.get("jwk") if isinstance(cnf, dict) else None
    if not isinstance(jwk, dict):
        raise _binding_failed("credential has no holder key (cnf.jwk)", "cnf.jwk")
    try:
        holder_key = _holder_key(jwk)
    except CredentialError:
        raise _binding_failed("holder key in cnf.jwk is unusable", "cnf.jwk") from None
    try:
        jws = verify_compact(
            kb_jwt,
            algorithms=tuple(algorithms),
            resolve_key=lambda _header, _payload: holder_key,
            expected_typ=KB_JWT_TYP,
            max_size=max_size,
        )
        claims = json_loads(jws.payload, field="kb_jwt.payload", max_size=max_size)
    except CredentialError as exc:
        raise _binding_failed(f"key-binding JWT rejected ({exc.code.value})", f"kb_jwt.{exc.field or 'jws'}") from None
    sd_hash = claims.get("sd_hash")
    if not isinstance(sd_hash, str) or not hmac.compare_digest(sd_hash, _digest(presented)):
        raise _binding_failed("sd_hash does not match the presentation", "kb_jwt.sd_hash")
    for name, expected in (("aud", aud), ("nonce", nonce)):
        value = claims.get(name)
        if not isinstance(value, str):
            raise _binding_failed(f"KB-JWT {name} missing", f"kb_jwt.{name}")
        if expected is not None and not hmac.compare_digest(value.encode(), expected.encode()):
            raise _binding_failed(f"KB-JWT {name} does not match", f"kb_jwt.{name}")
    iat = claims.get("iat")
    if isinstance(iat, bool) or not isinstance(iat, int | float):
        raise _binding_failed("KB-JWT iat missing", "kb_jwt.iat")
    if iat > now + skew:
        raise _binding_failed("KB-JWT issued in the future", "kb_jwt.iat")
    if kb_max_age is not None and iat < now - kb_max_age - skew:
        raise _binding_failed("KB-JWT is older than the verifier accepts", "kb_jwt.iat")
    return claims
