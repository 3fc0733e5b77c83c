"""Check digits and formats of 地方公共団体コード, 個人番号, 住民票コード, 在留カード番号."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civiccert.errors import ReasonCode, RecordError
from civiccert.records import (
    Municipality,
    check_individual_number,
    check_municipality_code,
    check_residence_card_number,
    check_resident_code,
    individual_number_check_digit,
    municipality_check_digit,
)


@pytest.mark.parametrize("code", ["122076", "131016", "011002"])  # 松戸市, 千代田区, 札幌市
def test_published_municipality_codes_are_valid(code: str) -> None:
    assert check_municipality_code(code, field="m") == code
    assert municipality_check_digit(code[:5]) == code[5]


@pytest.mark.parametrize("code", ["122077", "122070", "12207", "1220760", "12207a", "１２２０７６", ""])
def test_bad_municipality_code_is_rejected(code: str) -> None:
    with pytest.raises(RecordError) as info:
        check_municipality_code(code, field="municipality.code")
    assert info.value.code is ReasonCode.MUNICIPALITY_CODE_INVALID
    assert info.value.field == "municipality.code"


def test_municipality_rejects_wrong_check_digit_on_construction() -> None:
    with pytest.raises(RecordError) as info:
        Municipality(code="122075", name="松戸市")
    assert info.value.code is ReasonCode.MUNICIPALITY_CODE_INVALID


def test_individual_number_vector_from_the_ordinance() -> None:
    assert check_individual_number("123456789018", field="n") == "123456789018"
    assert individual_number_check_digit("12345678901") == "8"


@pytest.mark.parametrize(
    "number", ["123456789019", "12345678901", "1234567890180", "12345678901X", "１２３４５６７８９０１８"]
)
def test_bad_individual_number_is_rejected_without_echoing_it(number: str) -> None:
    with pytest.raises(RecordError) as info:
        check_individual_number(number, field="members[0].individual_number")
    assert info.value.code is ReasonCode.INDIVIDUAL_NUMBER_INVALID
    assert info.value.field == "members[0].individual_number"
    assert number not in str(info.value)


@given(st.text(alphabet="0123456789", min_size=11, max_size=11), st.integers(min_value=1, max_value=9))
def test_exactly_one_check_digit_fits_any_eleven_digits(first: str, offset: int) -> None:
    good = individual_number_check_digit(first)
    check_individual_number(first + good, field="n")
    wrong = str((int(good) + offset) % 10)
    with pytest.raises(RecordError):
        check_individual_number(first + wrong, field="n")


def test_remainder_zero_and_one_give_check_digit_zero() -> None:
    # r = 0 for all zeros; r = 1 for P2 = 4 (Q2 = 3: 12 mod 11 = 1)
    assert individual_number_check_digit("00000000000") == "0"
    assert individual_number_check_digit("00000000040") == "0"


@pytest.mark.parametrize("code", ["12345678901", "00000000000", "99999999999"])
def test_resident_code_checks_format_only(code: str) -> None:
    assert check_resident_code(code, field="c") == code


@pytest.mark.parametrize("code", ["1234567890", "123456789012", "1234567890a", ""])
def test_resident_code_with_wrong_format_is_rejected(code: str) -> None:
    with pytest.raises(RecordError) as info:
        check_resident_code(code, field="members[1].resident_code")
    assert info.value.code is ReasonCode.RESIDENT_CODE_INVALID


def test_residence_card_number_format() -> None:
    assert check_residence_card_number("AB12345678CD", field="f") == "AB12345678CD"
    for bad in ("ab12345678cd", "AB1234567CD", "A123456789CD", "AB12345678C", "ＡＢ12345678CD"):
        with pytest.raises(RecordError) as info:
            check_residence_card_number(bad, field="f")
        assert info.value.code is ReasonCode.RESIDENCE_CARD_INVALID


def _individual_reference(first_eleven: str) -> str:
    """The ordinance's formula read literally (Pn from the right, Qn = n + 1 or n - 5): the specification of
    the one-pass weighted sum in codes.py."""
    total = sum(int(digit) * (n + 1 if n <= 6 else n - 5) for n, digit in enumerate(reversed(first_eleven), 1))
    r = total % 11
    return "0" if r <= 1 else str(11 - r)


@given(st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_individual_check_digit_equals_the_literal_formula(first: str) -> None:
    assert individual_number_check_digit(first) == _individual_reference(first)


def test_municipality_check_digit_equals_the_literal_formula_for_every_prefix() -> None:
    for i in range(0, 100_000, 7):
        first = f"{i:05d}"
        total = sum(int(d) * w for d, w in zip(first, (6, 5, 4, 3, 2), strict=True))
        assert municipality_check_digit(first) == str((11 - total % 11) % 10)
