"""Claim vocabulary <-> compact CBOR (table version 1): integer keys, dates as day numbers, small enums.

The paper form must fit a printable QR, so claim names become small integers and the most common values
become small integers too. Every conversion is exact: a value that would not survive the round trip (a
date that is not canonical ``YYYY-MM-DD``, an unknown enumeration value, an unknown claim name) is carried
as it is (text key / text value), so ``decode(encode(claims)) == claims`` always holds.

WARNING: the table below is part of the ``CC1:`` format. Never renumber an entry; append new ones and
bump the table version (the body's key 0 names it) when the vocabulary changes incompatibly.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from civiccert.credentials._native import sdissue as _sdissue_c  # None: the Python packer
from civiccert.credentials.sdjwt import Sd, strip_sd
from civiccert.errors import PaperError, ReasonCode

TABLE_VERSION = 1

VCT_RESIDENT_RECORD = "urn:civiccert:vct:juminhyo:1"
VCT_SEAL_CERTIFICATE = "urn:civiccert:vct:inkan-toroku:1"

_VCT = {VCT_RESIDENT_RECORD: 1, VCT_SEAL_CERTIFICATE: 2}

_EPOCH = date(1970, 1, 1).toordinal()
_JST = timezone(timedelta(hours=9))

_SEX = {"男": 1, "女": 2}
_SCOPE = {"household": 1, "selected": 2}
_REQUESTER = {"self": 1, "household": 2, "third_party": 3}
_OMITTED = {"householder_relationship": 1, "honseki": 2, "individual_number": 3, "resident_code": 4}


#: Codecs the compiled packer runs itself (by id): "date", or an enum's table. It falls back to ``pack``.
_NATIVE_CODECS: dict[int, Any] = {}


class _Codec:
    """How one claim's value is packed; ``pack`` may return the value unchanged when it cannot be exact."""

    def __init__(self, pack: Callable[[Any], Any], unpack: Callable[[Any], Any]) -> None:
        self.pack = pack
        self.unpack = unpack


def _enum(table: Mapping[str, int]) -> _Codec:
    reverse = {v: k for k, v in table.items()}
    codec = _Codec(lambda value: table.get(value, value) if isinstance(value, str) else value, _unpack_enum(reverse))
    _NATIVE_CODECS[id(codec)] = dict(table)  # the compiled packer looks exact str values up itself
    return codec


