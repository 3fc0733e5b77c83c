"""Identifier checks: 全国地方公共団体コード, 個人番号, 住民票コード, 在留カード番号.

Each ``check_*`` function returns the value unchanged or raises :class:`RecordError` naming the field and
the rule (never the value). The ``*_check_digit`` functions are the published algorithms, exposed so that
municipal backends and tests can compute valid fictitious numbers.

住民票コード has a check digit too, but its algorithm is not published, so only the format (11 digits) is
checked: failing a genuine code on a guessed formula would be worse than not checking it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from operator import mul

from civiccert.errors import ReasonCode, RecordError
from civiccert.records.text import check_text

__all__ = [
    "Municipality",
    "check_individual_number",
    "check_municipality_code",
    "check_residence_card_number",
    "check_resident_code",
    "individual_number_check_digit",
    "municipality_check_digit",
]

_MUNICIPALITY_RE = re.compile(r"[0-9]{6}")
_INDIVIDUAL_NUMBER_RE = re.compile(r"[0-9]{12}")
_RESIDENT_CODE_RE = re.compile(r"[0-9]{11}")
# 在留カード番号 / 特別永住者証明書番号: two capital letters, eight digits, two capital letters (e.g. AB12345678CD).
_RESIDENCE_CARD_RE = re.compile(r"[A-Z]{2}[0-9]{8}[A-Z]{2}")
# Check-digit weights, left to right, and what the ASCII code of "0" (48) adds with them.
_MUNICIPALITY_WEIGHTS = (6, 5, 4, 3, 2)
_MUNICIPALITY_ZEROS = 48 * sum(_MUNICIPALITY_WEIGHTS)
_INDIVIDUAL_WEIGHTS = tuple(n + 1 if n <= 6 else n - 5 for n in range(11, 0, -1))  # Qn for n = 11..1
_INDIVIDUAL_ZEROS = 48 * sum(_INDIVIDUAL_WEIGHTS)


def municipality_check_digit(first_five: str) -> str:
    """Check digit of a 全国地方公共団体コード (総務省): weights 6..2, cd = (11 - sum mod 11) mod 10."""
    if not (len(first_five) == 5 and first_five.isascii() and first_five.isdigit()):
        raise ValueError("expected the five leading digits of a municipality code")
    total = sum(map(mul, first_five.encode("ascii"), _MUNICIPALITY_WEIGHTS)) - _MUNICIPALITY_ZEROS
    return str((11 - total % 11) % 10)


def check_municipality_code(code: str, *, field: str) -> str:
    """A six-digit 全国地方公共団体コード whose last digit is its check digit (e.g. 122076, 松戸市)."""
    if not isinstance(code, str) or not _MUNICIPALITY_RE.fullmatch(code):
        raise RecordError(ReasonCode.MUNICIPALITY_CODE_INVALID, "municipality code must be 6 ASCII digits", field=field)
    if municipality_check_digit(code[:5]) != code[5]:
        raise RecordError(ReasonCode.MUNICIPALITY_CODE_INVALID, "municipality code check digit is wrong", field=field)
    return code


def individual_number_check_digit(first_eleven: str) -> str:
    """Check digit of a 個人番号 (総務省令第85号 第5条).

    With Pn the n-th of the eleven digits counted from the right and Qn = n + 1 (n <= 6) or n - 5 (n >= 7),
    r = sum(Pn * Qn) mod 11 and the check digit is 0 when r <= 1, else 11 - r. (The weights are listed left
    to right and applied to the ASCII codes in one C-level pass; the "0"s' part is subtracted once.)
    """
    if not (len(first_eleven) == 11 and first_eleven.isascii() and first_eleven.isdigit()):
        raise ValueError("expected the eleven leading digits of an individual number")
    r = (sum(map(mul, first_eleven.encode("ascii"), _INDIVIDUAL_WEIGHTS)) - _INDIVIDUAL_ZEROS) % 11
    return "0" if r <= 1 else str(11 - r)


def check_individual_number(number: str, *, field: str) -> str:
    """A twelve-digit 個人番号 (マイナンバー) with a correct check digit."""
    if not isinstance(number, str) or not _INDIVIDUAL_NUMBER_RE.fullmatch(number):
        raise RecordError(
            ReasonCode.INDIVIDUAL_NUMBER_INVALID, "individual number must be 12 ASCII digits", field=field
        )
    if individual_number_check_digit(number[:11]) != number[11]:
        raise RecordError(ReasonCode.INDIVIDUAL_NUMBER_INVALID, "individual number check digit is wrong", field=field)
    return number


def check_resident_code(code: str, *, field: str) -> str:
    """An eleven-digit 住民票コード; format only (its check-digit formula is not published)."""
    if not isinstance(code, str) or not _RESIDENT_CODE_RE.fullmatch(code):
        raise RecordError(ReasonCode.RESIDENT_CODE_INVALID, "resident code must be 11 ASCII digits", field=field)
    return code


def check_residence_card_number(number: str, *, field: str) -> str:
    """A 在留カード番号 (or 特別永住者証明書番号): 2 capital letters, 8 digits, 2 capital letters."""
    if not isinstance(number, str) or not _RESIDENCE_CARD_RE.fullmatch(number):
        raise RecordError(
            ReasonCode.RESIDENCE_CARD_INVALID,
            "residence card number must be 2 letters, 8 digits, 2 letters",
            field=field,
        )
    return number


@dataclass(frozen=True)
class Municipality:
    """The issuing 地方公共団体: its code (with check digit) and its name as printed (e.g. 松戸市)."""

    code: str
    name: str

    def __post_init__(self) -> None:
        check_municipality_code(self.code, field="municipality.code")
        check_text(self.name, field="municipality.name", max_length=64)
