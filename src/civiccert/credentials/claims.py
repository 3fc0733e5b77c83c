"""Record -> credential claims, following the claim vocabulary of docs/DESIGN.md.

Every personal item is wrapped in an :class:`~civiccert.credentials.sdjwt.Sd` marker (``{Sd("name"): ...}``
for keys, ``[Sd({...}), ...]`` for array elements); the municipality, certificate metadata and ``omitted``
stay plain. Only the selected members and the included optional items appear; absent items are absent,
never ``null``. The one deliberate ``null``: ``name_kana`` is ``None`` when the 振り仮名 is not yet recorded
(renderers print :data:`~civiccert.records.juminhyo.NAME_KANA_NOT_RECORDED_JA`).

Dates are ISO ``YYYY-MM-DD``; ``issued_at`` is ISO 8601 to the second in ``+09:00``; members appear in
register order. The issuer adds the envelope (``iss``, ``iat``, ``vct``, ...).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import date
from functools import lru_cache
from operator import attrgetter
from typing import Any

from civiccert._frozen import frozen_builder
from civiccert.credentials._native import sdissue as _sdissue_c  # None: the loop in Python
from civiccert.credentials.sdjwt import Sd
from civiccert.records.juminhyo import ForeignResident, Member, OptionalItem, ResidentRecord
from civiccert.records.seal import SealCertificate

__all__ = [
    "CLAIM_LABELS_EN",
    "CLAIM_LABELS_JA",
    "VCT_RESIDENT_RECORD",
    "VCT_SEAL_CERTIFICATE",
    "record_claims",
]

VCT_RESIDENT_RECORD = "urn:civiccert:vct:juminhyo:1"
VCT_SEAL_CERTIFICATE = "urn:civiccert:vct:inkan-toroku:1"

CLAIM_LABELS_JA: dict[str, str] = {
    # Look up a dotted path first (``municipality.name``), then the bare claim name.
    "municipality": "発行市区町村",
    "municipality.name": "市区町村名",
    "code": "地方公共団体コード",
    "certificate": "証明書",
    "serial": "証明書番号",
    "issued_at": "発行日時",
    "scope": "証明の範囲",
    "requester": "請求者の区分",
    "omitted": "省略した事項",
    "household": "世帯",
    "address": "住所",
    "address_extra": "方書",
    "householder": "世帯主",
    "householder_relationship": "世帯主の氏名及び世帯主との続柄",
    "members": "世帯員",
    "name": "氏名",
    "name_kana": "氏名の振り仮名",
    "former_surname": "旧氏",
    "common_name": "通称",
    "birth_date": "生年月日",
    "sex": "性別",
    "relationship": "続柄",
    "resident_since": "住民となった年月日",
    "address_since": "住所を定めた年月日",
    "notified_on": "届出日",
    "previous_address": "前住所",
    "honseki": "本籍",
    "hitto": "筆頭者",
    "individual_number": "個人番号",
    "resident_code": "住民票コード",
    "foreign": "外国人住民に係る事項",
    "nationality": "国籍・地域",
    "status_of_residence": "在留資格",
    "period_of_stay": "在留期間",
    "period_expires": "在留期間の満了の日",
    "residence_card_number": "在留カード等の番号",
    "category": "第30条の45に規定する区分",
    "registrant": "登録者",
    "seal": "登録印影",
    "image_png": "印影",
    "image_sha256": "印影のSHA-256",
    "size_mm": "印影の大きさ（mm）",
}
"""Japanese label of each claim name (and of ``omitted`` entries), for the verifier and the PDF."""

CLAIM_LABELS_EN: dict[str, str] = {
    "municipality": "Issuing municipality",
    "municipality.name": "Municipality",
    "code": "Local government code",
    "certificate": "Certificate",
    "serial": "Certificate number",
    "issued_at": "Issued at",
    "scope": "Scope",
    "requester": "Requester",
    "omitted": "Omitted items",
    "household": "Household",
    "address": "Address",
    "address_extra": "Building / room",
    "householder": "Head of household",
    "householder_relationship": "Head of household and relationship",
    "members": "Members",
    "name": "Name",
    "name_kana": "Name (katakana reading)",
    "former_surname": "Former surname",
    "common_name": "Common name",
    "birth_date": "Date of birth",
    "sex": "Sex",
    "relationship": "Relationship to head of household",
    "resident_since": "Resident since",
    "address_since": "Address since",
    "notified_on": "Notified on",
    "previous_address": "Previous address",
    "honseki": "Registered domicile (honseki)",
    "hitto": "Head of family register",
    "individual_number": "Individual Number",
    "resident_code": "Resident register code",
    "foreign": "Foreign resident details",
    "nationality": "Nationality / region",
    "status_of_residence": "Status of residence",
    "period_of_stay": "Period of stay",
    "period_expires": "Period of stay expires",
    "residence_card_number": "Residence card number",
    "category": "Category (Article 30-45)",
    "registrant": "Registrant",
    "seal": "Registered seal",
    "image_png": "Seal impression",
    "image_sha256": "Seal impression SHA-256",
    "size_mm": "Seal size (mm)",
}
"""English label of each claim name; same keys as :data:`CLAIM_LABELS_JA`."""


def record_claims(record: ResidentRecord | SealCertificate) -> tuple[str, dict[Any, Any]]:
    """Return ``(vct, body)`` for a record; ``body`` carries ``Sd`` markers for the SD-JWT issuer."""
    if isinstance(record, ResidentRecord):
        return VCT_RESIDENT_RECORD, _resident_claims(record)
    if isinstance(record, SealCertificate):
        return VCT_SEAL_CERTIFICATE, _seal_claims(record)
    raise TypeError("record must be a ResidentRecord or a SealCertificate")


def _iso(value: date) -> str:
    return value.isoformat()


#: One ``Sd`` per claim name, made once: a marker is immutable, and making one (a frozen dataclass) costs
#: about as much as hashing it, for each of the ~60 claims of a household.
_MARKS: dict[str, Sd] = {}


def _mark(name: str) -> Sd:
    mark = _MARKS.get(name)
    if mark is None:
        mark = _MARKS[name] = Sd(name)
    return mark


def _put(target: dict[Any, Any], name: str, value: Any) -> None:
    """Add a selectively disclosable claim unless the item is not registered."""
    if value is not None:
        target[_mark(name)] = _iso(value) if type(value) is date or isinstance(value, date) else value


def _foreign_claims(foreign: ForeignResident) -> dict[str, Any]:
    items: dict[str, Any] = {"nationality": foreign.nationality}
    if foreign.status_of_residence is not None:
        items["status_of_residence"] = foreign.status_of_residence
    if foreign.period_of_stay is not None:
        items["period_of_stay"] = foreign.period_of_stay
    if foreign.period_expires is not None:
        items["period_expires"] = _iso(foreign.period_expires)
    if foreign.residence_card_number is not None:
        items["residence_card_number"] = foreign.residence_card_number
    items["category"] = foreign.category.value
    return items


#: A member's claims in their order, each with the optional item that must be requested for it (or None).
_MEMBER_FIELDS: tuple[tuple[str, OptionalItem | None], ...] = (
    ("former_surname", None),
    ("common_name", None),
    ("birth_date", None),
    ("sex", None),
    ("relationship", OptionalItem.HOUSEHOLDER_RELATIONSHIP),
    ("resident_since", None),
    ("address_since", None),
    ("notified_on", None),
    ("previous_address", None),
    ("honseki", OptionalItem.HONSEKI),
    ("hitto", OptionalItem.HONSEKI),
    ("individual_number", OptionalItem.INDIVIDUAL_NUMBER),
    ("resident_code", OptionalItem.RESIDENT_CODE),
)


_MemberFields = tuple[tuple[Sd, ...], Callable[[Member], tuple[Any, ...]], tuple[int, ...]]


@lru_cache(maxsize=64)
def _member_fields(include: frozenset[OptionalItem]) -> _MemberFields:
    """The markers of the member claims a request including ``include`` shows, one C-level getter of their
    attributes (in the same order) and the markers' hashes: made once per distinct request, not per member."""
    names = [name for name, item in _MEMBER_FIELDS if item is None or item in include]
    marks = tuple(_mark(name) for name in names)
    return marks, attrgetter(*names), tuple(hash(mark) for mark in marks)


