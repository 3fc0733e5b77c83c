"""QR symbols for the paper form: module matrix + version, ECC level M, alphanumeric mode.

zxing-cpp's writer (zint underneath) is used rather than ``qrcode``: about 4-7 ms per symbol against
57-83 ms (benchmarks/bench_paper.py), which matters when a counter prints a day's batch. zint picks the
densest mode per segment; a ``CC1:`` text uses only the 45-character QR alphanumeric set (Base45 was made
for it), so the whole text is one alphanumeric segment. The resulting version equals the smallest one
whose alphanumeric capacity at ECC M (``ALNUM_CAPACITY_M``, ISO/IEC 18004 table 7) holds the text.

ECC M (15 %) is the usual choice for printed codes: it survives a stain or a fold over a corner (see
tests/paper/test_paper_robustness.py) at a version 4-5 steps smaller than ECC H.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import zxingcpp

from civiccert.errors import PaperError, ReasonCode

__all__ = ["ALNUM_CAPACITY_M", "QUIET_ZONE_MODULES", "QrCode", "make_qr", "min_version", "printed_size_mm"]

# Alphanumeric characters per version (index 0 = version 1) at ECC level M.
ALNUM_CAPACITY_M: tuple[int, ...] = (
    20, 38, 61, 90, 122, 154, 178, 221, 262, 311, 366, 419, 483, 528, 600, 656, 734, 816, 909, 970,
    1035, 1134, 1248, 1326, 1451, 1542, 1637, 1732, 1839, 1994, 2113, 2238, 2369, 2506, 2632, 2780,
    2894, 3054, 3220, 3391,
)  # fmt: skip
QUIET_ZONE_MODULES = 4
_ALNUM = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")


@dataclass(frozen=True)
class QrCode:
    """One QR symbol: ``modules[y][x]`` is True for a dark module; the quiet zone is not included."""

    text: str
    version: int
    ec_level: str
    modules: tuple[tuple[bool, ...], ...]

    @property
    def size(self) -> int:
        """Modules per side (17 + 4 * version)."""
        return len(self.modules)


def min_version(chars: int) -> int | None:
    """Smallest QR version holding ``chars`` alphanumeric characters at ECC M, or None if none does."""
    for version, capacity in enumerate(ALNUM_CAPACITY_M, start=1):
        if chars <= capacity:
            return version
    return None


def printed_size_mm(version: int, module_mm: float = 0.5) -> float:
    """Printed edge length including the 4-module quiet zone on each side."""
    return (17 + 4 * version + 2 * QUIET_ZONE_MODULES) * module_mm


def make_qr(text: str, *, max_version: int = 40) -> QrCode:
    """Encode ``text`` at ECC M; PAYLOAD_TOO_LARGE when it needs a version above ``max_version``."""
    if not 1 <= max_version <= 40:
        raise ValueError("max_version must be 1..40")
    if not set(text) <= _ALNUM:
        raise ValueError("QR text must use the QR alphanumeric character set (a CC1: payload does)")
    if len(text) > ALNUM_CAPACITY_M[max_version - 1]:
        raise PaperError(ReasonCode.PAYLOAD_TOO_LARGE, f"paper form needs a QR version above {max_version}")
    barcode = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    image = barcode.to_image(scale=1, add_quiet_zones=False)
    height, width = image.shape
    raw = memoryview(cast(Any, image)).tobytes()
    modules = tuple(tuple(raw[y * width + x] < 128 for x in range(width)) for y in range(height))
    version = (width - 17) // 4
    if width != height or version > max_version:
        raise PaperError(ReasonCode.PAYLOAD_TOO_LARGE, f"paper form needs a QR version above {max_version}")
    return QrCode(text=text, version=version, ec_level="M", modules=modules)
