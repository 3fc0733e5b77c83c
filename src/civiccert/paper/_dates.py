"""Claim dates (ISO text) as printed: 和暦 via ``civiccert.records.wareki``; ISO text if not convertible."""

from __future__ import annotations

from datetime import date, datetime

from civiccert.errors import RecordError
from civiccert.records.wareki import JST, to_wareki

__all__ = ["print_date", "print_datetime"]


def print_date(value: object) -> str:
    """``1980-04-01`` -> ``昭和55年4月1日``; text that is not an ISO date is printed as it is."""
    if not isinstance(value, str):
        return "" if value is None else str(value)
    try:
        return to_wareki(date.fromisoformat(value))
    except (ValueError, RecordError):  # not ISO, or before 1873 (no Gregorian date in Japan)
        return value


def print_datetime(value: object) -> str:
    """An ISO issue time -> its JST calendar date in 和暦."""
    if not isinstance(value, str):
        return ""
    try:
        return to_wareki(datetime.fromisoformat(value).astimezone(JST).date())
    except (ValueError, RecordError):
        return value
