"""和暦 (Japanese era) dates, as printed on certificates, and the date rules records share.

Eras start on their official first day: 明治 1868-10-23 (改元の詔; 明治元年 counts from 慶応4年1月1日),
大正 1912-07-30, 昭和 1926-12-25, 平成 1989-01-08, 令和 2019-05-01. Year 1 is written 元年.

Caveat on 明治: Japan used the lunisolar calendar until 明治5年12月2日; the day after was 明治6年1月1日 =
1873-01-01. Before that a Gregorian month/day is not the Japanese date, so converting it would print a
date the register never held. We therefore support dates from 1873-01-01 (:data:`MIN_DATE`) on, which
covers every living person; earlier dates raise ``DATE_INVALID``.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from typing import NamedTuple

from civiccert.errors import ReasonCode, RecordError

__all__ = [
    "ERAS",
    "JST",
    "MIN_DATE",
    "Era",
    "check_date",
    "check_issued_at",
    "check_optional_date",
    "parse_wareki",
    "to_wareki",
]

JST = timezone(timedelta(hours=9), "JST")
"""Japan Standard Time (UTC+09:00, no daylight saving): the time zone of every issue time."""

MIN_DATE = date(1873, 1, 1)
"""First Gregorian day in Japan (明治6年1月1日); earlier dates are rejected (see module docstring)."""


class Era(NamedTuple):
    """A Japanese era and its first day (Gregorian)."""

    name: str
    start: date


ERAS: tuple[Era, ...] = (
    Era("明治", date(1868, 10, 23)),
    Era("大正", date(1912, 7, 30)),
    Era("昭和", date(1926, 12, 25)),
    Era("平成", date(1989, 1, 8)),
    Era("令和", date(2019, 5, 1)),
)

_WAREKI_RE = re.compile(r"(明治|大正|昭和|平成|令和)(元|[0-9]{1,3})年([0-9]{1,2})月([0-9]{1,2})日")


def _check_range(value: date, field: str) -> None:
    if value < MIN_DATE:
        raise RecordError(ReasonCode.DATE_INVALID, "date is before 1873-01-01", field=field)


def _era_index(value: date) -> int:
    index = 0
    for i, era in enumerate(ERAS):
        if value >= era.start:
            index = i
    return index


def to_wareki(value: date, *, field: str = "date") -> str:
    """Format a date as 和暦, e.g. ``令和6年11月26日``; year 1 as 元年 (``令和元年5月1日``)."""
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TypeError("to_wareki expects a datetime.date")
    _check_range(value, field)
    era = ERAS[_era_index(value)]
    # An era's year 1 is the Gregorian year it starts in; the era year changes on 1 January.
    year = value.year - era.start.year + 1
    year_text = "元" if year == 1 else str(year)
    return f"{era.name}{year_text}年{value.month}月{value.day}日"


def parse_wareki(text: str, *, field: str = "date") -> date:
    """Parse ``令和6年11月26日`` / ``令和元年5月1日`` (ASCII digits; ``1年`` is accepted for ``元年``).

    The date must exist and lie within its era (``平成31年5月1日`` and ``令和元年4月30日`` are rejected).
    """
    if not isinstance(text, str):
        raise TypeError("parse_wareki expects a str")
    match = _WAREKI_RE.fullmatch(text)
    if match is None:
        raise RecordError(ReasonCode.DATE_INVALID, "not a wareki date (e.g. 令和6年11月26日)", field=field)
    era_name, year_text, month_text, day_text = match.groups()
    index = next(i for i, era in enumerate(ERAS) if era.name == era_name)
    year = 1 if year_text == "元" else int(year_text)
    if year < 1:
        raise RecordError(ReasonCode.DATE_INVALID, "era year must be at least 1", field=field)
    try:
        value = date(ERAS[index].start.year + year - 1, int(month_text), int(day_text))
    except ValueError:
        raise RecordError(ReasonCode.DATE_INVALID, "date does not exist", field=field) from None
    _check_range(value, field)
    if _era_index(value) != index:
        raise RecordError(ReasonCode.DATE_INVALID, "date lies outside the named era", field=field)
    return value


def check_date(value: date, *, field: str) -> date:
    """A calendar date (not a ``datetime``) on or after :data:`MIN_DATE`."""
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TypeError(f"{field} must be a datetime.date")
    _check_range(value, field)
    return value


def check_optional_date(value: date | None, *, field: str) -> date | None:
    """Like :func:`check_date`; ``None`` means not registered."""
    return None if value is None else check_date(value, field=field)


def check_issued_at(value: datetime, *, field: str) -> datetime:
    """A timezone-aware issue time, returned converted to JST (the same instant)."""
    if not isinstance(value, datetime):
        raise TypeError(f"{field} must be a datetime.datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise RecordError(ReasonCode.DATE_INVALID, "issue time must be timezone-aware", field=field)
    converted = value.astimezone(JST)
    _check_range(converted.date(), field)
    return converted
