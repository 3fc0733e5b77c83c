"""Low-level JOSE pieces; use Issuer/Verifier.

Strict base64url, strict JSON and compact JWS with a caller-pinned algorithm allow-list. Everything
that reads untrusted bytes checks its size first, then its encoding, then its structure, and raises
``CredentialError`` with a reason code; nothing here does I/O or fetches keys (``jku``, ``x5u``,
``jwk`` and ``x5c`` header members are never used to select a key).
"""

from __future__ import annotations

import binascii
import hashlib
import json
import math
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate, repeat
from typing import Any, Protocol, TypeAlias

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature

from civiccert._frozen import frozen_builder
from civiccert.credentials._native import jsonscan as _jsonscan
from civiccert.errors import CredentialError, ReasonCode

try:  # a fast exact reader: used only where its result provably equals the strict parser's (see _canonical)
    import orjson as _orjson
except ImportError:  # pragma: no cover - orjson is a declared dependency; the stdlib path is complete alone
    _orjson = None  # type: ignore[assignment]

__all__ = [
    "DEFAULT_MAX_SIZE",
    "SUPPORTED_ALGORITHMS",
    "PublicKey",
    "Signer",
    "SigningKey",
    "VerifiedJws",
    "b64url_decode",
    "b64url_encode",
    "b64url_json_many",
    "check_deferred",
    "check_pin",
    "encoded_header",
    "encoded_header_of",
    "json_dumps",
    "json_loads",
    "json_parse",
    "json_text",
    "sha256_b64url",
    "sign_compact",
    "sign_encoded",
    "verify_compact",
    "verify_parts",
    "verify_signature",
]

#: Default cap for one compact credential / JWS, checked before any decoding (256 KiB).
DEFAULT_MAX_SIZE = 256 * 1024

#: Algorithms this library can verify at all; callers pin a subset per use.
SUPPORTED_ALGORITHMS = frozenset({"ES256", "EdDSA"})

PublicKey: TypeAlias = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey

_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
_ECDSA_PREHASHED = ec.ECDSA(Prehashed(hashes.SHA256()))
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


class Signer(Protocol):
    """Anything that signs JWS or COSE input (``IssuerKey`` is one). ``sign`` returns the raw signature
    JOSE and COSE carry: r||s, 32 bytes each, for ES256 (never DER); 64 bytes for EdDSA."""

    @property
    def alg(self) -> str: ...

    @property
    def kid(self) -> str: ...  # RFC 7638 thumbprint of the public key, base64url without padding

    def sign(self, data: bytes) -> bytes: ...


class SigningKey(Signer, Protocol):
    """A ``Signer`` whose public half is known: all an ``Issuer`` needs from its key.

    ``IssuerKey`` (a key file) and ``Pkcs11Signer`` (a key on a token) are two; a cloud KMS would be a
    third without touching the issuer. The private half is reachable only through ``sign``.
    """

    @property
    def public_key(self) -> PublicKey: ...

    @property
    def thumbprint(self) -> bytes: ...  # the 32 bytes ``kid`` encodes (how the registry names the key)

    def public_jwk(self) -> dict[str, str]: ...  # bare JWK plus kid, alg, use; never private members


# --- base64url ---------------------------------------------------------------------------------------


_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")
_B64URL_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _strict_table(keep: bytes) -> bytes:
    """A ``bytes.translate`` table from base64url (plus ``keep``) to standard base64 in which every
    other byte becomes ``!``: one C pass both converts and marks what a2b_base64 would silently skip."""
    table = bytearray(b"!" * 256)
    for byte in _B64URL_BYTES + keep:
        table[byte] = byte
    table[ord("-")], table[ord("_")] = ord("+"), ord("/")
    return bytes(table)


_STRICT = _strict_table(b"")
_STRICT_TILDE = _strict_table(b"~")
# The last character of a 2- or 3-character tail may only use the bits that carry data.
_PADDING = (b"", b"", b"==", b"=")
_PADDING_TEXT = ("", "", "==", "=")
_CANONICAL_LAST = {2: frozenset("AQgw"), 3: frozenset("AEIMQUYcgkosw048")}


try:  # SIMD base64 (a declared dependency): an issued payload's few KiB in ~1 µs instead of ~10
    from pybase64 import b64decode as _simd_b64decode
    from pybase64 import b64encode as _simd_b64encode
