"""住民票の写し: a household's entries and what one copy of them may show.

A :class:`ResidentRecord` holds everything the register says about a household plus a :class:`CopyRequest`
(who asks, which members, which optional items). The 住民基本台帳法 rules live here, so no caller can
issue a copy the law does not allow:

* 世帯主・続柄, 本籍・筆頭者, 個人番号 and 住民票コード (:class:`OptionalItem`) are left out unless the
  request includes them; the claims then list them as ``omitted`` (a paper copy prints 「省略」).
* A third party (:attr:`Requester.THIRD_PARTY`) can never obtain 個人番号 or 住民票コード (法12条の3).
* 本籍・筆頭者 and 旧氏 exist only for Japanese nationals; 通称 and the 第30条の45 items only for
  foreign residents.

Parts (:class:`Member`, :class:`ForeignResident`) name fields relative to themselves (``birth_date``);
the record and the loader name them from the top (``members[2].birth_date``).

氏名の振り仮名 (recorded since the 2025 戸籍法 amendment): ``name_kana`` is full-width katakana, or
``None`` when it is not yet recorded. It has no default on purpose: a backend must say which, and the
claims carry ``null`` for "not yet recorded" so that a renderer prints its own placeholder
(:data:`NAME_KANA_NOT_RECORDED_JA`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from civiccert.errors import ReasonCode, RecordError
from civiccert.records.codes import (
    Municipality,
    check_individual_number,
    check_residence_card_number,
    check_resident_code,
)
from civiccert.records.text import check_choice, check_kana, check_optional_text, check_text
from civiccert.records.wareki import check_date, check_issued_at, check_optional_date

__all__ = [
    "HOUSEHOLDER_RELATIONSHIP",
    "NAME_KANA_NOT_RECORDED_JA",
    "CopyRequest",
    "ForeignResident",
    "Member",
    "OptionalItem",
    "Requester",
    "ResidenceCategory",
    "ResidentRecord",
    "Sex",
]

HOUSEHOLDER_RELATIONSHIP = "世帯主"
"""The 続柄 of the head of household; exactly one member of a household has it."""

NAME_KANA_NOT_RECORDED_JA = "（振り仮名未記載）"
"""What a renderer prints for a ``name_kana`` of ``None`` (振り仮名 not yet recorded)."""


class Sex(StrEnum):
    """性別 as printed."""

    MALE = "男"
    FEMALE = "女"


class Requester(StrEnum):
    """Who requests the copy (住基法12条 / 12条の3)."""

    SELF = "self"  # 本人
    HOUSEHOLD = "household"  # 同一世帯の者
    THIRD_PARTY = "third_party"  # 第三者 (incl. 国・地方公共団体, 弁護士等 via 職務上請求)


class OptionalItem(StrEnum):
    """Items a copy omits unless explicitly requested (住基法12条5項 / 施行令)."""

    HOUSEHOLDER_RELATIONSHIP = "householder_relationship"  # 世帯主の氏名及び世帯主との続柄
    HONSEKI = "honseki"  # 本籍及び筆頭者
    INDIVIDUAL_NUMBER = "individual_number"  # 個人番号
    RESIDENT_CODE = "resident_code"  # 住民票コード


#: Every optional item in definition order, once (iterating the enum class runs a Python generator per use).
_OPTIONAL_ITEMS: tuple[OptionalItem, ...] = tuple(OptionalItem)
_NEVER_FOR_THIRD_PARTY = frozenset({OptionalItem.INDIVIDUAL_NUMBER, OptionalItem.RESIDENT_CODE})


class ResidenceCategory(StrEnum):
    """第30条の45に規定する区分 (the kinds of foreign resident the register knows)."""

    MID_LONG_TERM = "中長期在留者"
    SPECIAL_PERMANENT = "特別永住者"
    TEMPORARY_REFUGE = "一時庇護許可者"
    PROVISIONAL_STAY = "仮滞在許可者"
    TRANSITION_BIRTH = "出生による経過滞在者"
    TRANSITION_NATIONALITY_LOSS = "国籍喪失による経過滞在者"


def _not_applicable(field_name: str, rule: str) -> RecordError:
    return RecordError(ReasonCode.ITEM_NOT_APPLICABLE, rule, field=field_name)


@dataclass(frozen=True)
class ForeignResident:
    """The items a 住民票 records for a foreign resident (住基法30条の45).

    ``residence_card_number`` holds the 在留カード番号, or for a 特別永住者 the 特別永住者証明書番号 (same
    format). Required items depend on ``category``: a 中長期在留者 needs 在留資格 and the card number; a
    特別永住者 the certificate number and no 在留資格/在留期間; 一時庇護許可者 and 仮滞在許可者 the expiry of
    their permitted period. ``period_of_stay`` and ``period_expires`` come together (永住者 has neither).
    """

    nationality: str
    category: ResidenceCategory
    status_of_residence: str | None = None
    period_of_stay: str | None = None
    period_expires: date | None = None
    residence_card_number: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "category", check_choice(ResidenceCategory, self.category, field="foreign.category"))
        check_text(self.nationality, field="foreign.nationality", max_length=64)
        check_optional_text(self.status_of_residence, field="foreign.status_of_residence", max_length=64)
        check_optional_text(self.period_of_stay, field="foreign.period_of_stay", max_length=32)
        check_optional_date(self.period_expires, field="foreign.period_expires")
        if self.residence_card_number is not None:
            check_residence_card_number(self.residence_card_number, field="foreign.residence_card_number")
        if (self.period_of_stay is None) != (self.period_expires is None):
            missing = "period_of_stay" if self.period_of_stay is None else "period_expires"
            raise RecordError(
                ReasonCode.FOREIGN_RESIDENT_INCOMPLETE,
                "period of stay and its expiry come together",
                field=f"foreign.{missing}",
            )
        self._check_category()

    def _check_category(self) -> None:
        category = self.category
        if category is ResidenceCategory.MID_LONG_TERM:
            self._require("status_of_residence", self.status_of_residence)
            self._require("residence_card_number", self.residence_card_number)
            return
        if self.status_of_residence is not None:
            raise _not_applicable("foreign.status_of_residence", "only a mid/long-term resident has a status")
        if category is ResidenceCategory.SPECIAL_PERMANENT:
            self._require("residence_card_number", self.residence_card_number)
            if self.period_of_stay is not None:
                raise _not_applicable("foreign.period_of_stay", "a special permanent resident has no period")
            return
        if self.residence_card_number is not None:
            raise _not_applicable("foreign.residence_card_number", "this category holds no card")
        if category in (ResidenceCategory.TEMPORARY_REFUGE, ResidenceCategory.PROVISIONAL_STAY):
            self._require("period_expires", self.period_expires)

    @staticmethod
    def _require(name: str, value: object) -> None:
        if value is None:
            raise RecordError(
                ReasonCode.FOREIGN_RESIDENT_INCOMPLETE,
                "item required for this residence category",
                field=f"foreign.{name}",
            )


@dataclass(frozen=True)
class Member:
    """One person's entry (住民票記載事項, 住基法7条 / 30条の45).

    ``relationship`` is the 続柄 (世帯主, 妻, 子, …); ``resident_since`` 住民となった年月日; ``address_since``
    住所を定めた年月日; ``notified_on`` 届出日 (of that move); ``previous_address`` 転入前 / 異動前の住所;
    ``honseki`` and ``hitto`` 本籍 and 筆頭者 (Japanese nationals, both or neither); ``foreign`` is set
    exactly for foreign residents.
    """

    name: str
    name_kana: str | None
    birth_date: date
    sex: Sex
    relationship: str
    resident_since: date
    former_surname: str | None = None
    common_name: str | None = None
    address_since: date | None = None
    notified_on: date | None = None
    previous_address: str | None = None
    honseki: str | None = None
    hitto: str | None = None
    individual_number: str | None = None
    resident_code: str | None = None
    foreign: ForeignResident | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "sex", check_choice(Sex, self.sex, field="sex"))
        check_text(self.name, field="name")
        if self.name_kana is not None:
            check_kana(self.name_kana, field="name_kana")
        check_optional_text(self.former_surname, field="former_surname", max_length=100)
        check_optional_text(self.common_name, field="common_name")
        check_text(self.relationship, field="relationship", max_length=32)
        check_optional_text(self.previous_address, field="previous_address", max_length=300)
        check_optional_text(self.honseki, field="honseki", max_length=300)
        check_optional_text(self.hitto, field="hitto")
        if self.individual_number is not None:
            check_individual_number(self.individual_number, field="individual_number")
        if self.resident_code is not None:
            check_resident_code(self.resident_code, field="resident_code")
        if self.foreign is not None and not isinstance(self.foreign, ForeignResident):
            raise TypeError("foreign must be a ForeignResident or None")
        self._check_nationality_items()
        self._check_dates()

    @property
    def is_foreign(self) -> bool:
        """True for a foreign resident (外国人住民)."""
        return self.foreign is not None

    def _check_nationality_items(self) -> None:
        if (self.honseki is None) != (self.hitto is None):
            missing = "honseki" if self.honseki is None else "hitto"
            raise RecordError(ReasonCode.FIELD_MISSING, "本籍 and 筆頭者 come together", field=missing)
        if self.is_foreign:
            if self.honseki is not None:
                raise _not_applicable("honseki", "a foreign resident has no 本籍")
            if self.former_surname is not None:
                raise _not_applicable("former_surname", "旧氏 is recorded for Japanese nationals only")
        elif self.common_name is not None:
            raise _not_applicable("common_name", "通称 is recorded for foreign residents only")

    def _check_dates(self) -> None:
        check_date(self.birth_date, field="birth_date")
        check_date(self.resident_since, field="resident_since")
        check_optional_date(self.address_since, field="address_since")
        check_optional_date(self.notified_on, field="notified_on")
        if self.resident_since < self.birth_date:
            raise RecordError(ReasonCode.DATE_ORDER, "became a resident before birth", field="resident_since")
        if self.address_since is not None and self.address_since < self.resident_since:
            raise RecordError(ReasonCode.DATE_ORDER, "address set before becoming a resident", field="address_since")
        if self.notified_on is not None and self.notified_on < self.birth_date:
            raise RecordError(ReasonCode.DATE_ORDER, "notified before birth", field="notified_on")

    def dates(self) -> dict[str, date]:
        """The member's registered dates by field name (for cross-checks against the issue date)."""
        found = {"birth_date": self.birth_date, "resident_since": self.resident_since}
        for name in ("address_since", "notified_on"):
            value = getattr(self, name)
            if value is not None:
                found[name] = value
        return found


