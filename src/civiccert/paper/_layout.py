"""What a printed copy says, apart from where it says it: the fixed wording and the items of each row.

Shared by the renderer (``pdf``) and the page check (``pagecheck``), which needs no PDF writer: both read
the strings here, so the text a verifier expects on a page is the text the renderer drew, in drawing order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from civiccert.paper._dates import print_date
from civiccert.records.juminhyo import NAME_KANA_NOT_RECORDED_JA

PERSONS_PER_SHEET = 4
VERIFY_HINT = "この証明書は QR コードで真正性を確認できます: civiccert verify"
SENTENCES = {
    "household": "この写しは、世帯全員の住民票の原本と相違ないことを証明する。",
    "part": "この写しは、世帯の一部の住民票の原本と相違ないことを証明する。",
    "person": "この写しは、住民票の原本と相違ないことを証明する。",
    "seal": "この写しは、登録されている印影と相違ないことを証明する。",
}
VCT_JUMINHYO = "urn:civiccert:vct:juminhyo:1"
VCT_SEAL = "urn:civiccert:vct:inkan-toroku:1"
TITLES = {VCT_JUMINHYO: "住民票の写し", VCT_SEAL: "印鑑登録証明書"}
OMITTED = "省略"
CONTINUED = "（次葉に続く）"
END_MARK = "以下余白"
SEAL_LABEL = "印影"
SEAL_ATTACHMENT = "seal.png"  # the registered impression's PNG as signed, attached to the PDF
SEAL_BOX_MM = (15.0, 60.0)  # the 印影 box: left edge and edge length, top at the title's foot (印鑑登録証明書)
SEAL_BOX_TOP_MM = 31.0  # the box's top edge from the top of the page (margin 15 mm + title band 16 mm)
SAMPLE_MARK = ("見本", "SAMPLE — 証明書として使用できません")
KANA_SEP = "\u0000"  # joins a name and its furigana in one cell value


@dataclass(frozen=True)
class Certifier:
    """Who certifies the copy: the mayor's title and name and the official seal impression (PNG)."""

    title: str
    name: str
    seal_png: bytes | None = None


def s(value: Any) -> str:
    return "" if value is None else str(value)


def item(
    person: Mapping[str, Any], key: str, omitted: set[str], omit_key: str | None = None, *, date: bool = False
) -> str:
    if omit_key is not None and omit_key in omitted and key not in person:
        return OMITTED
    value = person.get(key)
    return print_date(value) if date else s(value)


def certification_sentence(vct: str, claims: Mapping[str, Any]) -> str:
    """The 認証文 for this copy: 世帯全員 / 世帯の一部 / 個人, or the 印鑑登録証明書 wording."""
    if vct == VCT_SEAL:
        return SENTENCES["seal"]
    certificate = claims.get("certificate") or {}
    members = claims.get("members") or []
    if certificate.get("scope") == "household":
        return SENTENCES["household"]
    return SENTENCES["person"] if len(members) == 1 else SENTENCES["part"]


def person_rows(person: Mapping[str, Any], omitted: set[str], individual_number: bool
                ) -> list[list[tuple[str, str, float]]]:
    """Rows of (label, value, width share) for one person; labels as in 住民記録システム標準仕様書."""
    # name_kana is null (not absent) when the register has no 振り仮名 yet: print the legal placeholder
    kana = NAME_KANA_NOT_RECORDED_JA if "name_kana" in person and person["name_kana"] is None \
        else s(person.get("name_kana"))
    name = s(person.get("name"))
    rows: list[list[tuple[str, str, float]]] = [
        [
            ("氏名", name, 0.40),
            ("生年月日", item(person, "birth_date", omitted, date=True), 0.24),
            ("性別", s(person.get("sex")), 0.10),
            ("続柄", item(person, "relationship", omitted, "householder_relationship"), 0.26),
        ],
        [
            ("住民となった年月日", item(person, "resident_since", omitted, date=True), 0.34),
            ("住所を定めた年月日", item(person, "address_since", omitted, date=True), 0.33),
            ("届出の年月日", item(person, "notified_on", omitted, date=True), 0.33),
        ],
        [("転入前住所", s(person.get("previous_address")), 1.0)],
    ]
    foreign = person.get("foreign")
    if isinstance(foreign, Mapping):
        rows.append(
            [
                ("国籍・地域", s(foreign.get("nationality")), 0.25),
                ("在留資格", s(foreign.get("status_of_residence")), 0.30),
                ("在留期間", s(foreign.get("period_of_stay")), 0.20),
                ("在留期間の満了の日", print_date(foreign.get("period_expires")), 0.25),
            ]
        )
        rows.append(
            [
                ("在留カード等の番号", s(foreign.get("residence_card_number")), 0.34),
                ("第30条の45に規定する区分", s(foreign.get("category")), 0.66),
            ]
        )
    else:
        rows.append(
            [
                ("本籍", item(person, "honseki", omitted, "honseki"), 0.65),
                ("筆頭者", item(person, "hitto", omitted, "honseki"), 0.35),
            ]
        )
    number = item(person, "individual_number", omitted, "individual_number") if individual_number else OMITTED
    rows.append(
        [
            ("個人番号", number, 0.28),
            ("住民票コード", item(person, "resident_code", omitted, "resident_code"), 0.24),
            ("旧氏", s(person.get("former_surname")), 0.24),
            ("通称", s(person.get("common_name")), 0.24),
        ]
    )
    if kana:
        rows[0][0] = ("氏名", f"{name}{KANA_SEP}{kana}", 0.40)
    return rows


def seal_rows(registrant: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The registrant's rows beside the 印影 box of a 印鑑登録証明書."""
    return [
        ("氏名", s(registrant.get("name"))),
        ("旧氏", s(registrant.get("former_surname"))),
        ("通称", s(registrant.get("common_name"))),
        ("生年月日", print_date(registrant.get("birth_date"))),
        ("性別", s(registrant.get("sex"))),
        ("住所", s(registrant.get("address"))),
    ]


def serial_line(claims: Mapping[str, Any]) -> str:
    certificate = claims.get("certificate") or {}
    return f"発行番号 {s(certificate.get('serial'))}"


def page_of(page: int, pages: int, *, header: bool) -> str:
    return f"{page} / {pages} 枚目" if header else f"{page} / {pages}"
