"""Low-level SD-JWT; use Issuer/Verifier.

RFC 9901 selective disclosure over our strict JOSE layer: ``issue`` turns claims with ``Sd`` markers into
``<issuer-signed JWT>~<disclosure>~...~``; ``present`` keeps the disclosures a holder chooses by path and
may append a key-binding JWT; ``verify`` checks everything RFC 9901 §7.1/§7.3 says to reject, each with
its own reason code, and is stricter than @sd-jwt 0.19.0 (duplicate, unreferenced and ``_sd``-named
disclosures are refused). No I/O: the issuer key lookup and the clock are parameters.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import operator
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from json.encoder import encode_basestring as _quote
from typing import Any, TypeAlias

from civiccert.credentials._native import sdissue as _sdissue_c  # None: the Python path
from civiccert.credentials._native import sdverify
from civiccert.credentials.jose import (
    DEFAULT_MAX_SIZE,
    PublicKey,
    Signer,
    b64url_decode,
    b64url_encode,
    b64url_json_many,
    json_dumps,
    json_loads,
    json_parse,
    json_text,
    sign_compact,
    verify_compact,
)
from civiccert.credentials.keys import public_key_from_jwk
from civiccert.errors import CredentialError, ReasonCode

try:  # a fast exact reader of the disclosures blob (see _decode_disclosures); orjson is a declared dependency
    import orjson as _orjson
except ImportError:  # pragma: no cover
    _orjson = None  # type: ignore[assignment]

# The compiled verify loop (setup.py builds it; DEVELOPERS.md): used only where it gives the pure-Python
# result, which every input it declines takes. CIVICCERT_PURE_PYTHON=1 forces the pure-Python path.
_c: Any = sdverify

__all__ = [
    "NEVER_DISCLOSABLE",
    "Sd",
    "VerifiedSdJwt",
    "credential_hash",
    "issue",
    "issuer_signed_part",
    "present",
    "split",
    "strip_sd",
    "unverified_payload",
    "verify",
]

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
    present in ``claims``). ``key_binding`` is the verified KB-JWT payload, or None.
    """

    header: dict[str, Any]
    payload: dict[str, Any]
    claims: dict[str, Any]
    disclosed_paths: list[str]
    issuer_signed_jwt: str
    key_binding: dict[str, Any] | None


# --- helpers shared by the roles -----------------------------------------------------------------------


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


# --- issuer --------------------------------------------------------------------------------------------


def _b64_digests(hashes: list[bytes]) -> list[str]:
    """base64url of each 32-byte digest, with one base64 call for all of them.

    A 32-byte digest followed by one zero byte encodes to the digest's 43 unpadded characters plus "A".
    """
    if not hashes:
        return []
    text = _b2a(b"\0".join(hashes) + b"\0", newline=False).translate(_TO_URLSAFE).decode("ascii")
    return [text[i : i + 43] for i in range(0, len(text), 44)]


