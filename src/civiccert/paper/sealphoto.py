"""A photo of a 印鑑登録証明書: is the printed seal impression the one the QR signs?

The QR carries a 64-bit perceptual hash of the registered impression (``seal.image_phash``, DCT pHash: the
signs of the 8×8 lowest frequencies of a 32×32 grey image against their median). A photo has no text layer
and no exact pixels, but the QR's four corners fix the page: the renderer puts the QR and the 印影 box at
known places on A4 (``pdf``/``_layout``), so a homography from the QR's corners finds the impression, which is
cut out square at its signed size, hashed the same way, and compared by Hamming distance.

The verdict has three bands (measured in benchmarks/bench_seal_photos.py, docs/paper.md): distance ≤
``MATCH_MAX`` is the signed impression; ≥ ``MISMATCH_MIN`` is another impression (INVALID); between, or when
the region falls outside the photo or is too small, the verifier could not compare (INDETERMINATE) and the
clerk compares the impression with the registered one by eye. Pure Python and Pillow (no numpy): a 32×32
DCT is 64k multiplications.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from PIL import Image, ImageFilter, ImageOps

from civiccert.errors import PaperError, ReasonCode
from civiccert.paper._layout import SEAL_BOX_MM, SEAL_BOX_TOP_MM

__all__ = ["MATCH_MAX", "MISMATCH_MIN", "SealComparison", "check_photo_file", "compare_photo_seal", "decide",
           "hamming", "phash", "phash_image", "photo_hashes"]

MATCH_MAX = 8  # ≤ this: the signed impression
MISMATCH_MIN = 20  # ≥ this: another impression; in between: could not compare
_SIDE = 32
_LOW = 8
_INNER = 0.72  # the middle share of the impression that is hashed
_MARGIN_FACTOR = 2.0  # the rectified region around the impression, in which its ink is found
_REGION_PX = 192  # 96 px for the impression itself
_INK_LEVEL = 140  # darker than this (after contrast stretch) is ink; the 地紋 dots stay lighter
_MIN_CROP_PX = 24  # the impression must span at least this many photo pixels to be compared
# where the renderer puts the QR (pdf._footer / pdf._draw_qr), in mm from the page's top-left corner
_PAGE_W_MM, _PAGE_H_MM, _MARGIN_MM = 210.0, 297.0, 15.0
_QR_RIGHT_MM = _PAGE_W_MM - _MARGIN_MM
_QR_BOTTOM_MM = _PAGE_H_MM - _MARGIN_MM - 6.0
_QR_MAX_MM = 72.0
_MODULE_MM = 0.5
_QUIET = 4


@dataclass(frozen=True)
class SealComparison:
    """OK (distance ≤ MATCH_MAX), SEAL_MISMATCH (≥ MISMATCH_MIN) or PAGE_NOT_CHECKED, with the distance."""

    code: ReasonCode
    distance: int | None
    detail: str


@lru_cache(maxsize=1)
def _dct_matrix() -> tuple[tuple[float, ...], ...]:
    """The first 8 rows of the orthonormal 32-point DCT-II matrix."""
    rows = []
    for k in range(_LOW):
        scale = math.sqrt((1 if k == 0 else 2) / _SIDE)
        rows.append(tuple(scale * math.cos(math.pi * (2 * n + 1) * k / (2 * _SIDE)) for n in range(_SIDE)))
    return tuple(rows)


def _gray(image: Image.Image) -> Image.Image:
    """Grey, transparency over white, contrast stretched (print, lighting and the PNG differ in tone)."""
    if image.mode in ("RGBA", "LA", "P"):
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    return ImageOps.autocontrast(image.convert("L").resize((64, 64), Image.Resampling.LANCZOS), cutoff=1)


def _inner(image: Image.Image) -> Image.Image:
    """The middle of the impression: the ring is alike on every seal, the carved name is not."""
    w, h = image.size
    m = (1 - _INNER) / 2
    return image.crop((round(w * m), round(h * m), round(w * (1 - m)), round(h * (1 - m))))


def phash_image(image: Image.Image) -> str:
    """64-bit DCT pHash of the middle of a seal image, as 16 hex digits."""
    gray = _gray(_inner(image)).resize((_SIDE, _SIDE), Image.Resampling.LANCZOS)
    raw = gray.tobytes()
    dct = _dct_matrix()
    # low frequencies only, separably: (D[:8] · G) then · D[:8]ᵀ
    cols = [[sum(d[n] * raw[n * _SIDE + x] for n in range(_SIDE)) for x in range(_SIDE)] for d in dct]
    low = [sum(r[n] * d[n] for n in range(_SIDE)) for r in cols for d in dct]
    ordered = sorted(low)
    threshold = (ordered[31] + ordered[32]) / 2
    bits = 0
    for value in low:
        bits = (bits << 1) | (value > threshold)
    return f"{bits:016x}"


def phash(png: bytes) -> str:
    """The pHash of a seal PNG, padded to a square on white first (the photo crop is square)."""
    with Image.open(io.BytesIO(png)) as image:
        image.load()
        rgba = image.convert("RGBA")
    side = max(rgba.size)
    square = Image.new("RGBA", (side, side), (255, 255, 255, 0))
    square.paste(rgba, ((side - rgba.width) // 2, (side - rgba.height) // 2))
    return phash_image(square)


def hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def _qr_corners_mm(symbol_modules: int) -> list[tuple[float, float]]:
    total = symbol_modules + 2 * _QUIET
    module = min(_MODULE_MM, _QR_MAX_MM / total)
    edge = total * module
    left, right = _QR_RIGHT_MM - edge + _QUIET * module, _QR_RIGHT_MM - _QUIET * module
    top, bottom = _QR_BOTTOM_MM - edge + _QUIET * module, _QR_BOTTOM_MM - _QUIET * module
    return [(left, top), (right, top), (right, bottom), (left, bottom)]


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (8×8)."""
    n = len(b)
    m = [[*row, b[i]] for i, row in enumerate(a)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        if abs(m[pivot][col]) < 1e-12:
            raise ValueError("degenerate QR corners")
        m[col], m[pivot] = m[pivot], m[col]
        for r in range(n):
            if r != col:
                f = m[r][col] / m[col][col]
                m[r] = [x - f * y for x, y in zip(m[r], m[col], strict=True)]
    return [m[i][n] / m[i][i] for i in range(n)]


def _homography(src: Sequence[tuple[float, float]], dst: Sequence[tuple[float, float]]) -> list[float]:
    """Coefficients (a..h) with dst = ((a x + b y + c) / (g x + h y + 1), (d x + e y + f) / (…))."""
    rows: list[list[float]] = []
    rhs: list[float] = []
    for (x, y), (u, v) in zip(src, dst, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rhs.append(u)
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs.append(v)
    return _solve(rows, rhs)


def _apply(h: Sequence[float], x: float, y: float) -> tuple[float, float]:
    w = h[6] * x + h[7] * y + 1
    return (h[0] * x + h[1] * y + h[2]) / w, (h[3] * x + h[4] * y + h[5]) / w


def crop_seal(photo: Image.Image, qr_corners: Sequence[tuple[int, int]], symbol_modules: int,
              size_mm: float, *, out_px: int = 96) -> Image.Image | None:
    """The square of ``size_mm`` at the 印影 box's centre, rectified to ``out_px``; None if unusable."""
    try:
        to_photo = _homography(_qr_corners_mm(symbol_modules), [(float(x), float(y)) for x, y in qr_corners])
    except ValueError:
        return None
    left, edge = SEAL_BOX_MM
    cx, cy = left + edge / 2, SEAL_BOX_TOP_MM + edge / 2
    x0, y0, step = cx - size_mm / 2, cy - size_mm / 2, size_mm / out_px
    corners = [_apply(to_photo, x0 + dx * size_mm, y0 + dy * size_mm) for dx, dy in ((0, 0), (1, 0), (1, 1), (0, 1))]
    if any(not (0 <= x < photo.width and 0 <= y < photo.height) for x, y in corners):
        return None
    if min(math.dist(corners[i], corners[(i + 1) % 4]) for i in range(4)) < _MIN_CROP_PX:
        return None
    # output pixel (i, j) → page mm → photo pixel: compose the affine step with the homography
    h = to_photo
    coeffs = (
        (h[0] * step) , (h[1] * step), h[0] * x0 + h[1] * y0 + h[2],
        (h[3] * step), (h[4] * step), h[3] * x0 + h[4] * y0 + h[5],
    )
    w = (h[6] * step, h[7] * step, h[6] * x0 + h[7] * y0 + 1)
    data = tuple(c / w[2] for c in (*coeffs, w[0], w[1]))
    return photo.convert("L").transform((out_px, out_px), Image.Transform.PERSPECTIVE, data,
                                        Image.Resampling.BILINEAR, fillcolor=255)


def photo_hashes(photo: Image.Image, qr_corners: Sequence[tuple[int, int]], symbol_modules: int,
                 size_mm: float) -> list[str] | None:
    """The pHashes of the printed impression; None when the region is unusable.

    The QR is far from the 印影 box, so its corners place the box only roughly (a few mm under perspective);
    the impression is then found by its ink (the dark pixels' extent in a region 2× its size) and hashed
    over small shifts and scales (±2 px, 0.97–1.03) that absorb what remains."""
    region = crop_seal(photo, qr_corners, symbol_modules, size_mm * _MARGIN_FACTOR, out_px=_REGION_PX)
    if region is None:
        return None
    found = _ink_box(ImageOps.autocontrast(region, cutoff=1))
    if found is None:
        return None
    cx, cy, side = found
    hashes = []
    for scale in (0.97, 1.0, 1.03):
        s = side * scale
        for dx in (-2, 0, 2):
            for dy in (-2, 0, 2):
                x0, y0 = cx - s / 2 + dx, cy - s / 2 + dy
                hashes.append(phash_image(region.crop((round(x0), round(y0), round(x0 + s), round(y0 + s)))))
    return hashes


def _ink_box(region: Image.Image) -> tuple[float, float, float] | None:
    """Centre and side of the square around the dark pixels (the impression), or None when implausible."""
    # blurred first: the 地紋's halftone dots average out to a light grey, strokes stay dark
    dark = region.filter(ImageFilter.GaussianBlur(1.5)).point(lambda v: 255 if v < _INK_LEVEL else 0)
    rows = [sum(1 for v in dark.crop((0, y, dark.width, y + 1)).tobytes() if v) for y in range(dark.height)]
    cols = [sum(1 for v in dark.crop((x, 0, x + 1, dark.height)).tobytes() if v) for x in range(dark.width)]
    ys = [y for y, n in enumerate(rows) if n >= 3]
    xs = [x for x, n in enumerate(cols) if n >= 3]
    if not xs or not ys:
        return None
    side = max(xs[-1] - xs[0], ys[-1] - ys[0]) + 1
    expected = _REGION_PX / _MARGIN_FACTOR
    if not 0.6 * expected <= side <= 1.3 * expected:
        return None
    return (xs[0] + xs[-1] + 1) / 2, (ys[0] + ys[-1] + 1) / 2, float(side)


def decide(hashes: Sequence[str] | None, signed_phash: str) -> SealComparison:
    """The three bands of the module doc, on the smallest distance to the signed pHash."""
    if not hashes:
        return SealComparison(ReasonCode.PAGE_NOT_CHECKED, None, "the seal impression is not usable in this photo")
    distance = min(hamming(h, signed_phash) for h in hashes)
    if distance <= MATCH_MAX:
        return SealComparison(ReasonCode.OK, distance, f"seal impression matches (distance {distance}/64)")
    if distance >= MISMATCH_MIN:
        return SealComparison(ReasonCode.SEAL_MISMATCH, distance,
                              f"the printed seal impression is not the signed one (distance {distance}/64)")
    return SealComparison(ReasonCode.PAGE_NOT_CHECKED, distance,
                          f"seal impression could not be compared reliably (distance {distance}/64): compare by eye")


def compare_photo_seal(photo: Image.Image, qr_corners: Sequence[tuple[int, int]], symbol_modules: int,
                       size_mm: float, signed_phash: str) -> SealComparison:
    """Hash the printed impression and compare it with the signed pHash."""
    return decide(photo_hashes(photo, qr_corners, symbol_modules, size_mm), signed_phash)


def check_photo_file(path: Path, page: int, corners: Sequence[tuple[int, int]], qr_chars: int,
                     seal: Mapping[str, Any]) -> SealComparison:
    """Compare the impression in page ``page`` of an image file (already scanned, so within the pixel
    budget) with the signed pHash; PAGE_NOT_CHECKED when the claims carry none or the file cannot be read."""
    from civiccert.paper.qr import min_version
    from civiccert.paper.scan import IMAGE_FORMATS

    signed = seal.get("image_phash")
    size_mm = seal.get("size_mm")
    if not isinstance(signed, str) or len(signed) != 16 or not isinstance(size_mm, int | float) or size_mm <= 0:
        return SealComparison(ReasonCode.PAGE_NOT_CHECKED, None, "the QR carries no seal fingerprint")
    try:
        with Image.open(path, formats=IMAGE_FORMATS) as image:
            image.seek(page - 1)
            photo = ImageOps.exif_transpose(image).convert("L")
    except (OSError, ValueError, EOFError, PaperError):
        return SealComparison(ReasonCode.PAGE_NOT_CHECKED, None, "the photo cannot be read again")
    version = min_version(qr_chars)
    if version is None:
        return SealComparison(ReasonCode.PAGE_NOT_CHECKED, None, "the QR's size is unknown")
    return compare_photo_seal(photo, corners, 17 + 4 * version, float(size_mm), signed)
