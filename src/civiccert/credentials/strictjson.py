"""Strict JSON: duplicate member names, NaN/Infinity and deep nesting are refused.

Reading checks size (``json_loads``), nesting depth, then structure, and raises ``CredentialError`` with
a reason code. orjson reads a text only where its result provably equals the strict stdlib parser's
(``_canonical``); writing is compact UTF-8 (what we sign and disclose).
"""

from __future__ import annotations

import binascii
import json
import math
import re
from collections.abc import Callable, Sequence
from itertools import accumulate, repeat
from typing import Any

from civiccert.credentials._native import jsonscan as _jsonscan
from civiccert.credentials.b64url import _CANONICAL_ENDS, _PADDING, _STRICT_TILDE
from civiccert.errors import CredentialError, ReasonCode

try:  # a fast exact reader: used only where its result provably equals the strict parser's (see _canonical)
    import orjson as _orjson
except ImportError:  # pragma: no cover - orjson is a declared dependency; the stdlib path is complete alone
    _orjson = None  # type: ignore[assignment]

__all__ = [
    "DEFAULT_MAX_SIZE",
    "MAX_JSON_DEPTH",
    "b64url_json_many",
    "json_depth_ok",
    "json_dumps",
    "json_loads",
    "json_parse",
    "json_text",
]

#: Default cap for one compact credential / JWS, checked before any decoding (256 KiB).
DEFAULT_MAX_SIZE = 256 * 1024


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

