"""Text is kept byte-exact but must be NFC-stable and free of control characters."""

from __future__ import annotations

import pytest

from civiccert.errors import ReasonCode, RecordError
from civiccert.records import check_kana, check_text

IVS_NAME = "葛\U000e0100城　見本"  # 葛 + VS17 (Adobe-Japan1 glyph selector)
EXT_B_NAME = "𠮷野　見本"  # U+20BB7


def test_ivs_and_ext_b_are_accepted_byte_exact() -> None:
    for name in (IVS_NAME, EXT_B_NAME):
        assert check_text(name, field="name").encode("utf-8") == name.encode("utf-8")
    assert "\U000e0100" in check_text(IVS_NAME, field="name")


def test_decomposed_kana_is_rejected_as_not_nfc() -> None:
    with pytest.raises(RecordError) as info:
        check_text("見本　か\u3099く", field="members[2].name")  # が as か + combining dakuten
    assert info.value.code is ReasonCode.TEXT_NOT_NFC
    assert info.value.field == "members[2].name"


def test_cjk_compatibility_ideograph_is_rejected_as_not_nfc() -> None:
    # U+F929 becomes U+6717 under NFC: a signature over it would not survive normalisation
    with pytest.raises(RecordError) as info:
        check_text("見本\uf929", field="name")
    assert info.value.code is ReasonCode.TEXT_NOT_NFC


@pytest.mark.parametrize(
    "char",
    [
        "\x00",
        "\t",
        "\n",
        "\x7f",
        "\u0085",
        "\u200b",
        "\u200d",
        "\u202e",
        "\ufeff",
        "\u2028",
        "\ue000",
        "\ufffe",
        "\U000fffff",
    ],
)
def test_control_and_forbidden_characters_are_rejected(char: str) -> None:
    with pytest.raises(RecordError) as info:
        check_text(f"見本{char}太郎", field="household.address")
    assert info.value.code is ReasonCode.TEXT_CONTROL_CHAR
    assert info.value.field == "household.address"


@pytest.mark.parametrize("value", ["", " ", "\u3000", "\u3000 \u3000"])
def test_empty_text_is_rejected(value: str) -> None:
    with pytest.raises(RecordError) as info:
        check_text(value, field="name")
    assert info.value.code is ReasonCode.TEXT_EMPTY


def test_too_long_text_is_rejected() -> None:
    with pytest.raises(RecordError) as info:
        check_text("見" * 11, field="name", max_length=10)
    assert info.value.code is ReasonCode.FIELD_INVALID


def test_error_message_never_contains_the_value() -> None:
    with pytest.raises(RecordError) as info:
        check_text("秘密の見本\u202e", field="name")
    assert "秘密" not in str(info.value)


def test_non_str_is_a_programming_error() -> None:
    with pytest.raises(TypeError):
        check_text(42, field="name")  # type: ignore[arg-type]


@pytest.mark.parametrize("kana", ["ミホン　タロウ", "ミホン タロウ", "ヴァン・デル・ホーフ", "サンプル"])
def test_katakana_furigana_is_accepted(kana: str) -> None:
    assert check_kana(kana, field="name_kana") == kana


@pytest.mark.parametrize("kana", ["みほん　たろう", "ﾐﾎﾝ", "MIHON", "見本", "ミホン1"])
def test_non_katakana_furigana_is_rejected(kana: str) -> None:
    with pytest.raises(RecordError) as info:
        check_kana(kana, field="name_kana")
    assert info.value.code is ReasonCode.KANA_INVALID


def test_printable_shortcut_never_skips_a_forbidden_character() -> None:
    """check_text skips the per-character look-up when str.isprintable() holds: for every code point, a
    printable one (U+3000 read as a space) is never one of the forbidden categories or a noncharacter."""
    import unicodedata

    from civiccert.records import text

    skipped_forbidden = [
        cp for cp in range(0x110000)
        if chr(cp).replace("\u3000", " ").isprintable()
        and (unicodedata.category(chr(cp)) in text._FORBIDDEN_CATEGORIES or text._is_noncharacter(cp))
    ]  # fmt: skip
    assert skipped_forbidden == []
    with pytest.raises(RecordError) as caught:
        check_text("松戸\u200b太郎", field="name")  # zero width space (Cf): not printable, checked one by one
    assert caught.value.code is ReasonCode.TEXT_CONTROL_CHAR
    assert check_text("松戸\u3000𠮷子\U000e0100", field="name") == "松戸\u3000𠮷子\U000e0100"
