"""Strict base64url (RFC 7515 §2, unpadded): the one canonical encoding of each byte string.

Decoding refuses padding, characters outside the alphabet and non-canonical trailing bits, so two
different strings never decode to the same bytes; errors are ``CredentialError(BASE64URL_INVALID)``.
"""

from __future__ import annotations

import binascii
import hashlib

from civiccert.errors import CredentialError, ReasonCode

__all__ = ["b64url_decode", "b64url_encode", "sha256_b64url"]


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


def _b64url_bytes(data: bytes) -> bytes:
    if _simd_b64encode is not None and len(data) >= _SIMD_FROM:
        return _simd_b64encode(data, altchars=b"-_").rstrip(b"=")
    return binascii.b2a_base64(data, newline=False).rstrip(b"=").translate(_TO_URLSAFE)


#: By length % 4, the last characters canonical base64url allows (none when a character is left over).
_CANONICAL_ENDS: tuple[frozenset[int], ...] = (
    frozenset(),
    frozenset(),
    frozenset(b"AQgw"),
    frozenset(b"AEIMQUYcgkosw048"),
)
