"""Draw the fictitious sample seal impression used by examples/records/seal-registrant.json.

A red round 印影, 300 x 300 px: an outer ring and a few strokes (shapes only, no font, so the output does
not depend on installed fonts). The output is deterministic for a given Pillow/zlib: no metadata, fixed
compression settings. Usage: ``python scripts/make_sample_seal.py [OUT.png]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw

SIZE = 300
RED = (200, 30, 40, 255)
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "examples" / "records" / "seal-registrant.png"


def draw_seal() -> Image.Image:
    """Return the sample impression: ring, a vertical divider and two stylised characters of strokes."""
    image = Image.new("RGBA", (SIZE, SIZE), (255, 255, 255, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((10, 10, SIZE - 10, SIZE - 10), outline=RED, width=14)
    # upper "character": a box with a cross (reads as 田-like)
    draw.rectangle((95, 60, 205, 140), outline=RED, width=10)
    draw.line((150, 60, 150, 140), fill=RED, width=10)
    draw.line((95, 100, 205, 100), fill=RED, width=10)
    # lower "character": three horizontal strokes and a vertical one (reads as 王-like)
    for y in (170, 205, 240):
        draw.line((90, y, 210, y), fill=RED, width=10)
    draw.line((150, 170, 150, 240), fill=RED, width=10)
    return image


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUT
    out.parent.mkdir(parents=True, exist_ok=True)
    draw_seal().save(out, format="PNG", optimize=False, compress_level=9)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
