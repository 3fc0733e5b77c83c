"""住民票の写し: 住基法 rules, selection, nationality-specific items, dates."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest

from civiccert.errors import ReasonCode, RecordError
from civiccert.records import (
    JST,
    CopyRequest,
    ForeignResident,
    Member,
    OptionalItem,
    Requester,
    ResidenceCategory,
    ResidentRecord,
)

MakeRecord = Callable[..., ResidentRecord]
MakeMember = Callable[..., Member]


def test_optional_items_are_omitted_by_default(make_record: MakeRecord) -> None:
    record = make_record()
    assert record.omitted == tuple(OptionalItem)
    assert record.scope == "household"
    assert record.selected_members == record.members


def test_included_items_are_not_omitted(make_record: MakeRecord) -> None:
    record = make_record(request=CopyRequest(Requester.SELF, include=frozenset({"honseki", "resident_code"})))
    assert record.omitted == (OptionalItem.HOUSEHOLDER_RELATIONSHIP, OptionalItem.INDIVIDUAL_NUMBER)


@pytest.mark.parametrize("item", [OptionalItem.INDIVIDUAL_NUMBER, OptionalItem.RESIDENT_CODE])
def test_third_party_can_never_get_individual_number_or_resident_code(item: OptionalItem) -> None:
    with pytest.raises(RecordError) as info:
        CopyRequest(Requester.THIRD_PARTY, include=frozenset({item}))
    assert info.value.code is ReasonCode.ITEM_NOT_PERMITTED
    assert info.value.field == "request.include"


def test_third_party_may_ask_for_honseki_and_householder(make_record: MakeRecord) -> None:
    include = frozenset({OptionalItem.HONSEKI, OptionalItem.HOUSEHOLDER_RELATIONSHIP})
    record = make_record(request=CopyRequest("third_party", include=include))
    assert record.request.requester is Requester.THIRD_PARTY
    assert record.omitted == (OptionalItem.INDIVIDUAL_NUMBER, OptionalItem.RESIDENT_CODE)


@pytest.mark.parametrize("requester", [Requester.SELF, Requester.HOUSEHOLD])
def test_self_and_household_may_get_individual_number(make_record: MakeRecord, requester: Requester) -> None:
    record = make_record(request=CopyRequest(requester, include=frozenset({OptionalItem.INDIVIDUAL_NUMBER})))
    assert record.includes(OptionalItem.INDIVIDUAL_NUMBER)


def test_unknown_requester_or_item_is_field_invalid() -> None:
    with pytest.raises(RecordError) as info:
        CopyRequest("lawyer")  # type: ignore[arg-type]
    assert (info.value.code, info.value.field) == (ReasonCode.FIELD_INVALID, "request.requester")
    with pytest.raises(RecordError) as info:
        CopyRequest(Requester.SELF, include=frozenset({"birth_place"}))  # type: ignore[arg-type]
    assert (info.value.code, info.value.field) == (ReasonCode.FIELD_INVALID, "request.include")


@pytest.mark.parametrize("selection", [(), (0, 0), (-1,)])
def test_bad_selection_is_rejected(selection: tuple[int, ...]) -> None:
    with pytest.raises(RecordError) as info:
        CopyRequest(Requester.SELF, members=selection)
    assert info.value.code is ReasonCode.MEMBER_SELECTION_INVALID
    assert info.value.field == "request.members"


def test_selection_out_of_range_is_rejected(make_record: MakeRecord) -> None:
    with pytest.raises(RecordError) as info:
        make_record(request=CopyRequest(Requester.SELF, members=(0, 3)))
    assert info.value.code is ReasonCode.MEMBER_SELECTION_INVALID


def test_selection_is_shown_in_register_order(make_record: MakeRecord) -> None:
    record = make_record(request=CopyRequest(Requester.SELF, members=(2, 0)))
    assert record.scope == "selected"
    assert record.selected_indexes == (0, 2)
    assert record.selected_members == (record.members[0], record.members[2])


def test_foreign_resident_with_honseki_is_rejected(make_foreign_member: MakeMember) -> None:
    with pytest.raises(RecordError) as info:
        make_foreign_member(honseki="東京都千代田区見本一丁目1番地", hitto="見本　太郎")
    assert info.value.code is ReasonCode.ITEM_NOT_APPLICABLE
    assert info.value.field == "honseki"


def test_former_surname_is_for_nationals_and_common_name_for_foreign_residents(
    make_member: MakeMember, make_foreign_member: MakeMember
) -> None:
    assert make_foreign_member(common_name="見本　ジョン").common_name == "見本　ジョン"
    with pytest.raises(RecordError) as info:
        make_member(common_name="見本")
    assert (info.value.code, info.value.field) == (ReasonCode.ITEM_NOT_APPLICABLE, "common_name")
    with pytest.raises(RecordError) as info:
        make_foreign_member(former_surname="試験")
    assert (info.value.code, info.value.field) == (ReasonCode.ITEM_NOT_APPLICABLE, "former_surname")


def test_honseki_without_hitto_is_incomplete(make_member: MakeMember) -> None:
    with pytest.raises(RecordError) as info:
        make_member(hitto=None)
    assert (info.value.code, info.value.field) == (ReasonCode.FIELD_MISSING, "hitto")


def test_honseki_applies_to_nationals_only_when_requested(
    make_record: MakeRecord, make_member: MakeMember, make_foreign_member: MakeMember
) -> None:
    members = (make_member(), make_foreign_member())
    include = frozenset({OptionalItem.HONSEKI})
    record = make_record(members=members, request=CopyRequest(Requester.SELF, include=include))
    assert record.includes(OptionalItem.HONSEKI)
    with pytest.raises(RecordError) as info:
        make_record(
            members=(make_member(honseki=None, hitto=None),), request=CopyRequest(Requester.SELF, include=include)
        )
    assert (info.value.code, info.value.field) == (ReasonCode.FIELD_MISSING, "members[0].honseki")


def test_requested_individual_number_must_be_present(make_record: MakeRecord, make_member: MakeMember) -> None:
    members = (make_member(), make_member(name="見本　花子", relationship="妻", individual_number=None))
    request = CopyRequest(Requester.SELF, include=frozenset({OptionalItem.INDIVIDUAL_NUMBER}))
    with pytest.raises(RecordError) as info:
        make_record(members=members, request=request)
    assert (info.value.code, info.value.field) == (ReasonCode.FIELD_MISSING, "members[1].individual_number")
    # not requested for that member: fine
    selected = CopyRequest(Requester.SELF, members=(0,), include=frozenset({OptionalItem.INDIVIDUAL_NUMBER}))
    assert make_record(members=members, request=selected).selected_members == (members[0],)


def test_invalid_individual_number_is_rejected_even_when_not_requested(make_member: MakeMember) -> None:
    with pytest.raises(RecordError) as info:
        make_member(individual_number="123456789019")
    assert (info.value.code, info.value.field) == (ReasonCode.INDIVIDUAL_NUMBER_INVALID, "individual_number")


def test_householder_must_be_the_member_recorded_as_head(make_record: MakeRecord, make_member: MakeMember) -> None:
    with pytest.raises(RecordError) as info:
        make_record(householder="見本　次郎")
    assert (info.value.code, info.value.field) == (ReasonCode.HOUSEHOLDER_INVALID, "household.householder")
    with pytest.raises(RecordError) as info:
        make_record(members=(make_member(), make_member(name="見本　次郎")))
    assert (info.value.code, info.value.field) == (ReasonCode.HOUSEHOLDER_INVALID, "members")
    with pytest.raises(RecordError) as info:
        make_record(members=(make_member(relationship="妻"),))
    assert info.value.code is ReasonCode.HOUSEHOLDER_INVALID


def test_name_kana_none_means_not_yet_recorded(make_member: MakeMember) -> None:
    assert make_member(name_kana=None).name_kana is None
    with pytest.raises(RecordError) as info:
        make_member(name_kana="みほん　たろう")
    assert (info.value.code, info.value.field) == (ReasonCode.KANA_INVALID, "name_kana")


def test_ivs_and_ext_b_names_are_kept_byte_exact(make_record: MakeRecord, make_member: MakeMember) -> None:
    name = "葛\U000e0100城　𠮷男"
    record = make_record(members=(make_member(name=name, hitto=name),), householder=name)
    assert record.members[0].name.encode("utf-8") == name.encode("utf-8")
    assert record.householder == name


def test_decomposed_name_is_rejected(make_member: MakeMember) -> None:
    with pytest.raises(RecordError) as info:
        make_member(name="見本　か\u3099く")
    assert (info.value.code, info.value.field) == (ReasonCode.TEXT_NOT_NFC, "name")


def test_unknown_sex_is_field_invalid(make_member: MakeMember) -> None:
    assert make_member(sex="女").sex.value == "女"
    with pytest.raises(RecordError) as info:
        make_member(sex="M")
    assert (info.value.code, info.value.field) == (ReasonCode.FIELD_INVALID, "sex")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"resident_since": date(1979, 1, 1)}, "resident_since"),
        ({"address_since": date(2015, 5, 31)}, "address_since"),
        ({"notified_on": date(1979, 1, 1)}, "notified_on"),
    ],
)
def test_contradicting_dates_are_rejected(make_member: MakeMember, overrides: dict[str, date], field: str) -> None:
    with pytest.raises(RecordError) as info:
        make_member(**overrides)
    assert (info.value.code, info.value.field) == (ReasonCode.DATE_ORDER, field)


def test_dates_after_issue_are_rejected(make_record: MakeRecord, make_member: MakeMember) -> None:
    late = make_member(
        name="見本　未来",
        relationship="子",
        birth_date=date(2026, 11, 27),
        resident_since=date(2026, 11, 27),
        address_since=None,
        notified_on=None,
    )
    with pytest.raises(RecordError) as info:
        make_record(members=(make_member(), late))
    assert (info.value.code, info.value.field) == (ReasonCode.DATE_ORDER, "members[1].birth_date")


def test_issue_time_must_be_aware_and_is_stored_in_jst(make_record: MakeRecord) -> None:
    with pytest.raises(RecordError) as info:
        make_record(issued_at=datetime(2026, 11, 26, 10, 0))
    assert (info.value.code, info.value.field) == (ReasonCode.DATE_INVALID, "certificate.issued_at")
    utc = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)
    record = make_record(issued_at=utc)
    assert record.issued_at == utc
    assert record.issued_at.utcoffset() == timedelta(hours=9)
    assert record.issued_at.tzinfo is JST


def test_records_are_frozen(make_record: MakeRecord) -> None:
    record = make_record()
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.serial = "other"  # type: ignore[misc]
    assert isinstance(record.members, tuple)


def test_record_needs_members(make_record: MakeRecord) -> None:
    with pytest.raises(RecordError) as info:
        make_record(members=())
    assert info.value.code is ReasonCode.FIELD_MISSING


def test_mid_long_term_resident_needs_status_and_card() -> None:
    with pytest.raises(RecordError) as info:
        ForeignResident(
            nationality="アメリカ合衆国",
            category=ResidenceCategory.MID_LONG_TERM,
            status_of_residence="技術・人文知識・国際業務",
        )
    assert (info.value.code, info.value.field) == (
        ReasonCode.FOREIGN_RESIDENT_INCOMPLETE,
        "foreign.residence_card_number",
    )
    with pytest.raises(RecordError) as info:
        ForeignResident(nationality="アメリカ合衆国", category="中長期在留者", residence_card_number="AB12345678CD")
    assert info.value.field == "foreign.status_of_residence"


def test_permanent_resident_has_no_period_but_period_parts_come_together() -> None:
    permanent = ForeignResident(
        nationality="ブラジル",
        category=ResidenceCategory.MID_LONG_TERM,
        status_of_residence="永住者",
        residence_card_number="AB12345678CD",
    )
    assert permanent.period_expires is None
    with pytest.raises(RecordError) as info:
        ForeignResident(
            nationality="ブラジル",
            category=ResidenceCategory.MID_LONG_TERM,
            status_of_residence="定住者",
            period_of_stay="3年",
            residence_card_number="AB12345678CD",
        )
    assert (info.value.code, info.value.field) == (ReasonCode.FOREIGN_RESIDENT_INCOMPLETE, "foreign.period_expires")


def test_special_permanent_resident_has_no_status_of_residence() -> None:
    ok = ForeignResident(nationality="韓国", category="特別永住者", residence_card_number="AB12345678CD")
    assert ok.category is ResidenceCategory.SPECIAL_PERMANENT
    with pytest.raises(RecordError) as info:
        ForeignResident(
            nationality="韓国",
            category="特別永住者",
            status_of_residence="永住者",
            residence_card_number="AB12345678CD",
        )
    assert (info.value.code, info.value.field) == (ReasonCode.ITEM_NOT_APPLICABLE, "foreign.status_of_residence")


def test_transitional_categories_hold_no_card() -> None:
    assert ForeignResident(nationality="中国", category="出生による経過滞在者").residence_card_number is None
    with pytest.raises(RecordError) as info:
        ForeignResident(nationality="中国", category="国籍喪失による経過滞在者", residence_card_number="AB12345678CD")
    assert info.value.code is ReasonCode.ITEM_NOT_APPLICABLE
    with pytest.raises(RecordError) as info:
        ForeignResident(nationality="中国", category=ResidenceCategory.PROVISIONAL_STAY)
    assert (info.value.code, info.value.field) == (ReasonCode.FOREIGN_RESIDENT_INCOMPLETE, "foreign.period_expires")


def test_bad_residence_card_number_is_rejected() -> None:
    with pytest.raises(RecordError) as info:
        ForeignResident(nationality="中国", category="特別永住者", residence_card_number="AB1234567CD")
    assert (info.value.code, info.value.field) == (ReasonCode.RESIDENCE_CARD_INVALID, "foreign.residence_card_number")