@dataclass(frozen=True)
class CopyRequest:
    """Who asks for the copy, which members it covers (``None`` = the whole household, else indexes into
    :attr:`ResidentRecord.members`) and which optional items it includes."""

    requester: Requester
    members: tuple[int, ...] | None = None
    include: frozenset[OptionalItem] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        object.__setattr__(self, "requester", check_choice(Requester, self.requester, field="request.requester"))
        include = frozenset(check_choice(OptionalItem, item, field="request.include") for item in self.include)
        object.__setattr__(self, "include", include)
        if self.requester is Requester.THIRD_PARTY and include & _NEVER_FOR_THIRD_PARTY:
            raise RecordError(
                ReasonCode.ITEM_NOT_PERMITTED,
                "a third party cannot obtain the individual number or resident code",
                field="request.include",
            )
        if self.members is not None:
            object.__setattr__(self, "members", _check_selection(self.members))


def _check_selection(members: Iterable[int]) -> tuple[int, ...]:
    selected = tuple(members)
    for index in selected:
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError("request.members must hold int indexes")
    if not selected:
        raise RecordError(ReasonCode.MEMBER_SELECTION_INVALID, "selection is empty", field="request.members")
    if len(set(selected)) != len(selected):
        raise RecordError(ReasonCode.MEMBER_SELECTION_INVALID, "a member is selected twice", field="request.members")
    if min(selected) < 0:
        raise RecordError(ReasonCode.MEMBER_SELECTION_INVALID, "negative member index", field="request.members")
    return selected


