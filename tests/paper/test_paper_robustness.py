"""Real pages from pdf.py, rasterised and degraded like scans and phone photos, must still decode.

The page carries the largest code we print in practice: a six-person household with every item and a
receipt for a batch of 2^14 credentials (QR version 29). Degradations are scaled to physical size (a blur of 2 px at
300 dpi is 4/3 px at 200 dpi), so each dpi sees the same damage on paper. Target: every case decodes
at 200 dpi and above. 150 dpi is reported by benchmarks/bench_paper.py, not asserted.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pytest
from paper_samples import EXP, IAT, ISS, VCT_JUMINHYO, ThrowawaySigner, household, receipt
from PIL import Image, ImageDraw, ImageFilter

from civiccert.paper import encode_paper, qr_text, render_pdf, scan_image

Degrade = Callable[[Image.Image, float, tuple[int, int, int, int]], Image.Image]


@cache
def _document() -> tuple[str, bytes]:
    signer = ThrowawaySigner()
    claims = household(6)
    text = qr_text(
        encode_paper(VCT_JUMINHYO, claims, signer, iss=ISS, iat=IAT, exp=EXP, include_individual_number=True),
        receipt(1 << 14),
    )
    with tempfile.TemporaryDirectory() as tmp:
        pdf_bytes = render_pdf(VCT_JUMINHYO, claims, text, Path(tmp) / "page.pdf").read_bytes()
    return text, pdf_bytes


@cache
def page(dpi: int) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """Page 1 as a grayscale scan, and the QR's box (left, top, right, bottom) found on the clean page."""
    _, pdf_bytes = _document()
    pdf = pdfium.PdfDocument(pdf_bytes)
    try:
        image = pdf[0].render(scale=dpi / 72, grayscale=True).to_pil().convert("L")
    finally:
        pdf.close()
    [hit] = scan_image(image)
    xs = [p[0] for p in hit.position]
    ys = [p[1] for p in hit.position]
    return image, (min(xs), min(ys), max(xs), max(ys))


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("L")


def _blur(image: Image.Image, k: float, _: object) -> Image.Image:
    return image.filter(ImageFilter.GaussianBlur(2 * k))


def _rotate(angle: float) -> Degrade:
    return lambda image, k, _: image.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)


def _perspective(image: Image.Image, k: float, _: object) -> Image.Image:
    """A phone held at an angle: the top edge 8 % narrower than the bottom, slightly skewed."""
    w, h = image.size
    src = [(0.04 * w, 0.02 * h), (0.96 * w, 0.0), (w, h), (0, 0.99 * h)]  # where the page corners land
    dst = [(0, 0), (w, 0), (w, h), (0, h)]
    matrix = []
    for (x, y), (u, v) in zip(dst, src, strict=True):
        matrix.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        matrix.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    coeffs = np.linalg.solve(np.array(matrix, float), np.array([c for p in src for c in p], float))
    return image.transform((w, h), Image.Transform.PERSPECTIVE, tuple(coeffs), Image.Resampling.BICUBIC, fillcolor=255)


def _noise(image: Image.Image, k: float, _: object) -> Image.Image:
    rng = np.random.default_rng(7)
    arr = np.asarray(image, np.float32) + rng.normal(0, 28, (image.height, image.width))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def _stain(image: Image.Image, k: float, box: tuple[int, int, int, int]) -> Image.Image:
    """A coffee stain over the bottom-right corner of the code (no finder pattern there)."""
    left, _, right, bottom = box
    r = 0.16 * (right - left)
    mask = Image.new("L", image.size, 0)
    ImageDraw.Draw(mask).ellipse((right - r, bottom - r, right + r, bottom + r), fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(3 * k))
    arr = np.asarray(image, np.float32)
    m = np.asarray(mask, np.float32) / 255
    stained = arr * (1 - 0.8 * m)  # dark blot: the modules under it are lost, ECC M must recover them
    return Image.fromarray(stained.astype(np.uint8))


def _lighting(image: Image.Image, k: float, _: object) -> Image.Image:
    """A desk lamp from the top-left: brightness falls to 40 % towards the bottom-right, plus vignetting."""
    h, w = image.height, image.width
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    gradient = 1.0 - 0.6 * (xx / w + yy / h) / 2
    vignette = 1.0 - 0.25 * (((xx - w / 2) / w) ** 2 + ((yy - h / 2) / h) ** 2) * 2
    arr = np.asarray(image, np.float32) * gradient * vignette + 15
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def _combo(image: Image.Image, k: float, box: tuple[int, int, int, int]) -> Image.Image:
    return _jpeg(_blur(_perspective(_lighting(image, k, box), k, box), k * 0.6, box), 45)


DEGRADATIONS: dict[str, Degrade] = {
    "clean": lambda image, k, _: image,
    "blur_2px_at_300dpi": _blur,
    "jpeg_q30": lambda image, k, _: _jpeg(image, 30),
    "jpeg_q60": lambda image, k, _: _jpeg(image, 60),
    "rotate_20": _rotate(20),
    "rotate_-7_jpeg_q50": lambda image, k, box: _jpeg(_rotate(-7)(image, k, box), 50),
    "perspective": _perspective,
    "noise_sigma28": _noise,
    "stain_corner": _stain,
    "lighting_gradient": _lighting,
    "photo_combo": _combo,
}


@pytest.mark.parametrize("dpi", [200, 300])
@pytest.mark.parametrize("name", list(DEGRADATIONS))
def test_degraded_page_decodes(dpi: int, name: str) -> None:
    image, box = page(dpi)
    degraded = DEGRADATIONS[name](image, dpi / 300, box)
    texts = [hit.text for hit in scan_image(degraded)]
    assert texts == [_document()[0]]


def test_clean_page_decodes_at_150_dpi() -> None:
    image, _ = page(150)
    assert [hit.text for hit in scan_image(image)] == [_document()[0]]
