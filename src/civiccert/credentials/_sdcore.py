"""The SD-JWT pieces every role shares: names, markers, result type, structure and digests.

``split``, ``credential_hash`` and friends only look at structure; nothing here verifies a signature.
"""

from __future__ import annotations

import binascii
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from civiccert.credentials.b64url import b64url_decode, b64url_encode
from civiccert.credentials.signatures import PublicKey
from civiccert.credentials.strictjson import json_loads
from civiccert.errors import CredentialError, ReasonCode

SD_DIGESTS_KEY = "_sd"
SD_ALG_KEY = "_sd_alg"
ARRAY_DIGEST_KEY = "..."
SD_ALG = "sha-256"
KB_JWT_TYP = "kb+jwt"

#: Envelope claims that must stay visible (RFC 9901 §9.7, SD-JWT VC): ``Sd`` on them is a bug.
NEVER_DISCLOSABLE = frozenset({"iss", "vct", "cnf", "status", "iat", "nbf", "exp", SD_ALG_KEY})
_RESERVED_NAMES = frozenset({SD_DIGESTS_KEY, ARRAY_DIGEST_KEY})
_STR_TYPE = frozenset({str})

#: resolve_key(header, unverified payload) -> issuer public key; may raise CredentialError(KEY_UNKNOWN).
IssuerKeyResolver: TypeAlias = Callable[[dict[str, Any], dict[str, Any]], PublicKey]
#: salt() -> a fresh salt string (inject for reproducible vectors; default: 132 random bits).
SaltSource: TypeAlias = Callable[[], str]


@dataclass(frozen=True)
class Sd:
    """Marks a dict key (a ``str``) or an array element as selectively disclosable."""

    value: Any


@dataclass(frozen=True)
class VerifiedSdJwt:
    """Result of ``verify``: the signed payload as is, and the claims after applying disclosures.

    ``claims`` has no ``_sd``/``_sd_alg``, no decoys and no undisclosed array elements.
    ``disclosed_paths`` name the disclosed claims inside ``claims`` (array indexes count the elements
    present in ``claims``). ``key_binding`` is the verified KB-JWT payload, or None. ``credential_hash``
    is ``credential_hash(issuer_signed_jwt)``, computed once with the signature check.
    """

    header: dict[str, Any]
    payload: dict[str, Any]
    claims: dict[str, Any]
    disclosed_paths: list[str]
    issuer_signed_jwt: str
    key_binding: dict[str, Any] | None
    credential_hash: bytes = b""


_sha256 = hashlib.sha256
_b2a = binascii.b2a_base64
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _digest(disclosure: str) -> str:
    return b64url_encode(_sha256(disclosure.encode("ascii")).digest())


def split(sd_jwt: str) -> tuple[str, list[str], str | None]:
    """``(issuer-signed JWT, disclosures, KB-JWT or None)`` of a compact SD-JWT; structure only."""
    if not isinstance(sd_jwt, str):
        raise TypeError("sd_jwt must be str")
    parts = sd_jwt.split("~")
    if len(parts) < 2:
        raise CredentialError(ReasonCode.MALFORMED, "not an SD-JWT (no '~')")
    jwt, disclosures, kb = parts[0], parts[1:-1], parts[-1]
    if jwt.count(".") != 2:
        raise CredentialError(ReasonCode.MALFORMED, "issuer-signed part is not a compact JWS")
    if "" in disclosures:
        index = disclosures.index("")
        raise CredentialError(ReasonCode.MALFORMED, "empty disclosure", field=f"disclosures[{index}]")
    if kb and kb.count(".") != 2:
        raise CredentialError(ReasonCode.MALFORMED, "key-binding part is not a compact JWS", field="kb_jwt")
    return jwt, disclosures, kb or None


def issuer_signed_part(sd_jwt: str) -> str:
    """The issuer-signed JWT (everything before the first ``~``): what the credential hash covers."""
    return split(sd_jwt)[0]


def unverified_payload(sd_jwt: str) -> Any:
    """The issuer-signed payload, parsed but NOT verified (for a holder looking at its own credential)."""
    jwt = split(sd_jwt)[0]
    return json_loads(b64url_decode(jwt.split(".")[1], field="payload"), field="payload")


def credential_hash(sd_jwt: str) -> bytes:
    """SHA-256 of the issuer's JWS signing input (``header.payload``): the Merkle leaf input and revocation key.

    Accepts the SD-JWT, a presentation of it, or its issuer-signed JWT: all give the same hash.

    The signature is left out on purpose: ECDSA signatures are malleable (s and n−s both verify), so hashing
    them would let anyone derive a second valid credential whose hash escapes its revocation.
    """
    jwt = sd_jwt.split("~", 1)[0]  # an SD-JWT, a presentation, or the issuer-signed JWT alone
    return hashlib.sha256(jwt[: jwt.rfind(".")].encode("ascii")).digest()


def strip_sd(obj: Any) -> Any:
    """The same claims with every ``Sd`` marker removed (plain claims, e.g. for the paper form)."""
    kind = type(obj)
    if kind is str or kind is int or obj is None:  # the common cases by exact type: ABC checks are slow
        return obj
    if kind is Sd:
        return strip_sd(obj.value)
    if kind is dict:
        return {(k.value if type(k) is Sd else k): strip_sd(v) for k, v in obj.items()}
    if kind is list:
        return [strip_sd(v) for v in obj]
    if isinstance(obj, Sd):
        return strip_sd(obj.value)
    if isinstance(obj, Mapping):
        return {(k.value if isinstance(k, Sd) else k): strip_sd(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [strip_sd(v) for v in obj]
    return obj


def _b64_digests(hashes: list[bytes]) -> list[str]:
    """base64url of each 32-byte digest, with one base64 call for all of them.

    A 32-byte digest followed by one zero byte encodes to the digest's 43 unpadded characters plus "A".
    """
    if not hashes:
        return []
    text = _b2a(b"\0".join(hashes) + b"\0", newline=False).translate(_TO_URLSAFE).decode("ascii")
    return [text[i : i + 43] for i in range(0, len(text), 44)]

