"""Builders of valid fictitious records; each test changes one thing and expects one reason code."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from civiccert.records import (
    JST,
    CopyRequest,
    ForeignResident,
    Member,
    Municipality,
    Requester,
    ResidenceCategory,
    ResidentRecord,
    individual_number_check_digit,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "records"


def valid_individual_number(first_eleven: str) -> str:
    return first_eleven + individual_number_check_digit(first_eleven)


def member_kwargs(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": "見本　太郎",
        "name_kana": "ミホン　タロウ",
        "birth_date": date(1980, 4, 1),
        "sex": "男",
        "relationship": "世帯主",
        "resident_since": date(2015, 6, 1),
        "address_since": date(2015, 6, 1),
        "notified_on": date(2015, 6, 10),
        "honseki": "千葉県松戸市見本町一丁目2番地",
        "hitto": "見本　太郎",
        "individual_number": valid_individual_number("10000000001"),
        "resident_code": "10000000001",
    }
    values.update(overrides)
    return values


def foreign_member_kwargs(**overrides: Any) -> dict[str, Any]:
    values = member_kwargs(
        name="SAMPLE JOHN",
        name_kana="サンプル　ジョン",
        relationship="夫",
        honseki=None,
        hitto=None,
        individual_number=valid_individual_number("20000000002"),
        resident_code="20000000002",
        foreign=ForeignResident(
            nationality="アメリカ合衆国",
            category=ResidenceCategory.MID_LONG_TERM,
            status_of_residence="技術・人文知識・国際業務",
            period_of_stay="5年",
            period_expires=date(2030, 1, 15),
            residence_card_number="AB12345678CD",
        ),
    )
    values.update(overrides)
    return values


def household_members() -> tuple[Member, ...]:
    return (
        Member(**member_kwargs()),
        Member(
            **member_kwargs(
                name="見本　花子",
                name_kana="ミホン　ハナコ",
                sex="女",
                relationship="妻",
                former_surname="試験",
                individual_number=valid_individual_number("10000000002"),
                resident_code="10000000002",
            )
        ),
        Member(
            **member_kwargs(
                name="見本　𠮷男",
                name_kana=None,
                relationship="子",
                birth_date=date(2016, 2, 29),
                resident_since=date(2016, 2, 29),
                address_since=date(2016, 2, 29),
                notified_on=date(2016, 3, 7),
                individual_number=valid_individual_number("10000000003"),
                resident_code="10000000003",
            )
        ),
    )


def record_kwargs(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "municipality": Municipality(code="122076", name="松戸市"),
        "serial": "MATSUDO-2026-000001",
        "issued_at": datetime(2026, 11, 26, 10, 0, tzinfo=JST),
        "address": "千葉県松戸市見本町一丁目2番3号",
        "address_extra": "見本ハイツ101号室",
        "householder": "見本　太郎",
        "members": household_members(),
        "request": CopyRequest(Requester.SELF),
    }
    values.update(overrides)
    return values


@pytest.fixture
def make_member() -> Callable[..., Member]:
    return lambda **overrides: Member(**member_kwargs(**overrides))


@pytest.fixture
def make_foreign_member() -> Callable[..., Member]:
    return lambda **overrides: Member(**foreign_member_kwargs(**overrides))


@pytest.fixture
def make_record() -> Callable[..., ResidentRecord]:
    return lambda **overrides: ResidentRecord(**record_kwargs(**overrides))


def png_bytes(width: int = 300, height: int = 300, *, mode: str = "RGBA") -> bytes:
    image = Image.new(mode, (width, height), 0)
    if mode != "1":
        ImageDraw.Draw(image).ellipse((2, 2, width - 3, height - 3), outline=(200, 30, 40, 255), width=3)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def make_png() -> Callable[..., bytes]:
    return png_bytes


@pytest.fixture
def examples_dir() -> Path:
    return EXAMPLES
