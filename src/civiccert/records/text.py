"""Text rules for names and addresses: kept exactly as given, but only if it is safe to keep.

We never normalise: a 住民票 certifies the characters the register holds, and a signature over text that a
later NFC pass would change breaks verification. So text must already be NFC-stable (``TEXT_NOT_NFC``).

Allowed: every assigned or not-yet-assigned character (so CJK Ext-B such as 𠮷 U+20BB7 and newer
extensions pass even on an older Unicode database), including ideographic variation selectors
(U+E0100..U+E01EF, category Mn) and U+3000 between surname and given name.
Rejected with ``TEXT_CONTROL_CHAR``: controls (Cc, including tab and newline), format characters (Cf: bidi
overrides, zero-width characters, BOM; ZWJ too, as no Japanese name or address needs it and it can hide
text), surrogates (Cs), private use (Co: vendor 外字 are meaningless outside the issuing system),
line/paragraph separators (Zl, Zp) and Unicode noncharacters.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum
from typing import TypeVar

from civiccert.errors import ReasonCode, RecordError

__all__ = ["DEFAULT_MAX_LENGTH", "check_choice", "check_kana", "check_optional_text", "check_text"]

DEFAULT_MAX_LENGTH = 200
"""Code points allowed in one text field unless the caller says otherwise."""

_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})

# 振り仮名: full-width katakana (ァ..ヺ), prolonged sound mark, middle dot, iteration marks,
# and a space (U+0020 or U+3000) between the parts of a name.
_KATAKANA_RE = re.compile(r"[\u30A1-\u30FA\u30FB\u30FC\u30FD\u30FE\u3000 ]+")


_E = TypeVar("_E", bound=StrEnum)


def check_choice(cls: type[_E], value: object, *, field: str) -> _E:
    """Accept a member of the enum ``cls`` or its string value; anything else is ``FIELD_INVALID``."""
    if isinstance(value, cls):
        return value
    if not isinstance(value, str):
        raise TypeError(f"{field} must be a {cls.__name__} or its str value")
    try:
        return cls(value)
    except ValueError:
        raise RecordError(ReasonCode.FIELD_INVALID, "value is not one of the allowed values", field=field) from None


def _is_noncharacter(cp: int) -> bool:
    return 0xFDD0 <= cp <= 0xFDEF or (cp & 0xFFFE) == 0xFFFE


def check_text(value: str, *, field: str, max_length: int = DEFAULT_MAX_LENGTH) -> str:
    """Return ``value`` unchanged if it is non-empty, NFC-stable, free of control characters and short enough.

    Raises ``TypeError`` when ``value`` is not a ``str`` (a programming error, not bad input).
    """
    if not isinstance(value, str):
        raise TypeError(f"{field} must be a str")
    if not value.strip():
        raise RecordError(ReasonCode.TEXT_EMPTY, "text is empty", field=field)
    # str.isprintable() is False for every character of the categories "Other" (Cc, Cf, Cs, Co, and Cn, where
    # the noncharacters are) and "Separator" but the ASCII space, from the same Unicode database: when it holds
    # (U+3000 read as a space), no character needs the per-character look-up (10x slower, on every name)
    if not value.replace("\u3000", " ").isprintable():
        _check_characters(value, field)
    if not unicodedata.is_normalized("NFC", value):
        raise RecordError(ReasonCode.TEXT_NOT_NFC, "text is not NFC-normalised", field=field)
    if len(value) > max_length:
        raise RecordError(ReasonCode.FIELD_INVALID, f"text is longer than {max_length} characters", field=field)
    return value


def _check_characters(value: str, field: str) -> None:
    for ch in value:
        if unicodedata.category(ch) in _FORBIDDEN_CATEGORIES or _is_noncharacter(ord(ch)):
            raise RecordError(
                ReasonCode.TEXT_CONTROL_CHAR, "text contains a control or forbidden character", field=field
            )


def check_optional_text(value: str | None, *, field: str, max_length: int = DEFAULT_MAX_LENGTH) -> str | None:
    """Like :func:`check_text`, but ``None`` means the item is not registered."""
    if value is None:
        return None
    return check_text(value, field=field, max_length=max_length)


def check_kana(value: str, *, field: str, max_length: int = DEFAULT_MAX_LENGTH) -> str:
    """A 振り仮名: full-width katakana with optional spaces between name parts (no half-width kana)."""
    check_text(value, field=field, max_length=max_length)
    if not _KATAKANA_RE.fullmatch(value):
        raise RecordError(ReasonCode.KANA_INVALID, "furigana must be full-width katakana", field=field)
    return value