except ImportError:  # pragma: no cover
    _simd_b64decode = None  # type: ignore[assignment]
    _simd_b64encode = None  # type: ignore[assignment]

_SIMD_FROM = 512  # shorter inputs (digests, signatures, headers) are as fast through binascii


def b64url_encode(data: bytes) -> str:
    """Unpadded base64url (RFC 7515 §2)."""
    if _simd_b64encode is not None and len(data) >= _SIMD_FROM:
        return _simd_b64encode(data, altchars=b"-_").rstrip(b"=").decode("ascii")
    return binascii.b2a_base64(data, newline=False).rstrip(b"=").translate(_TO_URLSAFE).decode("ascii")


def b64url_decode(text: str, *, field: str | None = None) -> bytes:
    """Strict unpadded base64url: no ``=``, no characters outside the alphabet, canonical trailing bits.

    Only the one canonical encoding of a byte string is accepted, so two different strings never decode
    to the same bytes (a signature covers the string, not the bytes).
    """
    if not isinstance(text, str):
        raise TypeError("b64url_decode expects str")
    tail = len(text) & 3
    if tail == 1 or (tail and text[-1] not in _CANONICAL_LAST[tail]) or not text.isascii():
        raise CredentialError(ReasonCode.BASE64URL_INVALID, "not canonical unpadded base64url", field=field)
    if _simd_b64decode is not None and len(text) >= _SIMD_FROM:
        # a credential's payload: ~5x faster. pybase64 also reads "+", "/" (beside the altchars) and inner
        # "=", so those are refused here; validate=True refuses every other character outside the alphabet
        if "+" not in text and "/" not in text and "=" not in text:
            try:
                return _simd_b64decode(text + _PADDING_TEXT[tail], altchars=b"-_", validate=True)
            except (binascii.Error, ValueError):
                pass
        raise CredentialError(ReasonCode.BASE64URL_INVALID, "not canonical unpadded base64url", field=field)
    data = text.encode("ascii").translate(_STRICT)
    if b"!" in data:
        raise CredentialError(ReasonCode.BASE64URL_INVALID, "not canonical unpadded base64url", field=field)
    return binascii.a2b_base64(data + _PADDING[tail])


def sha256_b64url(data: bytes) -> str:
    """base64url(SHA-256(data)): SD-JWT digests and ``sd_hash``."""
    return b64url_encode(hashlib.sha256(data).digest())


# --- JSON ---------------------------------------------------------------------------------------------


class _DuplicateKey(Exception):
    pass


class _BadConstant(Exception):
    pass


def _pairs_no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _DuplicateKey
    return obj


def _reject_constant(_name: str) -> Any:
    raise _BadConstant


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _BadConstant
    return value


_DECODER = json.JSONDecoder(
    object_pairs_hook=_pairs_no_duplicates, parse_constant=_reject_constant, parse_float=_finite_float
)
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)

#: Compact JSON text of a value (no whitespace, UTF-8 kept, NaN refused).
json_text: Callable[[Any], str] = _ENCODER.encode


def json_dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON (what we sign and disclose)."""
    return _ENCODER.encode(obj).encode("utf-8")


_scan_once: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]

#: Deepest JSON nesting we parse. py-evm (the embedded chain) raises Python's recursion limit to 100,000, so a
#: deeply nested document would overflow the C stack inside json's scanner and kill the process: the depth
#: is checked before any parser sees the text. Our own documents nest fewer than 10 levels.
MAX_JSON_DEPTH = 64
# A JSON string token (unrolled: runs of plain characters match in one C step), and what is not a bracket.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def json_depth_ok(text: str, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``text`` nests at most ``max_depth`` arrays/objects (strings are skipped, so brackets in
    values do not count). Cheap when the text holds few brackets, linear in its length otherwise: the
    brackets outside strings, as +1/-1 steps, must never add up to more than ``max_depth`` (C-level passes,
    e.g. over a node's batch reply)."""
    if text.count("[") + text.count("{") <= max_depth:
        return True
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0) <= max_depth
#: By length % 4, the last characters canonical base64url allows (none when a character is left over).
_CANONICAL_ENDS: tuple[frozenset[int], ...] = (
    frozenset(),
    frozenset(),
    frozenset(b"AQgw"),
    frozenset(b"AEIMQUYcgkosw048"),
)


