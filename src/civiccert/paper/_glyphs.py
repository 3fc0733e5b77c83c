"""Which embedded font draws each character, so that every name prints as registered.

IPAex明朝 is the text font; IPAmj明朝 (the 文字情報基盤 font, fonts/README.md) draws what IPAex lacks: CJK
Extension B and later (𠮷 U+20BB7), MJ-only characters, and ideographic variation sequences (IVS, base +
U+E0100..U+E01EF or U+FE00..U+FE0F) found in its cmap format 14. A sequence goes to the first font whose
format-14 table lists it; a sequence no font lists is drawn by a font that has its base (HarfBuzz then shows
the default glyph) and keeps its selector in the text layer. Only a base character that no shipped font has
prints as the traditional 〓 (geta), and the page gets a footnote naming its code point.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from fontTools.ttLib import TTFont

from civiccert.errors import PaperError, ReasonCode

__all__ = ["FONTS", "GETA", "FontFace", "font_path", "runs"]

GETA = "〓"
FONTS = ("ipaex", "ipamj")  # preference order
_FILES = {"ipaex": "ipaexm.ttf", "ipamj": "ipamjm.ttf"}
# IPAmj明朝 (46 MB) is not shipped in the wheel: $CIVICCERT_IPAMJ_FONT, else Debian's fonts-ipamj-mincho
_ENV = {"ipamj": "CIVICCERT_IPAMJ_FONT"}
_SYSTEM = {"ipamj": Path("/usr/share/fonts/truetype/ipamj/ipamjm.ttf")}


def is_variation_selector(cp: int) -> bool:
    return 0xE0100 <= cp <= 0xE01EF or 0xFE00 <= cp <= 0xFE0F


@dataclass(frozen=True)
class FontFace:
    """One font's coverage: its Unicode cmap and its variation sequences (format 14)."""

    key: str
    path: Path
    chars: frozenset[int]
    sequences: frozenset[tuple[int, int]]


@cache
def font_path(key: str) -> Path:
    """The shipped file, else the one the environment names, else Debian's; FONT_MISSING when none exists."""
    env = os.environ.get(_ENV.get(key, ""), "")
    if env and Path(env).is_file():
        return Path(env)
    with resources.as_file(resources.files("civiccert.paper") / "fonts" / _FILES[key]) as shipped:
        if shipped.is_file():
            return Path(shipped)
    system = _SYSTEM.get(key)
    if system is not None and system.is_file():
        return system
    raise PaperError(ReasonCode.FONT_MISSING, "embedded Japanese font cannot be loaded")


@cache
def face(key: str) -> FontFace:
    path = font_path(key)
    try:
        font = TTFont(str(path), lazy=True)
        cmap = font["cmap"]
        chars = frozenset(cmap.getBestCmap())
        sequences: set[tuple[int, int]] = set()
        for table in cmap.tables:
            if table.format == 14:
                for selector, pairs in table.uvsDict.items():
                    sequences.update((base, selector) for base, _glyph in pairs)
        font.close()
    except (OSError, KeyError, AssertionError) as exc:  # a broken install: unreadable font file
        raise PaperError(ReasonCode.FONT_MISSING, "embedded Japanese font cannot be read") from exc
    return FontFace(key, path, chars, frozenset(sequences))


@cache
def _available() -> tuple[FontFace, ...]:
    """IPAex always (shipped); IPAmj when installed. Without it, what only IPAmj draws prints as 〓."""
    faces = [face("ipaex")]
    with contextlib.suppress(PaperError):
        faces.append(face("ipamj"))
    return tuple(faces)


def _font_for(base: int, selector: int | None) -> str | None:
    if selector is not None:
        for found in _available():
            if (base, selector) in found.sequences:
                return found.key
    for found in _available():
        if base in found.chars:
            return found.key
    return None


def runs(text: str, missing: set[int]) -> list[tuple[str, str]]:
    """``text`` as (font key, text) runs; a base no font has becomes 〓 (added to ``missing``).

    A variation selector stays with its base in one run (HarfBuzz picks the variant glyph from it and the
    text layer keeps the exact sequence); a selector with no base before it is dropped."""
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        base = ord(text[i])
        j = i + 1
        while j < len(text) and is_variation_selector(ord(text[j])):
            j += 1
        selector = ord(text[i + 1]) if j > i + 1 else None
        if is_variation_selector(base):
            i = j
            continue
        key = "ipaex" if text[i] in " \u3000" else _font_for(base, selector)
        piece = text[i : i + 2] if selector is not None else text[i]  # base + its first selector
        if key is None:
            missing.add(base)
            key, piece = "ipaex", GETA
        if out and out[-1][0] == key:
            out[-1] = (key, out[-1][1] + piece)
        else:
            out.append((key, piece))
        i = j
    return out
