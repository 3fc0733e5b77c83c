"""The issuer's builder (pure Python): claims with ``Sd`` markers to a payload and its disclosures.

``sdjwt.issue`` uses the compiled ``_sdissue_c`` for the common case; this is the reference it mirrors and
the path for everything else (injected salts, mappings that are not dicts, bad names that must raise).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from json.encoder import encode_basestring as _quote
from typing import Any

from civiccert.credentials._sdcore import (
    _RESERVED_NAMES,
    _STR_TYPE,
    _TO_URLSAFE,
    ARRAY_DIGEST_KEY,
    NEVER_DISCLOSABLE,
    SD_DIGESTS_KEY,
    SaltSource,
    Sd,
    _b2a,
    _b64_digests,
    _sha256,
)
from civiccert.credentials.b64url import b64url_encode
from civiccert.credentials.strictjson import json_text

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

    def _sd_array(self, hashes: list[bytes]) -> list[str]:
        """An object's ``_sd``: its disclosures' digests and the decoys, base64url, sorted (hides which is which)."""
        hashes.extend(self._decoy_hashes())
        digests = _b64_digests(hashes)
        digests.sort()
        return digests

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
            out[SD_DIGESTS_KEY] = self._sd_array(hashes)
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
            out[SD_DIGESTS_KEY] = self._sd_array(hashes)
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
