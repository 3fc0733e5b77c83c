"""和暦: era boundaries, 元年, parsing back, and the 1873 limit."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civiccert.errors import ReasonCode, RecordError
from civiccert.records import MIN_DATE, parse_wareki, to_wareki

BOUNDARIES = [
    (date(1873, 1, 1), "明治6年1月1日"),
    (date(1912, 7, 29), "明治45年7月29日"),
    (date(1912, 7, 30), "大正元年7月30日"),
    (date(1926, 12, 24), "大正15年12月24日"),
    (date(1926, 12, 25), "昭和元年12月25日"),
    (date(1927, 1, 1), "昭和2年1月1日"),
    (date(1989, 1, 7), "昭和64年1月7日"),
    (date(1989, 1, 8), "平成元年1月8日"),
    (date(2019, 4, 30), "平成31年4月30日"),
    (date(2019, 5, 1), "令和元年5月1日"),
    (date(2024, 11, 26), "令和6年11月26日"),
]


@pytest.mark.parametrize(("value", "text"), BOUNDARIES)
def test_era_boundaries(value: date, text: str) -> None:
    assert to_wareki(value) == text
    assert parse_wareki(text) == value


def test_year_one_may_be_written_as_digit() -> None:
    assert parse_wareki("令和1年5月1日") == date(2019, 5, 1)


@pytest.mark.parametrize(
    "text",
    [
        "平成31年5月1日",
        "令和元年4月30日",
        "昭和64年1月8日",
        "令和6年2月30日",
        "令和0年1月1日",
        "明治元年10月23日",
        "令和6年11月26",
        "R6.11.26",
        "令和６年１１月２６日",
        "西暦2024年1月1日",
    ],
)
def test_invalid_wareki_is_rejected(text: str) -> None:
    with pytest.raises(RecordError) as info:
        parse_wareki(text, field="birth_date")
    assert info.value.code is ReasonCode.DATE_INVALID
    assert info.value.field == "birth_date"


def test_dates_before_the_gregorian_switch_are_rejected() -> None:
    with pytest.raises(RecordError) as info:
        to_wareki(date(1872, 12, 31))
    assert info.value.code is ReasonCode.DATE_INVALID


@given(st.dates(min_value=MIN_DATE, max_value=date(2200, 12, 31)))
def test_round_trip(value: date) -> None:
    assert parse_wareki(to_wareki(value)) == value
