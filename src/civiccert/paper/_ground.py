"""The copy-evident background (地紋) and the sample official seal (職印), drawn as images.

地紋: a void pantograph. The page is covered with a light halftone of two dot sizes at the same mean tone:
tiny dots (1 px at 300 dpi, every 3 px) in the background and larger dots (3x3 px, every 9 px) inside the
repeated word 複写. To the eye both read as the same pale grey; a copier (or any scan below ~150 dpi followed
by thresholding) blurs the tiny dots into paper white while the larger dots survive, so 複写 appears on the
copy. tests/paper/test_paper_clerk.py measures the contrast on a low-dpi rasterisation.
"""

from __future__ import annotations

import io
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from civiccert.paper._glyphs import font_path

__all__ = ["DPI", "WORD", "ground_png", "official_seal_png", "word_mask"]

DPI = 300
WORD = "複写"
_INK = 140  # grey of a dot (0 = black): light enough to read text over it
_W_MM, _H_MM = 180.0, 267.0  # the content area of an A4 page with 15 mm margins


def _px(mm_value: float) -> int:
    return round(mm_value / 25.4 * DPI)


@lru_cache(maxsize=1)
def word_mask() -> np.ndarray:
    """True where the hidden word lies, at DPI, over the content area: 複写 tiled in a staggered grid."""
    w, h = _px(_W_MM), _px(_H_MM)
    mask = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(mask)
    font = ImageFont.truetype(str(font_path("ipaex")), _px(22))
    step_x, step_y = _px(70), _px(45)
    for row, y in enumerate(range(_px(8), h, step_y)):
        for x in range(-_px(10) + (row % 2) * step_x // 2, w, step_x):
            draw.text((x, y), WORD, fill=255, font=font)
    return np.asarray(mask) > 127


@lru_cache(maxsize=1)
def ground_png() -> bytes:
    """The 地紋 as a greyscale PNG covering the content area at DPI (cached: the same on every page)."""
    mask = word_mask()
    h, w = mask.shape
    yy, xx = np.mgrid[0:h, 0:w]
    fine = (yy % 3 == 0) & (xx % 3 == 0)  # 1/9 coverage
    coarse = (yy % 9 < 3) & (xx % 9 < 3)  # 9/81 = 1/9 coverage
    dots = np.where(mask, coarse, fine)
    dots[h - _px(82) :, w - _px(82) :] = False  # the QR's corner stays plain paper: dots confuse decoders
    pixels = np.where(dots, _INK, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels, "L").save(buf, "PNG", optimize=False, compress_level=6)
    return buf.getvalue()


@lru_cache(maxsize=8)
def official_seal_png(title: str) -> bytes:
    """A generated square 職印 (「<title>之印」 in a red frame, transparent ground) for samples and tests."""
    size = 300
    red = (200, 30, 40, 235)
    image = Image.new("RGBA", (size, size), (255, 255, 255, 0))
    draw = ImageDraw.Draw(image)
    draw.rectangle((8, 8, size - 9, size - 9), outline=red, width=14)
    text = (title + "之印")[:6].ljust(6, "印")
    font = ImageFont.truetype(str(font_path("ipaex")), 118)
    # seal script reads right to left, top to bottom: three columns of two characters
    for i, ch in enumerate(text):
        col, row = divmod(i, 2)
        x = size - 30 - (col + 1) * 80 + (80 - 118 * 0.68) / 2
        y = 22 + row * 128
        glyph = Image.new("RGBA", (118, 118), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text((0, -10), ch, fill=red, font=font)
        image.alpha_composite(glyph.resize((80, 128)), (round(x), y))
    buf = io.BytesIO()
    image.save(buf, "PNG", compress_level=9)
    return buf.getvalue()