#: One CSPRNG draw per 64 salts: 33 bytes are 44 base64url characters, i.e. two salts of 22 characters
#: (132 bits each); the 32 bytes after them feed decoy counts and positions.
_SALT_BYTES = 33 * 32
_SALT_SLICES = tuple(slice(i, i + 22) for i in range(0, _SALT_BYTES * 4 // 3, 22))


class _Issuance:
    """One issuance: builds the payload bottom-up and collects disclosures (as ASCII bytes).

    Salts are drawn in the same order as the disclosures are made (a claim's salt before the salts
    inside its value), so an injected ``SaltSource`` gives reproducible output.
    """

    __slots__ = ("_decoys", "_pool", "_random", "_salt", "disclosures")

    def __init__(self, salt: SaltSource | None, decoys: tuple[int, int]) -> None:
        self.disclosures: list[bytes] = []
        self._salt = salt
        self._decoys = decoys
        self._pool: list[str] = []  # our own salts, unquoted
        self._random = bytearray()  # spare CSPRNG bytes

    def _refill(self) -> None:
        data = secrets.token_bytes(_SALT_BYTES + 32)
        self._pool.extend(map(b64url_encode(data[:_SALT_BYTES]).__getitem__, _SALT_SLICES))
        self._random += data[_SALT_BYTES:]

    def _next_salt(self) -> str:
        if self._salt is not None:
            return self._salt()
        if not self._pool:
            self._refill()
        return self._pool.pop()

    def _below(self, n: int) -> int:
        """A uniform integer in ``[0, n)`` from the CSPRNG bytes (rejection sampling: no modulo bias)."""
        if n > 256:
            return secrets.randbelow(n)
        limit = 256 - 256 % n
        random = self._random
        while True:
            if not random:
                random += secrets.token_bytes(32)
            byte = random.pop()
            if byte < limit:
                return byte % n

    def _value_text(self, node: Any) -> str:
        # Compact JSON exactly as json_text writes it; strings (the common case) go straight to the C
        # escaper, which is what JSONEncoder(ensure_ascii=False) uses too, and an object whose claims
        # are all disclosable is only base64url digests, which need no escaping.
        if type(node) is str:
            return _quote(node)
        value = self.build(node)
        if type(value) is str:
            return _quote(value)
        if type(value) is dict and len(value) == 1 and SD_DIGESTS_KEY in value:
            return '{"_sd":["' + '","'.join(value[SD_DIGESTS_KEY]) + '"]}'
        return json_text(value)

    def _disclose(self, text: str) -> bytes:
        """Record the disclosure of JSON ``text``; return its raw SHA-256 digest."""
        disclosure = _b2a(text.encode()).rstrip(b"=\n").translate(_TO_URLSAFE)
        self.disclosures.append(disclosure)
        return _sha256(disclosure).digest()

    def _decoy_hashes(self) -> list[bytes]:
        """Raw digests of fresh salts (RFC 9901 §4.2.5), in the configured count range."""
        low, high = self._decoys
        count = low + self._below(high - low + 1) if high > low else low
        return [_sha256(self._next_salt().encode("ascii")).digest() for _ in range(count)]

    def build(self, node: Any, top: bool = False) -> Any:
        kind = type(node)
        if kind is str or kind is int or kind is bool or kind is float or node is None:
            return node  # the common case first: ABC isinstance checks are slow
        if kind is dict or isinstance(node, Mapping):
            return self._build_object(node, top)
        if isinstance(node, list | tuple):
            return self._build_array(node)
        if isinstance(node, Sd):
            raise ValueError("Sd marks a dict key or an array element, not a dict value")
        if isinstance(node, str | int | float):
            return node
        raise TypeError(f"claim values must be JSON types, not {type(node).__name__}")

    def _build_object(self, node: Mapping[Any, Any], top: bool) -> dict[str, Any]:
        names = [key.value if type(key) is Sd else key for key in node]
        if (
            top
            or not set(map(type, names)) <= _STR_TYPE
            or not _RESERVED_NAMES.isdisjoint(names)
            or len(set(names)) != len(names)
        ):
            return self._build_object_checked(node, top)  # raises for the first bad name, as always
        # The hot loop of issuance (once per claim), names already checked: salt, value text and
        # disclosure are inlined.
        out: dict[str, Any] = {}
        hashes: list[bytes] = []
        pool, disclosures, salt_source = self._pool, self.disclosures, self._salt
        for key, value in node.items():
            if type(key) is not Sd:
                out[key] = self.build(value)
                continue
            # The claim's salt is drawn before the salts inside its value.
            if salt_source is None:
                if not pool:
                    self._refill()
                salt = pool.pop()
                text = _quote(value) if type(value) is str else self._value_text(value)
                data = f'["{salt}",{_quote(key.value)},{text}]'  # base64url salts need no escaping
            else:
                salt = _quote(salt_source())
                text = _quote(value) if type(value) is str else self._value_text(value)
                data = f"[{salt},{_quote(key.value)},{text}]"
            # b2a's trailing newline goes with the padding in one rstrip.
            disclosure = _b2a(data.encode()).rstrip(b"=\n").translate(_TO_URLSAFE)
            disclosures.append(disclosure)
            hashes.append(_sha256(disclosure).digest())
        if hashes:
            hashes.extend(self._decoy_hashes())
            digests = _b64_digests(hashes)
            digests.sort()
            out[SD_DIGESTS_KEY] = digests
        return out

    def _build_object_checked(self, node: Mapping[Any, Any], top: bool) -> dict[str, Any]:
        """``_build_object`` checking each name as it goes: the top level, and any object with a bad name."""
        out: dict[str, Any] = {}
        hashes: list[bytes] = []
        names: set[str] = set()
        for key, value in node.items():
            marked = type(key) is Sd
            name = key.value if marked else key
            if type(name) is not str:
                raise TypeError("claim names must be str")
            if name in _RESERVED_NAMES:
                raise ValueError("'_sd' and '...' are reserved claim names")
            if name in names:
                raise ValueError("claim name appears twice (plain and Sd)")
            names.add(name)
            if marked:
                if top and name in NEVER_DISCLOSABLE:
                    raise ValueError(f"claim {name!r} must never be selectively disclosable")
                salt = _quote(self._next_salt())  # drawn before the value's own salts
                hashes.append(self._disclose("[" + salt + "," + _quote(name) + "," + self._value_text(value) + "]"))
            else:
                out[name] = self.build(value)
        if hashes:
            hashes.extend(self._decoy_hashes())
            digests = _b64_digests(hashes)
            digests.sort()
            out[SD_DIGESTS_KEY] = digests
        return out

    def _build_array(self, node: Iterable[Any]) -> list[Any]:
        out: list[Any] = []
        positions: list[int] = []
        hashes: list[bytes] = []
        for element in node:
            if isinstance(element, Sd):
                salt = _quote(self._next_salt())
                hashes.append(self._disclose("[" + salt + "," + self._value_text(element.value) + "]"))
                positions.append(len(out))
                out.append(None)  # the digest goes here once all are encoded
            else:
                out.append(self.build(element))
        if hashes:
            for position, digest in zip(positions, _b64_digests(hashes), strict=True):
                out[position] = {ARRAY_DIGEST_KEY: digest}
            for decoy in _b64_digests(self._decoy_hashes()):
                out.insert(self._below(len(out) + 1), {ARRAY_DIGEST_KEY: decoy})
        return out


def issue(
    claims: Mapping[Any, Any],
    key: Signer,
    *,
    typ: str = "dc+sd-jwt",
    decoys: tuple[int, int] = (1, 3),
    salt: SaltSource | None = None,
    holder_jwk: Mapping[str, Any] | None = None,
    header: Mapping[str, Any] | None = None,
) -> str:
    """Sign ``claims`` as an SD-JWT ending in ``~``; ``Sd`` keys / elements become disclosures.

    Every ``_sd`` array and every array with ``Sd`` elements gets ``decoys[0]..decoys[1]`` decoy digests
    (random count) so a verifier cannot count withheld claims. ``holder_jwk`` becomes ``cnf.jwk``. The
    caller supplies the envelope (``iss``, ``iat``, ``exp``, ``vct``...); ``_sd_alg`` is added here.
    """
    if not isinstance(claims, Mapping):
        raise TypeError("claims must be a mapping")
    low, high = decoys
    if not 0 <= low <= high:
        raise ValueError("decoys must be (min, max) with 0 <= min <= max")
    plain_names = {k.value if isinstance(k, Sd) else k for k in claims}
    if SD_ALG_KEY in plain_names:
        raise ValueError("'_sd_alg' is set by issue()")
    if holder_jwk is not None and "cnf" in plain_names:
        raise ValueError("pass either a 'cnf' claim or holder_jwk, not both")
    if holder_jwk is not None:
        public_key_from_jwk(holder_jwk)  # refuse a private or malformed holder key early
    extra = dict(header or {})
    if "typ" in extra:
        raise ValueError("typ is a parameter of issue()")
    header_claims = {"typ": typ, **extra}
    if _sdissue_c is not None and salt is None and type(claims) is dict:
        # The compiled builder writes the payload JSON and the disclosures in one call, or returns None for
        # anything outside the common case (the Python path then issues, and raises what it raises).
        tail = _TAIL if holder_jwk is None else _TAIL + ',"cnf":' + json_text({"jwk": dict(holder_jwk)})
        built = _sdissue_c.build(claims, Sd, NEVER_DISCLOSABLE, low, high, tail.encode())
        if built is not None:
            return sign_compact(header_claims, built[0], key) + "~" + built[1]
    issuance = _Issuance(salt, (low, high))
    payload: dict[str, Any] = issuance.build(claims, top=True)
    payload[SD_ALG_KEY] = SD_ALG
    if holder_jwk is not None:
        payload["cnf"] = {"jwk": dict(holder_jwk)}
    jwt = sign_compact(header_claims, json_dumps(payload), key)
    if not issuance.disclosures:
        return jwt + "~"
    return jwt + "~" + b"~".join(issuance.disclosures).decode("ascii") + "~"


#: The payload's last members after the claims: what ``issue`` adds (``cnf`` follows when bound to a holder).
_TAIL = f'"{SD_ALG_KEY}":"{SD_ALG}"'


# --- holder --------------------------------------------------------------------------------------------

_ANY = "*"  # one path segment, key or index


class _AnyIndex:
    __slots__ = ()


_ANY_INDEX = _AnyIndex()
Segment: TypeAlias = str | int
PatternSegment: TypeAlias = str | int | _AnyIndex


def _parse_path(text: str) -> tuple[PatternSegment, ...]:
    if not isinstance(text, str) or not text:
        raise ValueError("a disclosure path is a non-empty string")
    segments: list[PatternSegment] = []
    for part in text.split("."):
        name, bracket, rest = part.partition("[")
        if not name or "]" in name:
            raise ValueError(f"bad disclosure path {text!r}")
        segments.append(name)
        rest = bracket + rest
        while rest:
            if not rest.startswith("[") or "]" not in rest:
                raise ValueError(f"bad disclosure path {text!r}")
            index, _, rest = rest[1:].partition("]")
            if index == "*":
                segments.append(_ANY_INDEX)
            elif index.isdigit() and index.isascii():
                segments.append(int(index))
            else:
                raise ValueError(f"bad disclosure path {text!r}")
    return tuple(segments)


def _segment_matches(pattern: PatternSegment, segment: Segment) -> bool:
    if pattern == _ANY:
        return True
    if pattern is _ANY_INDEX:
        return isinstance(segment, int)
    return type(pattern) is type(segment) and pattern == segment


def _covers(pattern: tuple[PatternSegment, ...], path: tuple[Segment, ...]) -> bool:
    """True if ``pattern`` names ``path`` or one of its ancestors (naming a node discloses its subtree)."""
    if len(pattern) > len(path):
        return False
    return all(_segment_matches(p, s) for p, s in zip(pattern, path, strict=False))


@dataclass
class _Node:
    path: tuple[Segment, ...]
    disclosure: str | None  # None for plain (always visible) nodes
    parent: _Node | None  # nearest selectively disclosable ancestor


def _index_disclosures(payload: dict[str, Any], disclosures: list[str]) -> list[_Node]:
    """Map every claim the holder can see (plain or disclosable) to its path in the issued claims."""
    by_digest: dict[str, tuple[str, list[Any]]] = {}
    for index, disclosure in enumerate(disclosures):
        content = json_parse(b64url_decode(disclosure, field=f"disclosures[{index}]"), field=f"disclosures[{index}]")
        if not isinstance(content, list) or len(content) not in (2, 3):
            raise CredentialError(ReasonCode.DISCLOSURE_MALFORMED, "not a disclosure", field=f"disclosures[{index}]")
        by_digest[_digest(disclosure)] = (disclosure, content)
    nodes: list[_Node] = []

    def walk(obj: Any, path: tuple[Segment, ...], parent: _Node | None) -> None:
        if isinstance(obj, dict):
            for name, value in obj.items():
                if name == SD_DIGESTS_KEY or (name == SD_ALG_KEY and not path):
                    continue
                node = _Node((*path, name), None, parent)
                nodes.append(node)
                walk(value, node.path, parent)
            for digest in obj.get(SD_DIGESTS_KEY, []):
                found = by_digest.get(digest)
                if found is not None and len(found[1]) == 3:
                    node = _Node((*path, found[1][1]), found[0], parent)
                    nodes.append(node)
                    walk(found[1][2], node.path, node)
        elif isinstance(obj, list):
            position = 0
            for element in obj:
                if isinstance(element, dict) and list(element) == [ARRAY_DIGEST_KEY]:
                    found = by_digest.get(element[ARRAY_DIGEST_KEY])
                    if found is None or len(found[1]) != 2:
                        continue  # a decoy: not a position in the issued array
                    node = _Node((*path, position), found[0], parent)
                    nodes.append(node)
                    walk(found[1][1], node.path, node)
                else:
                    node = _Node((*path, position), None, parent)
                    nodes.append(node)
                    walk(element, node.path, parent)
                position += 1

    walk(payload, (), None)
    return nodes


def present(
    sd_jwt: str,
    disclose: Iterable[str],
    *,
    holder_key: Signer | None = None,
    aud: str | None = None,
    nonce: str | None = None,
    now: float | None = None,
) -> str:
    """A presentation keeping only the disclosures the paths select, plus a KB-JWT if ``holder_key``.

    Paths: ``household.address``, ``members[0].name``, ``members[*].birth_date``, ``registrant.*``, ``*``.
    Naming a claim discloses it with everything under it; disclosing inside a disclosable element or
    object discloses that container too. Indexes count positions in the issued array. A path without
    wildcards that names nothing raises ValueError (likely a typo). The issuer signature is not checked
    here: a wallet runs ``verify`` when it receives the credential.
    """
    if isinstance(disclose, str):
        raise TypeError("disclose is an iterable of paths, not one string")
    if holder_key is not None and (not isinstance(aud, str) or not isinstance(nonce, str)):
        raise ValueError("a key-binding JWT needs aud and nonce")
    jwt, disclosures, kb = split(sd_jwt)
    if kb is not None:
        raise ValueError("present() takes an issued SD-JWT, not a presentation with key binding")
    payload = unverified_payload(sd_jwt)
    nodes = _index_disclosures(payload, disclosures)
    chosen: set[str] = set()
    for text in disclose:
        pattern = _parse_path(text)
        matched = False
        for node in nodes:
            if _covers(pattern, node.path):
                matched = True
                current: _Node | None = node if node.disclosure is not None else node.parent
                while current is not None and current.disclosure not in chosen:
                    chosen.add(current.disclosure)  # type: ignore[arg-type]
                    current = current.parent
        if not matched and _ANY not in pattern and _ANY_INDEX not in pattern:
            raise ValueError(f"disclosure path {text!r} names no claim")
    kept = [d for d in disclosures if d in chosen]
    presentation = "~".join([jwt, *kept, ""])
    if holder_key is None:
        return presentation
    kb_payload = {
        "iat": int(time.time() if now is None else now),
        "aud": aud,
        "nonce": nonce,
        "sd_hash": _digest(presentation),
    }
    return presentation + sign_compact({"typ": KB_JWT_TYP}, json_dumps(kb_payload), holder_key, include_kid=False)


# --- verifier ------------------------------------------------------------------------------------------


def _child(path: str, name: str) -> str:
    """The path of member ``name`` under the formatted path ``path`` (``a.b[0]`` + ``c`` -> ``a.b[0].c``)."""
    return f"{path}.{name}" if path else name


def _where(path: str, position: int | None) -> str:
    return _child(path, SD_DIGESTS_KEY) if position is None else f"{path}[{position}]"


class _Unfolder:
    """Applies disclosures to the signed payload (RFC 9901 §7.1 step 3-5).

    Paths are carried already formatted (``a.b[0].c``) and only for containers: leaves need none.
    Parsed JSON holds exact ``dict``/``list``/``str`` objects, so ``type() is`` checks are enough.
    """

    __slots__ = ("by_digest", "order", "paths", "seen", "used")

    def __init__(self, order: list[str], by_digest: dict[str, list[Any]]) -> None:
        self.order = order  # digests in disclosure order: an error names disclosures[index]
        self.by_digest = by_digest
        self.seen: set[str] = set()
        self.used = 0
        self.paths: list[str] = []

    def _claim(self, digest: Any, path: str, position: int | None) -> list[Any] | None:
        """The disclosure ``digest`` names, if sent; ``position`` is None in ``_sd``, else the array index."""
        if type(digest) is not str:
            raise CredentialError(ReasonCode.MALFORMED, "digest is not a string", field=_where(path, position))
        seen = self.seen
        if digest in seen:
            field = _where(path, position)
            raise CredentialError(ReasonCode.DIGEST_DUPLICATE, "digest appears more than once", field=field)
        seen.add(digest)
        found = self.by_digest.get(digest)
        if found is not None:
            self.used += 1
        return found

    def unreferenced(self) -> int | None:
        """Index of the first disclosure no digest in the payload points to, or None."""
        if self.used == len(self.by_digest):
            return None
        seen = self.seen
        return next(i for i, digest in enumerate(self.order) if digest not in seen)

    def unfold(self, obj: Any, path: str) -> Any:
        kind = type(obj)
        if kind is dict:
            return self._object(obj, path)
        if kind is list:
            return self._array(obj, path)
        return obj

    def unfold_payload(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The claims of the top-level payload: like ``unfold`` but without ``_sd_alg``."""
        return self._object(payload, "", top=True)

    def _object(self, obj: dict[str, Any], path: str, top: bool = False) -> dict[str, Any]:
        digests = obj.get(SD_DIGESTS_KEY, ())
        if not isinstance(digests, list | tuple):
            raise CredentialError(ReasonCode.MALFORMED, "_sd is not an array", field=_child(path, SD_DIGESTS_KEY))
        out: dict[str, Any] = {}
        for name, value in obj.items():
            if name == SD_DIGESTS_KEY or (top and name == SD_ALG_KEY):
                continue
            kind = type(value)
            if kind is dict:
                out[name] = self._object(value, _child(path, name))
            elif kind is list:
                out[name] = self._array(value, _child(path, name))
            else:
                out[name] = value
        if not digests:
            return out
        seen, by_digest, paths, prefix = self.seen, self.by_digest, self.paths, f"{path}." if path else ""
        # Fast path, all C-level: every digest a string, none repeated here or seen elsewhere. Then only
        # the digests that name a sent disclosure are visited: withheld claims and decoys are set-checked
        # once, never walked one by one. Otherwise the one-by-one loop raises with the field.
        fresh = set(digests) if set(map(type, digests)) <= _STR_TYPE else None
        if fresh is not None and len(fresh) == len(digests) and seen.isdisjoint(fresh):
            seen.update(fresh)
            sent = list(filter(by_digest.__contains__, digests))
        else:
            sent = self._sent(digests, path)
        for digest in sent:
            found = by_digest[digest]
            self.used += 1
            try:
                _, name, value = found
            except ValueError:
                field = f"disclosures[{self.order.index(digest)}]"
                raise CredentialError(
                    ReasonCode.DISCLOSURE_MALFORMED, "array disclosure used for a claim", field=field
                ) from None
            claim_path = prefix + name
            if name in out:
                raise CredentialError(ReasonCode.CLAIM_OVERWRITE, "disclosed claim already exists", field=claim_path)
            paths.append(claim_path)
            kind = type(value)
            if kind is dict:
                out[name] = self._object(value, claim_path)
            elif kind is list:
                out[name] = self._array(value, claim_path)
            else:
                out[name] = value
        return out

    def _sent(self, digests: list[Any] | tuple[Any, ...], path: str) -> list[str]:
        """The digests of an ``_sd`` array that name a sent disclosure, checking each one in turn."""
        sent = []
        for digest in digests:
            if self._claim(digest, path, None) is not None:  # raises MALFORMED or DIGEST_DUPLICATE
                self.used -= 1  # counted by the caller, once per claim it applies
                sent.append(digest)
        return sent

    def _array(self, obj: list[Any], path: str) -> list[Any]:
        out: list[Any] = []
        for element in obj:
            if type(element) is dict and len(element) == 1 and ARRAY_DIGEST_KEY in element:
                position = len(out)
                digest = element[ARRAY_DIGEST_KEY]
                content = self._claim(digest, path, position)
                if content is None:
                    continue
                if len(content) != 2:
                    raise CredentialError(
                        ReasonCode.DISCLOSURE_MALFORMED,
                        "claim disclosure used for an array element",
                        field=f"disclosures[{self.order.index(digest)}]",
                    )
                element_path = f"{path}[{position}]"
                self.paths.append(element_path)
                out.append(self.unfold(content[1], element_path))
            else:
                out.append(self.unfold(element, f"{path}[{len(out)}]") if type(element) in _CONTAINERS else element)
        return out


_CONTAINERS = frozenset({dict, list})


_raw_digest = operator.methodcaller("digest")


def _digests(disclosures: list[str]) -> list[str]:
    """base64url(SHA-256) of each disclosure (C-level maps: this runs once per disclosure)."""
    return _b64_digests(list(map(_raw_digest, map(_sha256, map(str.encode, disclosures)))))


def _decode_disclosures(disclosures: list[str]) -> tuple[list[str], dict[str, list[Any]]]:
    """The digests in order and ``digest -> [salt, (name,) value]``; batched when all are well formed.

    The compiled path decodes and hashes every disclosure in one call and proves, as ``b64url_json_many``
    does, that one orjson parse of them all reads each exactly as the strict parser would. Anything it
    declines, and every error, goes the pure-Python way, which decides and names the reason.
    """
    if _c is not None and _orjson is not None:
        fast = _c.decode(disclosures)
        if fast is not None:
            digests, blob = fast
            try:
                values = _orjson.loads(blob)
            except _orjson.JSONDecodeError:
                values = None
            # every item is its own balanced segment (checked in C), so equal bytes mean each item is
            # exactly orjson's serialisation of its own value: canonical, as jose._canonical requires
            if values is not None and len(values) == len(digests) and _orjson.dumps(values) == blob:
                table = _c.table(digests, values)
                if table is not None:
                    return digests, table
    return _decode_disclosures_py(disclosures)


def _decode_disclosures_py(disclosures: list[str]) -> tuple[list[str], dict[str, list[Any]]]:
    """``_decode_disclosures`` without the compiled path: C-level maps, else the one-by-one loop."""
    contents = b64url_json_many(disclosures)
    if contents is None:
        return _decode_disclosures_one_by_one(disclosures)
    digests = _digests(disclosures)
    table = _table(digests, contents)
    return (digests, table) if table is not None else _decode_disclosures_one_by_one(disclosures)


def _table(digests: list[str], contents: list[Any]) -> dict[str, list[Any]] | None:
    """``digest -> content`` when every content is a well-formed disclosure and no digest repeats, else None.

    The batched checks (C-level ``map``/``set`` over all disclosures) accept exactly what the one-by-one
    loop accepts; on any doubt that loop runs and raises with the right code and index.
    """
    if (
        not set(map(type, contents)) <= _LIST_TYPE
        or not set(map(len, contents)) <= _DISCLOSURE_LENGTHS
        or not set(map(type, map(_first, contents))) <= _STR_TYPE
        or len(set(digests)) != len(digests)
    ):
        return None
    names = [content[1] for content in contents if len(content) == 3]
    if not set(map(type, names)) <= _STR_TYPE or not _RESERVED_NAMES.isdisjoint(names):
        return None
    return dict(zip(digests, contents, strict=True))


_LIST_TYPE = frozenset({list})
_DISCLOSURE_LENGTHS = frozenset({2, 3})
_first = operator.itemgetter(0)


def _decode_disclosures_one_by_one(disclosures: list[str]) -> tuple[list[str], dict[str, list[Any]]]:
    by_digest: dict[str, list[Any]] = {}
    for index, disclosure in enumerate(disclosures):
        try:
            content = json_parse(b64url_decode(disclosure))
        except CredentialError as exc:
            raise CredentialError(exc.code, exc.message, field=f"disclosures[{index}]") from None
        if type(content) is not list or len(content) not in (2, 3) or type(content[0]) is not str:
            field = f"disclosures[{index}]"
            raise CredentialError(ReasonCode.DISCLOSURE_MALFORMED, "not a [salt, (name,) value] array", field=field)
        if len(content) == 3:
            if type(content[1]) is not str:
                field = f"disclosures[{index}]"
                raise CredentialError(ReasonCode.DISCLOSURE_MALFORMED, "claim name is not a string", field=field)
            if content[1] in _RESERVED_NAMES:
                field = f"disclosures[{index}]"
                raise CredentialError(ReasonCode.CLAIM_NAME_RESERVED, "disclosed claim name is reserved", field=field)
        digest = b64url_encode(_sha256(disclosure.encode("ascii")).digest())
        if digest in by_digest:
            field = f"disclosures[{index}]"
            raise CredentialError(ReasonCode.DISCLOSURE_DUPLICATE, "disclosure sent twice", field=field)
        by_digest[digest] = content
    return list(by_digest), by_digest


def _unfold(
    payload: dict[str, Any], order: list[str], by_digest: dict[str, list[Any]]
) -> tuple[dict[str, Any], list[str]]:
    """The claims and disclosed paths of ``payload`` (compiled when built and the input is well formed)."""
    if _c is not None:
        fast: tuple[dict[str, Any], list[str]] | None = _c.unfold(payload, by_digest)
        if fast is not None:
            return fast
    unfolder = _Unfolder(order, by_digest)
    claims = unfolder.unfold_payload(payload)
    index = unfolder.unreferenced()
    if index is not None:
        raise CredentialError(
            ReasonCode.DISCLOSURE_UNREFERENCED,
            "disclosure not referenced by the credential",
            field=f"disclosures[{index}]",
        )
    return claims, unfolder.paths


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


def verify(
    sd_jwt: str,
    *,
    resolve_key: IssuerKeyResolver,
    algorithms: Iterable[str] = ("ES256", "EdDSA"),
    expected_typ: str = "dc+sd-jwt",
    require_key_binding: bool = False,
    aud: str | None = None,
    nonce: str | None = None,
    now: float | None = None,
    skew: float = 60,
    max_size: int = DEFAULT_MAX_SIZE,
    check_validity: bool = True,
    kb_max_age: float | None = None,
) -> VerifiedSdJwt:
    """Verify an SD-JWT or presentation; raise ``CredentialError`` with the first failed check's code.

    ``check_validity=False`` leaves the credential's iat/nbf/exp to the caller (the Verifier reports the
    validity window as its own check); the KB-JWT's time checks always run. ``kb_max_age`` (seconds) bounds
    how old a KB-JWT may be (RFC 9901 §7.3: the verifier's acceptable window), beside its nonce.

    ``resolve_key(header, payload)`` picks the issuer key from trusted data (``kid``, ``iss``); the
    payload it sees is not yet verified. With ``require_key_binding`` a KB-JWT must be present and
    ``aud`` and ``nonce`` are required; a KB-JWT that is present is always verified.
    """
    if require_key_binding and (aud is None or nonce is None):
        raise ValueError("require_key_binding needs the expected aud and nonce")
    if not isinstance(sd_jwt, str):
        raise TypeError("sd_jwt must be str")
    if len(sd_jwt) > max_size:
        raise CredentialError(ReasonCode.INPUT_TOO_LARGE, "SD-JWT exceeds the size cap")
    algorithms = tuple(algorithms)
    jwt, disclosures, kb_jwt = split(sd_jwt)
    parsed: list[dict[str, Any]] = []

    def issuer_key(header: dict[str, Any], raw_payload: bytes) -> PublicKey:
        parsed.append(json_loads(raw_payload, field="payload", max_size=max_size))
        return resolve_key(header, parsed[0])

    jws = verify_compact(
        jwt, algorithms=algorithms, resolve_key=issuer_key, expected_typ=expected_typ, max_size=max_size
    )
    payload = parsed[0]
    sd_alg = payload.get(SD_ALG_KEY, SD_ALG)
    if sd_alg != SD_ALG:
        raise CredentialError(ReasonCode.SD_ALG_UNSUPPORTED, "unsupported _sd_alg", field=SD_ALG_KEY)
    current = time.time() if now is None else now
    if check_validity:
        _check_validity(payload, current, skew)

    claims, paths = _unfold(payload, *_decode_disclosures(disclosures))

    key_binding = None
    if kb_jwt is not None:
        key_binding = _verify_key_binding(
            kb_jwt,
            sd_jwt[: len(sd_jwt) - len(kb_jwt)],
            payload,
            algorithms=algorithms,
            aud=aud,
            nonce=nonce,
            now=current,
            skew=skew,
            max_size=max_size,
            kb_max_age=kb_max_age,
        )
    elif require_key_binding:
        raise CredentialError(ReasonCode.HOLDER_BINDING_MISSING, "key-binding JWT required", field="kb_jwt")

    return VerifiedSdJwt(
        header=jws.header,
        payload=payload,
        claims=claims,
        disclosed_paths=sorted(paths),
        issuer_signed_jwt=jwt,
        key_binding=key_binding,
    )