def _canonical(raw: bytes) -> Any:
    """The value of ``raw`` when orjson's reading of it provably equals the strict stdlib parser's, else
    ``_NOT_CANONICAL`` (then the stdlib path decides and names the reason). Two proofs, either suffices:

    - ``raw`` is exactly orjson's serialisation of what it parses to: then it has no duplicate member (a
      repeated name would be dropped on output), no whitespace, no NaN/Infinity, no integer orjson would turn
      into a float and no lone surrogate. The depth cap is checked too.
    - (compiled, any text a client sends) ``_jsonscan_c.exact``: as many ``:`` outside strings as the value
      has keys (no repeated member), no float literal and no float in the value (a 64-bit overflow turns an
      integer into one), nesting within the cap; strings, integers and constants read the same in both.
    """
    if _orjson is None:
        return _NOT_CANONICAL
    try:
        value = _orjson.loads(raw)
    except _orjson.JSONDecodeError:
        return _NOT_CANONICAL
    if _jsonscan is not None and _jsonscan.exact(raw, value, MAX_JSON_DEPTH):
        return value
    if _orjson.dumps(value) != raw:
        return _NOT_CANONICAL
    if raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH and not json_depth_ok(raw.decode("utf-8")):
        return _NOT_CANONICAL
    return value


_NOT_CANONICAL: Any = object()


def json_parse(data: bytes | str, *, field: str | None = None) -> Any:
    """Strict JSON of any type: duplicate member names, NaN/Infinity and deep nesting are rejected."""
    if isinstance(data, bytes):
        value = _canonical(data)
        if value is not _NOT_CANONICAL:
            return value
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError:
        raise CredentialError(ReasonCode.MALFORMED, "not valid JSON", field=field) from None
    if not json_depth_ok(text):
        raise CredentialError(ReasonCode.MALFORMED, "JSON nests too deeply", field=field)
    try:
        # Fast path: one C scanner call for a value with no surrounding whitespace (what we emit).
        value, end = _scan_once(text, 0)
        if end == len(text):
            return value
    except (StopIteration, ValueError, _DuplicateKey, _BadConstant, RecursionError):
        pass  # the full parse below decides, and names the reason
    try:
        return _DECODER.decode(text)
    except _DuplicateKey:
        raise CredentialError(ReasonCode.JSON_DUPLICATE_KEY, "JSON object repeats a member", field=field) from None
    except (_BadConstant, ValueError, RecursionError):
        raise CredentialError(ReasonCode.MALFORMED, "not valid JSON", field=field) from None


def b64url_json_many(items: Sequence[str]) -> list[Any] | None:
    """Strict ``json_parse(b64url_decode(item))`` of many small items in one pass (SD-JWT disclosures).

    Returns None unless every item is canonical base64url of UTF-8 JSON without surrounding whitespace;
    the caller then decodes item by item to get the first error with its reason code. The alphabet check
    covers all items at once, which is what makes this cheaper than the per-item path.
    """
    joined = "~".join(items)
    if not joined.isascii():
        return None
    data = joined.encode("ascii").translate(_STRICT_TILDE)
    if b"!" in data:
        return None  # a character outside the base64url alphabet
    parts = data.split(b"~")
    if len(parts) != len(items):
        return None
    raws: list[bytes] = []
    append, a2b, canonical, padding = raws.append, binascii.a2b_base64, _CANONICAL_ENDS, _PADDING
    for part in parts:
        tail = len(part) & 3
        if tail and part[-1] not in canonical[tail]:
            return None  # 4n+1 characters, or unused bits set in the last one
        append(a2b(part + padding[tail]))
    if _orjson is not None:
        # All items in one parse, then each must be exactly the serialisation of its own value: that proves
        # the item boundaries (an item cannot swallow its neighbour) and the strictness (see _canonical).
        blob = b"[" + b",".join(raws) + b"]"
        try:
            values: list[Any] | None = _orjson.loads(blob)
        except _orjson.JSONDecodeError:
            values = None
        if values is not None and len(values) == len(raws) and list(map(_orjson.dumps, values)) == raws and (
                blob.count(b"[") + blob.count(b"{") <= MAX_JSON_DEPTH + 1
                or max(map(bytes.count, raws, repeat(b"["))) + max(map(bytes.count, raws, repeat(b"{")))
                <= MAX_JSON_DEPTH):
            return values  # (no item holds more brackets than the cap, so none nests deeper)
    return _json_many_stdlib(raws)


