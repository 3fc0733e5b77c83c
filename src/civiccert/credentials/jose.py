"""Compact JWS (RFC 7515): signing under a ``Signer``, and verifying with a caller-pinned algorithm allow-list.

Verification checks size first, then encoding, then header rules, then the signature, and raises
``CredentialError`` with a reason code; nothing here does I/O or fetches keys (``jku``, ``x5u``,
``jwk`` and ``x5c`` header members are never used to select a key). Low-level: use Issuer/Verifier.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeAlias

from civiccert._frozen import frozen_builder
from civiccert.credentials.b64url import _b64url_bytes, b64url_decode, b64url_encode
from civiccert.credentials.signatures import (
    SUPPORTED_ALGORITHMS,
    PublicKey,
    Signer,
    _verify_signature,
    signature_sha256,
)
from civiccert.credentials.strictjson import DEFAULT_MAX_SIZE, json_loads, json_text
from civiccert.errors import CredentialError, ReasonCode

try:  # copies a cached header in one C call (see _header); orjson is a declared dependency
    import orjson as _orjson
except ImportError:  # pragma: no cover
    _orjson = None  # type: ignore[assignment]

__all__ = [
    "DeferredSignature",
    "KeyResolver",
    "VerifiedJws",
    "check_deferred",
    "check_pin",
    "encoded_header",
    "encoded_header_of",
    "sign_compact",
    "sign_encoded",
    "sign_encoded_sha256",
    "verify_compact",
    "verify_parts",
]


@dataclass(frozen=True)
class VerifiedJws:
    """A compact JWS whose signature verified: protected header, payload bytes, the signing input and its
    SHA-256 (for an SD-JWT, the credential hash: computed once, for the signature and the caller)."""

    header: dict[str, Any]
    payload: bytes
    signing_input: bytes
    signing_input_sha256: bytes = b""


_verified_jws = frozen_builder(VerifiedJws)  # no per-field setattr: made once per verified JWS

#: A signature check ``verify_parts`` left to its caller: (alg, key, signing input, its SHA-256, signature).
DeferredSignature: TypeAlias = tuple[str, PublicKey, bytes, bytes, bytes]


def check_deferred(check: DeferredSignature) -> bool:
    """Whether a signature ``verify_parts`` deferred verifies (False: its result was never valid)."""
    return _verify_signature(*check)


#: resolve_key(header, unverified payload bytes) -> public key; may raise CredentialError(KEY_UNKNOWN).
KeyResolver: TypeAlias = Callable[[dict[str, Any], bytes], PublicKey]


@lru_cache(maxsize=256)
def _encoded_header(header_json: str) -> str:
    return b64url_encode(header_json.encode("utf-8"))


def sign_compact(header: Mapping[str, Any], payload: bytes, signer: Signer, *, include_kid: bool = True) -> str:
    """Compact JWS over ``payload``; ``alg`` (and ``kid``) come from the signer, the rest from ``header``."""
    return sign_encoded(encoded_header(header, signer, include_kid=include_kid), payload, signer)[0].decode("ascii")


def encoded_header(header: Mapping[str, Any], signer: Signer, *, include_kid: bool = True) -> str:
    """The base64url protected header ``sign_compact`` signs under: ``alg`` (and ``kid``) from the signer, then
    ``header``'s members. A batch under one header encodes it once and signs each item with ``sign_encoded``."""
    return encoded_header_of(signer.alg, signer.kid if include_kid else None, header)


def encoded_header_of(alg: str, kid: str | None, header: Mapping[str, Any]) -> str:
    """``encoded_header`` for a signer of ``alg`` and ``kid`` (None: no ``kid`` member)."""
    if alg not in SUPPORTED_ALGORITHMS:
        raise ValueError("signer algorithm not supported")
    if "alg" in header or "kid" in header:
        raise ValueError("alg and kid are taken from the signer")
    full = {"alg": alg, "kid": kid, **header} if kid is not None else {"alg": alg, **header}
    return _encoded_header(json_text(full))