#: ``Sd(value)`` without the frozen dataclass's ``__setattr__`` (an element marker per member, per record).
_sd = frozen_builder(Sd)

_NAME, _NAME_KANA, _SEX, _FOREIGN = _mark("name"), _mark("name_kana"), _mark("sex"), _mark("foreign")


def _member_claims(member: Member, fields: _MemberFields) -> dict[Any, Any]:
    # The issue path's hottest Python (once per claim): a plain loop over values fetched in one C call.
    marks, values_of, hashes = fields
    body: dict[Any, Any] = {_NAME: member.name, _NAME_KANA: member.name_kana}
    if _sdissue_c is not None:  # the same loop in C, each marker inserted under its hash from _member_fields
        _sdissue_c.fill_member(body, marks, hashes, values_of(member), _SEX, date)
        if member.foreign is not None:
            body[_FOREIGN] = _foreign_claims(member.foreign)
        return body
    for mark, raw in zip(marks, values_of(member), strict=True):
        if raw is None:
            continue
        value = raw
        if type(raw) is not str:
            if mark is _SEX:
                value = raw.value
            elif isinstance(raw, date):
                value = raw.isoformat()
        body[mark] = value
    if member.foreign is not None:
        body[_FOREIGN] = _foreign_claims(member.foreign)
    return body


def _resident_claims(record: ResidentRecord) -> dict[Any, Any]:
    fields = _member_fields(record.request.include)
    household: dict[Any, Any] = {_mark("address"): record.address}
    _put(household, "address_extra", record.address_extra)
    if record.includes(OptionalItem.HOUSEHOLDER_RELATIONSHIP):
        _put(household, "householder", record.householder)
    return {
        "municipality": {"code": record.municipality.code, "name": record.municipality.name},
        "certificate": {
            "serial": record.serial,
            "issued_at": record.issued_at.isoformat(timespec="seconds"),
            "scope": record.scope,
            "requester": record.request.requester.value,
        },
        "omitted": [item.value for item in record.omitted],
        "household": household,
        "members": [_sd(value=_member_claims(member, fields)) for member in record.selected_members],
    }


def _seal_claims(record: SealCertificate) -> dict[Any, Any]:
    person = record.registrant
    registrant: dict[Any, Any] = {_mark("name"): person.name}
    _put(registrant, "former_surname", person.former_surname)
    _put(registrant, "common_name", person.common_name)
    _put(registrant, "birth_date", person.birth_date)
    _put(registrant, "sex", person.sex.value)
    _put(registrant, "address", person.address)
    return {
        "municipality": {"code": record.municipality.code, "name": record.municipality.name},
        "certificate": {"serial": record.serial, "issued_at": record.issued_at.isoformat(timespec="seconds")},
        "registrant": registrant,
        "seal": {
            Sd("image_png"): base64.b64encode(record.seal.png).decode("ascii"),
            Sd("image_sha256"): record.seal.sha256,
            Sd("size_mm"): record.seal.size_mm,
        },
    }