@dataclass(frozen=True)
class ResidentRecord:
    """A 住民票の写し to issue: the household as registered plus the request that shapes this copy.

    ``issued_at`` must be timezone-aware and is stored in JST; ``members`` are in register order
    (世帯主 usually first). Construction validates every rule; a record that exists can be issued.
    """

    municipality: Municipality
    serial: str
    issued_at: datetime
    address: str
    householder: str
    members: tuple[Member, ...]
    request: CopyRequest
    address_extra: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.municipality, Municipality):
            raise TypeError("municipality must be a Municipality")
        if not isinstance(self.request, CopyRequest):
            raise TypeError("request must be a CopyRequest")
        members = tuple(self.members)
        if not all(isinstance(m, Member) for m in members):
            raise TypeError("members must be Member instances")
        object.__setattr__(self, "members", members)
        check_text(self.serial, field="certificate.serial", max_length=64)
        object.__setattr__(self, "issued_at", check_issued_at(self.issued_at, field="certificate.issued_at"))
        check_text(self.address, field="household.address", max_length=300)
        check_optional_text(self.address_extra, field="household.address_extra", max_length=100)
        check_text(self.householder, field="household.householder")
        if not members:
            raise RecordError(ReasonCode.FIELD_MISSING, "a household has at least one member", field="members")
        self._check_householder(members)
        self._check_dates(members)
        self._check_selection(len(members))
        self._check_included_items()

    @property
    def scope(self) -> str:
        """``"household"`` for a copy of the whole household, ``"selected"`` for some members."""
        return "household" if self.request.members is None else "selected"

    @property
    def selected_indexes(self) -> tuple[int, ...]:
        """Indexes of the members this copy shows, in register order."""
        if self.request.members is None:
            return tuple(range(len(self.members)))
        return tuple(sorted(self.request.members))

    @property
    def selected_members(self) -> tuple[Member, ...]:
        """The members this copy shows, in register order."""
        return tuple(self.members[i] for i in self.selected_indexes)

    @property
    def omitted(self) -> tuple[OptionalItem, ...]:
        """Optional items this copy leaves out (「省略」), in :class:`OptionalItem` order."""
        include = self.request.include
        return tuple(item for item in _OPTIONAL_ITEMS if item not in include)

    def includes(self, item: OptionalItem) -> bool:
        """Whether this copy shows ``item``."""
        return item in self.request.include

    def _check_householder(self, members: Sequence[Member]) -> None:
        heads = [m for m in members if m.relationship == HOUSEHOLDER_RELATIONSHIP]
        if len(heads) != 1:
            raise RecordError(
                ReasonCode.HOUSEHOLDER_INVALID, "exactly one member must have the relationship 世帯主", field="members"
            )
        if heads[0].name != self.householder:
            raise RecordError(
                ReasonCode.HOUSEHOLDER_INVALID,
                "householder name differs from the member recorded as 世帯主",
                field="household.householder",
            )

    def _check_dates(self, members: Sequence[Member]) -> None:
        issued_on = self.issued_at.date()
        for i, member in enumerate(members):
            for name, value in member.dates().items():
                if value > issued_on:
                    raise RecordError(
                        ReasonCode.DATE_ORDER, "date is after the issue date", field=f"members[{i}].{name}"
                    )

    def _check_selection(self, count: int) -> None:
        if self.request.members is not None and max(self.request.members) >= count:
            raise RecordError(ReasonCode.MEMBER_SELECTION_INVALID, "member index out of range", field="request.members")

    def _check_included_items(self) -> None:
        for i in self.selected_indexes:
            member = self.members[i]
            if self.includes(OptionalItem.HONSEKI) and not member.is_foreign and member.honseki is None:
                raise RecordError(
                    ReasonCode.FIELD_MISSING, "本籍 requested but not provided", field=f"members[{i}].honseki"
                )
            if self.includes(OptionalItem.INDIVIDUAL_NUMBER) and member.individual_number is None:
                raise RecordError(
                    ReasonCode.FIELD_MISSING,
                    "individual number requested but not provided",
                    field=f"members[{i}].individual_number",
                )
            if self.includes(OptionalItem.RESIDENT_CODE) and member.resident_code is None:
                raise RecordError(
                    ReasonCode.FIELD_MISSING,
                    "resident code requested but not provided",
                    field=f"members[{i}].resident_code",
                )