def _unpack_enum(reverse: Mapping[int, str]) -> Callable[[Any], Any]:

    def unpack(value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            if value not in reverse:
                raise _invalid()
            return reverse[value]
        return value

    return unpack


def _pack_date(value: Any) -> Any:
    if isinstance(value, str) and len(value) == 10:
        try:
            parsed = date.fromisoformat(value)
        except ValueError:
            return value
        if parsed.isoformat() == value:
            return parsed.toordinal() - _EPOCH
    return value


def _unpack_date(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return date.fromordinal(value + _EPOCH).isoformat()
        except (ValueError, OverflowError) as exc:
            raise _invalid() from exc
    return value


def _pack_time(value: Any) -> Any:
    """``2026-11-26T10:00:00+09:00`` -> unix seconds, when JST formatting gives the same text back."""
    return _pack_time_text(value) if type(value) is str else _pack_time_any(value)


@lru_cache(maxsize=256)
def _pack_time_text(value: str) -> Any:
    """``_pack_time`` of a str, remembered: a batch's records are mostly issued in the same few seconds, and
    the parse and the JST round trip cost more than the rest of the packing (a pure function of the text;
    an error is not cached and raises again)."""
    return _pack_time_any(value)


def _pack_time_any(value: Any) -> Any:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return value
        if parsed.tzinfo is not None:
            seconds = int(parsed.timestamp())
            if datetime.fromtimestamp(seconds, _JST).isoformat() == value:
                return seconds
    return value


def _unpack_time(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC).astimezone(_JST).isoformat()
        except (ValueError, OverflowError, OSError) as exc:
            raise _invalid() from exc
    return value


def _pack_b64(value: Any) -> Any:
    if isinstance(value, str):
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return value
        if base64.b64encode(raw).decode("ascii") == value:
            return raw
    return value


def _unpack_b64(value: Any) -> Any:
    return base64.b64encode(value).decode("ascii") if isinstance(value, bytes) else value


def _pack_hex(value: Any) -> Any:
    if isinstance(value, str):
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            return value
        if raw.hex() == value:
            return raw
    return value


def _unpack_hex(value: Any) -> Any:
    return value.hex() if isinstance(value, bytes) else value


def _list_of(codec: _Codec) -> _Codec:
    def pack(value: Any) -> Any:
        return [codec.pack(v) for v in value] if isinstance(value, list | tuple) else value

    def unpack(value: Any) -> Any:
        return [codec.unpack(v) for v in value] if isinstance(value, list) else value

    return _Codec(pack, unpack)


_PLAIN = _Codec(lambda v: v, lambda v: v)
_DATE = _Codec(_pack_date, _unpack_date)
_NATIVE_CODECS[id(_DATE)] = "date"  # the compiled packer reads canonical YYYY-MM-DD itself


class _Map:
    """A claim object: name -> (integer key, codec or nested _Map)."""

    def __init__(self, fields: Mapping[str, tuple[int, _Codec | _Map | _ListOfMaps]]) -> None:
        self.fields = dict(fields)
        self.by_key = {key: (name, codec) for name, (key, codec) in fields.items()}


class _ListOfMaps:
    def __init__(self, item: _Map) -> None:
        self.item = item


_FOREIGN = _Map(
    {
        "nationality": (1, _PLAIN),
        "status_of_residence": (2, _PLAIN),
        "period_of_stay": (3, _PLAIN),
        "period_expires": (4, _DATE),
        "residence_card_number": (5, _PLAIN),
        "category": (6, _PLAIN),
    }
)

# members[*] and registrant share one table: the same name has the same key in both.
_PERSON = _Map(
    {
        "name": (1, _PLAIN),
        "name_kana": (2, _PLAIN),
        "former_surname": (3, _PLAIN),
        "common_name": (4, _PLAIN),
        "birth_date": (5, _DATE),
        "sex": (6, _enum(_SEX)),
        "relationship": (7, _PLAIN),
        "resident_since": (8, _DATE),
        "address_since": (9, _DATE),
        "notified_on": (10, _DATE),
        "previous_address": (11, _PLAIN),
        "honseki": (12, _PLAIN),
        "hitto": (13, _PLAIN),
        "individual_number": (14, _PLAIN),
        "resident_code": (15, _PLAIN),
        "foreign": (16, _FOREIGN),
        "address": (17, _PLAIN),
    }
)

_BODY = _Map(
    {
        "municipality": (1, _Map({"code": (1, _PLAIN), "name": (2, _PLAIN)})),
        "certificate": (
            2,
            _Map(
                {
                    "serial": (1, _PLAIN),
                    "issued_at": (2, _Codec(_pack_time, _unpack_time)),
                    "scope": (3, _enum(_SCOPE)),
                    "requester": (4, _enum(_REQUESTER)),
                }
            ),
        ),
        "omitted": (3, _list_of(_enum(_OMITTED))),
        "household": (
            4,
            _Map({"address": (1, _PLAIN), "address_extra": (2, _PLAIN), "householder": (3, _PLAIN)}),
        ),
        "members": (5, _ListOfMaps(_PERSON)),
        "registrant": (6, _PERSON),
        "seal": (
            7,
            _Map(
                {
                    "image_png": (1, _Codec(_pack_b64, _unpack_b64)),
                    "image_sha256": (2, _Codec(_pack_hex, _unpack_hex)),
                    "size_mm": (3, _PLAIN),
                    "image_phash": (4, _Codec(_pack_hex, _unpack_hex)),  # 64-bit pHash (paper.sealphoto)
                }
            ),
        ),
    }
)


def _invalid() -> PaperError:
    return PaperError(ReasonCode.QR_PAYLOAD_INVALID, "paper claims do not match claim table v1")


def _pack(spec: _Codec | _Map | _ListOfMaps, value: Any, omit: frozenset[str]) -> Any:
    """``value`` with the integer keys of ``spec``; ``omit`` names person claims left out (the 個人番号).

    Dispatches on exact types first (the issue path runs this once per claim): ABC checks are slow.
    """
    kind = type(spec)
    if kind is _Codec:
        return value if spec is _PLAIN else spec.pack(value)  # type: ignore[union-attr]
    if kind is _ListOfMaps:
        if type(value) is not list and not isinstance(value, list | tuple):
            return value
        item = spec.item  # type: ignore[union-attr]
        return [_pack(item, v, omit) for v in value]
    if type(value) is not dict and not isinstance(value, Mapping):
        return value
    fields = spec.fields  # type: ignore[union-attr]
    skip = omit if spec is _PERSON else _NOTHING
    out: dict[Any, Any] = {}
    for name, item in value.items():
        if type(name) is not str and not isinstance(name, str):
            raise TypeError("claim names must be str")
        field = fields.get(name)
        if field is None:  # unknown claim: carried under its name, unpacked as-is
            out[name] = item
        elif name not in skip:
            key, sub = field
            out[key] = item if sub is _PLAIN else _pack(sub, item, omit)
    return out


_NOTHING: frozenset[str] = frozenset()
_INDIVIDUAL_NUMBER = frozenset({"individual_number"})


def _unpack(spec: _Codec | _Map | _ListOfMaps, value: Any) -> Any:
    if isinstance(spec, _Codec):
        return spec.unpack(value)
    if isinstance(spec, _ListOfMaps):
        return [_unpack(spec.item, v) for v in value] if isinstance(value, list) else value
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(key, str):
            if key in spec.fields:  # a known name must use its integer key
                raise _invalid()
            out[key] = item
        elif isinstance(key, int) and key in spec.by_key:
            name, sub = spec.by_key[key]
            out[name] = _unpack(sub, item)
        else:
            raise _invalid()
    return out


def pack_body(vct: str, claims: Mapping[str, Any], *, without_individual_number: bool = False) -> dict[Any, Any]:
    """Plain claims -> integer-keyed body; key 0 holds [table version, vct code or vct text].

    ``without_individual_number`` leaves the 個人番号 of ``members[*]`` and ``registrant`` out.
    """
    body: dict[Any, Any] = _pack(_BODY, claims, _INDIVIDUAL_NUMBER if without_individual_number else _NOTHING)
    body[0] = [TABLE_VERSION, _VCT.get(vct, vct)]
    return body


def _native(spec: _Codec | _Map | _ListOfMaps, memo: dict[int, dict[str, Any]]) -> Any:
    """The table as the compiled packer reads it: None (plain), a dict, [table], the codec's pack, or
    (kind, pack) for a codec it runs itself where it can ("date", or an enum's table), else by ``pack``."""
    if isinstance(spec, _Codec):
        if spec is _PLAIN:
            return None
        native = _NATIVE_CODECS.get(id(spec))
        return spec.pack if native is None else (native, spec.pack)
    if isinstance(spec, _ListOfMaps):
        return [_native(spec.item, memo)]
    if id(spec) not in memo:
        memo[id(spec)] = {name: (key, _native(sub, memo)) for name, (key, sub) in spec.fields.items()}
    return memo[id(spec)]


_NATIVE_TABLES: dict[int, dict[str, Any]] = {}
_NATIVE_BODY: dict[str, Any] = _native(_BODY, _NATIVE_TABLES)
_NATIVE_PERSON = _NATIVE_TABLES[id(_PERSON)]


def pack_marked_body(vct: str, claims: Mapping[Any, Any], *, without_individual_number: bool = False) -> dict[Any, Any]:
    """``pack_body(vct, strip_sd(claims))`` for claims that still carry the SD-JWT's ``Sd`` markers (the
    Issuer's body), in one pass by the compiled packer when it takes them."""
    if _sdissue_c is not None and type(claims) is dict:
        omit = _INDIVIDUAL_NUMBER if without_individual_number else _NOTHING
        body = _sdissue_c.pack_claims(_NATIVE_BODY, claims, Sd, _NATIVE_PERSON, omit)
        if type(body) is dict:
            body[0] = [TABLE_VERSION, _VCT.get(vct, vct)]
            return body
    return pack_body(vct, strip_sd(claims), without_individual_number=without_individual_number)


def unpack_body(body: Any) -> tuple[str, dict[str, Any]]:
    """Integer-keyed body -> (vct, plain claims); raises QR_PAYLOAD_INVALID on anything unexpected."""
    if not isinstance(body, dict) or 0 not in body:
        raise _invalid()
    header = body[0]
    if not (isinstance(header, list) and len(header) == 2 and header[0] == TABLE_VERSION):
        raise _invalid()
    vct_code = header[1]
    reverse = {v: k for k, v in _VCT.items()}
    if isinstance(vct_code, int) and vct_code in reverse:
        vct = reverse[vct_code]
    elif isinstance(vct_code, str):
        vct = vct_code
    else:
        raise _invalid()
    rest = {k: v for k, v in body.items() if k != 0}
    claims: dict[str, Any] = _unpack(_BODY, rest)
    return vct, claims