def _json_many_stdlib(raws: list[bytes]) -> list[Any] | None:
    """``b64url_json_many``'s second half without orjson (or for what orjson does not reproduce exactly)."""
    try:
        texts = [raw.decode() for raw in raws]
        # the depth guard: few brackets in all of them together bound every item's depth; else item by item
        blob = "".join(texts)
        if blob.count("[") + blob.count("{") > MAX_JSON_DEPTH and not all(map(json_depth_ok, texts)):
            return None  # the per-item path raises with the reason
        values: list[Any] = []
        scan = _scan_once
        for text in texts:
            value, end = scan(text, 0)
            if end != len(text):
                return None
            values.append(value)
    except (StopIteration, ValueError, _DuplicateKey, _BadConstant, RecursionError):
        return None
    return values


def json_loads(data: bytes | str, *, field: str | None = None, max_size: int = DEFAULT_MAX_SIZE) -> dict[str, Any]:
    """Strict JSON whose top level must be an object; size is checked before parsing."""
    if len(data) > max_size:
        raise CredentialError(ReasonCode.INPUT_TOO_LARGE, "input exceeds the size cap", field=field)
    value = json_parse(data, field=field)
    if not isinstance(value, dict):
        raise CredentialError(ReasonCode.MALFORMED, "JSON top level is not an object", field=field)
    return value


# --- signatures ---------------------------------------------------------------------------------------


#: id -> a key already found to be P-256 (held here, so that the id cannot pass to another object)
_P256_KEYS: dict[int, ec.EllipticCurvePublicKey] = {}


def _p256(public_key: PublicKey) -> ec.EllipticCurvePublicKey | None:
    """``public_key`` when it is a P-256 key, else None; remembered per key object (one key verifies many)."""
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or public_key.curve.name != "secp256r1":
        return None
    if len(_P256_KEYS) >= 256:
        _P256_KEYS.clear()
    _P256_KEYS[id(public_key)] = public_key
    return public_key


def verify_signature(alg: str, public_key: PublicKey, data: bytes, signature: bytes) -> bool:
    """True iff ``signature`` is a valid raw JWS/COSE signature (r||s for ES256) over ``data``.

    ES256 takes exactly 64 bytes (DER is refused) with 0 < r, s < n; the key must fit the algorithm.
    """
    return _verify_signature(alg, public_key, data, None, signature)


def _verify_signature(alg: str, public_key: PublicKey, data: bytes, digest: bytes | None, signature: bytes) -> bool:
    """``verify_signature``; ``digest`` (SHA-256 of ``data``, when the caller needs it anyway) spares ES256 a hash."""
    if alg == "ES256":
        ec_key = _P256_KEYS.get(id(public_key))
        if ec_key is not public_key:
            ec_key = _p256(public_key)
            if ec_key is None:
                return False
        if len(signature) != 64:
            return False
        r = int.from_bytes(signature[:32], "big")
        s = int.from_bytes(signature[32:], "big")
        if not (0 < r < _P256_ORDER and 0 < s < _P256_ORDER):
            return False
        try:
            if digest is None:
                ec_key.verify(encode_dss_signature(r, s), data, _ECDSA_SHA256)
            else:
                ec_key.verify(encode_dss_signature(r, s), digest, _ECDSA_PREHASHED)
        except InvalidSignature:
            return False
        return True
    if alg == "EdDSA":
        if not isinstance(public_key, ed25519.Ed25519PublicKey) or len(signature) != 64:
            return False
        try:
            public_key.verify(signature, data)
        except InvalidSignature:
            return False
        return True
    return False


# --- compact JWS --------------------------------------------------------------------------------------


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


def signature_sha256(signer: Signer, data: bytes) -> tuple[bytes, bytes]:
    """``(signer.sign(data), SHA-256 of data)``; a signer with ``sign_sha256`` (an ES256 ``IssuerKey``) signs
    the digest it returns, so the data is hashed once, not once for the signature and once for the journal."""
    fused = getattr(type(signer), "sign_sha256", None)
    done = fused(signer, data) if fused is not None else None
    return done if done is not None else (signer.sign(data), hashlib.sha256(data).digest())


def _b64url_bytes(data: bytes) -> bytes:
    if _simd_b64encode is not None and len(data) >= _SIMD_FROM:
        return _simd_b64encode(data, altchars=b"-_").rstrip(b"=")
    return binascii.b2a_base64(data, newline=False).rstrip(b"=").translate(_TO_URLSAFE)


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
