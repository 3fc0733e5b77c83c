"""Record -> claims: the DESIGN.md vocabulary, Sd markers, selected members, omitted items, labels."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from civiccert.credentials.claims import (
    CLAIM_LABELS_EN,
    CLAIM_LABELS_JA,
    VCT_RESIDENT_RECORD,
    VCT_SEAL_CERTIFICATE,
    record_claims,
)
from civiccert.credentials.sdjwt import Sd
from civiccert.records import OptionalItem, ResidentRecord, SealCertificate, load_record

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "records"


def _names(node: Any) -> set[str]:
    """Every claim name in a body, markers unwrapped."""
    found: set[str] = set()
    if isinstance(node, Sd):
        return _names(node.value)
    if isinstance(node, dict):
        for key, value in node.items():
            found.add(key.value if isinstance(key, Sd) else key)
            found |= _names(value)
    elif isinstance(node, list):
        for item in node:
            found |= _names(item)
    return found


def test_vct_constants() -> None:
    assert VCT_RESIDENT_RECORD == "urn:civiccert:vct:juminhyo:1"
    assert VCT_SEAL_CERTIFICATE == "urn:civiccert:vct:inkan-toroku:1"


def test_selected_member_copy_has_exactly_the_vocabulary() -> None:
    record = load_record(EXAMPLES / "household-foreign.json")
    vct, body = record_claims(record)
    assert vct == VCT_RESIDENT_RECORD
    assert body == {
        "municipality": {"code": "122076", "name": "松戸市"},
        "certificate": {
            "serial": "MATSUDO-2026-000124",
            "issued_at": "2026-11-26T10:05:00+09:00",
            "scope": "selected",
            "requester": "self",
        },
        "omitted": ["householder_relationship", "honseki", "resident_code"],
        "household": {Sd("address"): "千葉県松戸市見本町二丁目5番8号"},
        "members": [
            Sd(
                {
                    Sd("name"): "SAMPLE JOHN",
                    Sd("name_kana"): "サンプル　ジョン",
                    Sd("common_name"): "見本　ジョン",
                    Sd("birth_date"): "1988-03-03",
                    Sd("sex"): "男",
                    Sd("resident_since"): "2021-01-15",
                    Sd("address_since"): "2022-10-01",
                    Sd("notified_on"): "2022-10-05",
                    Sd("previous_address"): "千葉県松戸市見本町一丁目9番9号",
                    Sd("individual_number"): "200000000026",
                    Sd("foreign"): {
                        "nationality": "アメリカ合衆国",
                        "status_of_residence": "技術・人文知識・国際業務",
                        "period_of_stay": "5年",
                        "period_expires": "2030-01-15",
                        "residence_card_number": "AB12345678CD",
                        "category": "中長期在留者",
                    },
                }
            )
        ],
    }


def test_whole_household_with_defaults_omits_every_optional_item() -> None:
    doc = load_record(EXAMPLES / "household-matsudo.json")
    assert isinstance(doc, ResidentRecord)
    record = ResidentRecord(
        municipality=doc.municipality,
        serial=doc.serial,
        issued_at=doc.issued_at,
        address=doc.address,
        householder=doc.householder,
        members=doc.members,
        address_extra=doc.address_extra,
        request=type(doc.request)("self"),
    )
    _, body = record_claims(record)
    assert body["omitted"] == [item.value for item in OptionalItem]
    assert body["certificate"]["scope"] == "household"
    assert len(body["members"]) == 4
    names = _names(body)
    for hidden in ("householder", "relationship", "honseki", "hitto", "individual_number", "resident_code"):
        assert hidden not in names
    assert Sd("address_extra") in body["household"]


def test_not_yet_recorded_furigana_is_null_and_present() -> None:
    record = load_record(EXAMPLES / "household-matsudo.json")
    _, body = record_claims(record)
    kana = [member.value[Sd("name_kana")] for member in body["members"]]
    assert None in kana
    assert all(Sd("name_kana") in member.value for member in body["members"])


def test_householder_relationship_adds_householder_and_relationship() -> None:
    record = load_record(EXAMPLES / "household-matsudo.json")
    _, body = record_claims(record)
    assert body["household"][Sd("householder")] == "見本　太郎"
    assert [m.value[Sd("relationship")] for m in body["members"]] == ["世帯主", "妻", "子", "子"]
    assert "householder_relationship" not in body["omitted"]


def test_honseki_is_absent_for_foreign_members_even_when_included() -> None:
    doc = load_record(EXAMPLES / "household-foreign.json")
    assert isinstance(doc, ResidentRecord)
    record = ResidentRecord(
        municipality=doc.municipality,
        serial=doc.serial,
        issued_at=doc.issued_at,
        address=doc.address,
        householder=doc.householder,
        members=doc.members,
        request=type(doc.request)("self", include=frozenset({OptionalItem.HONSEKI})),
    )
    _, body = record_claims(record)
    national, foreign = (m.value for m in body["members"])
    assert national[Sd("honseki")] == "東京都千代田区試験町一丁目1番地"
    assert national[Sd("hitto")] == "見本　一夫"
    assert Sd("honseki") not in foreign
    assert Sd("foreign") not in national


def test_seal_certificate_claims() -> None:
    record = load_record(EXAMPLES / "seal-registrant.json")
    assert isinstance(record, SealCertificate)
    vct, body = record_claims(record)
    assert vct == VCT_SEAL_CERTIFICATE
    png = (EXAMPLES / "seal-registrant.png").read_bytes()
    assert body["certificate"] == {"serial": "MATSUDO-INKAN-2026-000045", "issued_at": "2026-11-26T10:10:00+09:00"}
    assert body["registrant"] == {
        Sd("name"): "見本　花子",
        Sd("former_surname"): "試験",
        Sd("birth_date"): "1982-09-15",
        Sd("sex"): "女",
        Sd("address"): "千葉県松戸市見本町一丁目2番3号見本ハイツ101号室",
    }
    seal = body["seal"]
    assert base64.b64decode(seal[Sd("image_png")], validate=True) == png
    assert seal[Sd("image_sha256")] == hashlib.sha256(png).hexdigest()
    assert seal[Sd("size_mm")] == 15.0


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.name)
def test_every_claim_name_has_japanese_and_english_labels(path: Path) -> None:
    _, body = record_claims(load_record(path))
    missing = _names(body) - set(CLAIM_LABELS_JA)
    assert not missing


def test_label_tables_cover_the_same_names_and_every_optional_item() -> None:
    assert set(CLAIM_LABELS_JA) == set(CLAIM_LABELS_EN)
    assert {item.value for item in OptionalItem} <= set(CLAIM_LABELS_JA)
    assert CLAIM_LABELS_JA["name"] == "氏名"
    assert CLAIM_LABELS_JA["name_kana"] == "氏名の振り仮名"
    assert CLAIM_LABELS_JA["birth_date"] == "生年月日"


def test_other_objects_are_a_programming_error() -> None:
    with pytest.raises(TypeError):
        record_claims("not a record")  # type: ignore[arg-type]


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("household-*.json")), ids=lambda p: p.stem)
@pytest.mark.parametrize("every_item", [False, True])
def test_compiled_member_loop_builds_the_python_loops_claims(
    path: Path, every_item: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from civiccert.credentials import claims

    if claims._sdissue_c is None:
        pytest.skip("the compiled helper is not built here (or CIVICCERT_PURE_PYTHON=1)")
    data = json.loads(path.read_text(encoding="utf-8"))
    if every_item:
        data["request"]["include"] = [item.value for item in OptionalItem]
    record = load_record(data)
    compiled = record_claims(record)
    monkeypatch.setattr(claims, "_sdissue_c", None)
    python = record_claims(record)
    assert compiled == python
    assert repr(compiled) == repr(python)  # the same claims in the same order: the same disclosures


def test_compiled_member_loop_writes_dates_and_the_sex_enum_as_python_does() -> None:
    import datetime
    import enum

    from civiccert.credentials import claims

    if claims._sdissue_c is None:
        pytest.skip("the compiled helper is not built here (or CIVICCERT_PURE_PYTHON=1)")

    class Later(datetime.date):  # a date subclass keeps its own isoformat
        def isoformat(self) -> str:
            return "later"

    class Sex(enum.Enum):
        FEMALE = "female"

    values = (datetime.date(7, 1, 2), datetime.date(9999, 12, 31), Later(2020, 2, 3),
              datetime.datetime(2020, 1, 2, 3, 4, 5), Sex.FEMALE)
    marks = tuple(Sd(f"m{i}") for i in range(len(values)))
    body: dict[Any, Any] = {}
    claims._sdissue_c.fill_member(body, marks, tuple(hash(m) for m in marks), values, marks[-1], datetime.date)
    assert list(body.values()) == ["0007-01-02", "9999-12-31", "later", "2020-01-02T03:04:05", "female"]


@given(st.lists(st.dates(), min_size=1, max_size=8))
@settings(max_examples=200, deadline=None)
def test_compiled_member_loop_writes_every_date_as_isoformat(dates: list[Any]) -> None:
    """The compiled loop writes a date's digits by hand: every date from 0001-01-01 to 9999-12-31 as
    ``date.isoformat`` does."""
    import datetime

    from civiccert.credentials import claims

    if claims._sdissue_c is None:
        pytest.skip("the compiled helper is not built here (or CIVICCERT_PURE_PYTHON=1)")
    marks = tuple(Sd(f"m{i}") for i in range(len(dates)))
    body: dict[Any, Any] = {}
    claims._sdissue_c.fill_member(body, marks, tuple(hash(m) for m in marks), tuple(dates), Sd("sex"), datetime.date)
    assert list(body.values()) == [d.isoformat() for d in dates]