def sign_encoded(header: str, payload: bytes, signer: Signer) -> tuple[bytes, bytes]:
    """``(compact JWS, signing input)`` over ``payload`` under ``header`` as :func:`encoded_header` made it for
    this ``signer`` (the signing input is what ``sdjwt.credential_hash`` hashes: no second pass over the JWS)."""
    signing_input = header.encode("ascii") + b"." + _b64url_bytes(payload)
    return signing_input + b"." + _b64url_bytes(signer.sign(signing_input)), signing_input


def sign_encoded_sha256(header: str, payload: bytes, signer: Signer) -> tuple[bytes, bytes]:
    """``(compact JWS, SHA-256 of its signing input)``: :func:`sign_encoded` hashing the input once."""
    signing_input = header.encode("ascii") + b"." + _b64url_bytes(payload)
    signature, digest = signature_sha256(signer, signing_input)
    return signing_input + b"." + _b64url_bytes(signature), digest


def _check_header(header: dict[str, Any], algorithms: Collection[str], expected_typ: str | None) -> str:
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise CredentialError(ReasonCode.MALFORMED, "header alg missing", field="header.alg")
    if alg not in algorithms or alg not in SUPPORTED_ALGORITHMS:
        raise CredentialError(ReasonCode.ALG_NOT_ALLOWED, "alg not in the allow-list", field="header.alg")
    if "crit" in header:
        # We implement no JWS extension, so any critical member is one we do not understand.
        raise CredentialError(ReasonCode.CRIT_UNSUPPORTED, "critical header extension", field="header.crit")
    if "b64" in header:
        raise CredentialError(ReasonCode.CRIT_UNSUPPORTED, "unencoded payload option", field="header.b64")
    if "kid" in header and not isinstance(header["kid"], str):
        raise CredentialError(ReasonCode.MALFORMED, "kid is not a string", field="header.kid")
    if expected_typ is not None and header.get("typ") != expected_typ:
        raise CredentialError(ReasonCode.TYP_INVALID, "unexpected typ", field="header.typ")
    return alg


def _parse_header(text: str, max_size: int) -> dict[str, Any]:
    return json_loads(b64url_decode(text, field="header"), field="header", max_size=max_size)


_CACHED_HEADER_CHARS = 1024  # an issuer's header ({alg, kid, typ}) repeats across its credentials; x5c ones are long


@lru_cache(maxsize=64)
def _cached_header(text: str, max_size: int) -> tuple[dict[str, Any], bool, bytes | None]:
    """The parsed header (never handed out: callers get copies), whether all its values are scalars, and its
    orjson serialisation, from which a fresh copy is one C call (only successes are cached: errors raise)."""
    header = _parse_header(text, max_size)
    scalars = {type(value) for value in header.values()} <= _SCALARS
    serialised = None
    if not scalars and _orjson is not None:
        try:
            serialised = _orjson.dumps(header)
        except TypeError:  # an integer beyond 64 bits: copied member by member instead
            serialised = None
        if serialised is not None and _orjson.loads(serialised) != header:
            serialised = None
    return header, scalars, serialised


_SCALARS = frozenset({str, int, bool, type(None)})


def _copy_json(value: Any) -> Any:
    """A copy of a parsed JSON value in which no dict or list is shared with the original."""
    kind = type(value)
    if kind is dict:
        return {name: _copy_json(member) for name, member in value.items()}
    if kind is list:
        return [_copy_json(member) for member in value]
    return value


def _header(text: str, max_size: int) -> dict[str, Any]:
    """The parsed protected header, a new dict each time (a caller may keep or change it); the containers in
    it (``jwk``) are new too, so that no caller can change what another one reads. An issuer's header repeats
    across its credentials: parsed and checked once, copied after (far cheaper than base64 + strict JSON)."""
    header, scalars, serialised = _cached_header(text, max_size)
    if scalars:
        return dict(header)
    if serialised is not None and _orjson is not None:
        copy: dict[str, Any] = _orjson.loads(serialised)
        return copy
    return _copy_json(header)  # type: ignore[no-any-return]


