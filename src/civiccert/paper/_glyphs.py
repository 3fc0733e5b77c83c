"""The embedded font and what to print for characters it lacks.

The embedded font is IPAex明朝 (fonts/README.md). A character outside its cmap is never dropped silently:
it prints as the traditional 〓 (geta) and the page gets a footnote naming its code point, so the clerk
can check the original. An ideographic variation selector (U+E0100..U+E01EF, U+FE00..U+FE0F) whose
variant the font cannot show is removed and the base character is drawn: the variant is a glyph nuance,
the character itself is still right, and the QR keeps the exact sequence.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from civiccert.errors import PaperError, ReasonCode

FONT_NAME = "IPAexMincho"
GETA = "〓"


def _is_variation_selector(cp: int) -> bool:
    return 0xE0100 <= cp <= 0xE01EF or 0xFE00 <= cp <= 0xFE0F


@lru_cache(maxsize=1)
def register_font() -> frozenset[int]:
    """Register the embedded font with reportlab once; return the code points it covers."""
    try:
        path = resources.files("civiccert.paper") / "fonts" / "ipaexm.ttf"
        with resources.as_file(path) as font_path:
            font = TTFont(FONT_NAME, str(font_path))
    except (OSError, ValueError) as exc:  # a broken install: the font file is missing or unreadable
        raise PaperError(ReasonCode.FONT_MISSING, "embedded Japanese font cannot be loaded") from exc
    pdfmetrics.registerFont(font)
    return frozenset(font.face.charToGlyph)


def printable(text: str, covered: frozenset[int], missing: set[int]) -> str:
    """``text`` as the font can draw it; adds each code point shown as 〓 to ``missing``."""
    out: list[str] = []
    for ch in text:
        cp = ord(ch)
        if _is_variation_selector(cp):
            continue
        if cp in covered or ch in " \u3000":
            out.append(ch)
        else:
            missing.add(cp)
            out.append(GETA)
    return "".join(out)