_ALLOWED_PINS: set[Any] = set()


def check_pin(algorithms: Collection[str]) -> None:
    """Raise ValueError unless ``algorithms`` is a non-empty subset of SUPPORTED_ALGORITHMS."""
    if type(algorithms) is not tuple or algorithms not in _ALLOWED_PINS:
        if not algorithms or not set(algorithms) <= SUPPORTED_ALGORITHMS:
            raise ValueError("algorithms must be a non-empty subset of SUPPORTED_ALGORITHMS")
        if type(algorithms) is tuple and len(_ALLOWED_PINS) < 64:
            _ALLOWED_PINS.add(algorithms)  # an immutable pin already checked: a set lookup next time


def verify_compact(
    token: str,
    *,
    algorithms: Collection[str],
    resolve_key: KeyResolver,
    expected_typ: str | None = None,
    max_size: int = DEFAULT_MAX_SIZE,
) -> VerifiedJws:
    """Verify a compact JWS: size, encoding, header rules, then the signature under the resolved key.

    ``algorithms`` is the caller's pin; ``none`` and HS* are never accepted whatever it says. The key
    comes only from ``resolve_key`` (by ``kid`` / issuer), never from the header.
    """
    check_pin(algorithms)
    if not isinstance(token, str):
        raise TypeError("token must be str")
    if len(token) > max_size:
        raise CredentialError(ReasonCode.INPUT_TOO_LARGE, "JWS exceeds the size cap")
    parts = token.split(".")
    if len(parts) != 3:
        raise CredentialError(ReasonCode.MALFORMED, "not a compact JWS (three parts)")
    return verify_parts(parts[0], parts[1], parts[2], None, algorithms=algorithms, resolve_key=resolve_key,
                        expected_typ=expected_typ, max_size=max_size)


def verify_parts(
    header_text: str,
    payload_text: str,
    signature_text: str,
    signing_input: bytes | None,
    *,
    algorithms: Collection[str],
    resolve_key: KeyResolver,
    expected_typ: str | None,
    max_size: int,
    decoded: tuple[bytes, bytes, bytes] | None = None,
    deferred: list[DeferredSignature] | None = None,
) -> VerifiedJws:
    """:func:`verify_compact` of a JWS already split into its three parts, for a caller that has checked what
    verify_compact checks before splitting (the pin, the size). ``signing_input`` is ``header_text + "." +
    payload_text`` as ASCII bytes when the caller has it (None: made here); ``decoded`` is ``(b64url_decode(
    payload_text), b64url_decode(signature_text), SHA-256 of signing_input)`` when the caller has them
    (the compiled SD-JWT split: both texts then decode, so no decoding error is skipped). With ``deferred``
    the signature is not checked here but appended to it, and the result is unverified until
    :func:`check_deferred` of that entry says True (a bulk verifier checks its items' signatures one after
    another, while the curve code is in cache, and verifies again in place whatever fails)."""
    if len(header_text) <= _CACHED_HEADER_CHARS:
        header = _header(header_text, max_size)
    else:
        header = _parse_header(header_text, max_size)
    alg = _check_header(header, algorithms, expected_typ)
    if decoded is None:
        payload = b64url_decode(payload_text, field="payload")
        signature = b64url_decode(signature_text, field="signature")
        digest = None
    else:
        payload, signature, digest = decoded
    public_key = resolve_key(header, payload)
    if signing_input is None:
        signing_input = (header_text + "." + payload_text).encode("ascii")
    if digest is None:
        digest = hashlib.sha256(signing_input).digest()
    if deferred is not None:
        deferred.append((alg, public_key, signing_input, digest, signature))
    elif not _verify_signature(alg, public_key, signing_input, digest, signature):
        raise CredentialError(ReasonCode.SIGNATURE_INVALID, "signature does not verify", field="signature")
    return _verified_jws(header=header, payload=payload, signing_input=signing_input, signing_input_sha256=digest)
