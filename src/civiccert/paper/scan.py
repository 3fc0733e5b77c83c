"""QR texts back from photos, scans and PDFs (zxing-cpp; PDFs rasterised with pypdfium2).

Images may be PNG, JPEG, TIFF, WebP or BMP (what phones and office scanners write); Pillow is asked to open
only these formats. Every page of a multi-page TIFF is read, each reported with its page number, under the
same caps as a PDF: at most ``MAX_PDF_PAGES`` pages and ``MAX_IMAGE_PIXELS`` for the whole file, checked
from each page's header before its pixels are decoded (a decompression bomb is refused, not decoded).

Returns every QR found, with its page, so the caller (the Verifier) decides what a page with two codes or
a two-sheet copy means. It never raises anything but ``PaperError``: IMAGE_UNREADABLE for a file that is
not a decodable image, PDF_UNREADABLE for a broken PDF, QR_NOT_FOUND when nothing readable is there.

Each page is first read as it is (fast path: ~10-30 ms for a 200-dpi A4 page); only when that finds
nothing is a contrast-stretched copy tried, which rescues photos with a strong lighting gradient.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium
import zxingcpp
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

from civiccert.errors import PaperError, ReasonCode

__all__ = ["IMAGE_FORMATS", "MAX_IMAGE_PIXELS", "MAX_PDF_PAGES", "PDF_DPI", "ScanHit", "scan", "scan_image"]

PDF_DPI = 200
MAX_IMAGE_PIXELS = 80_000_000  # a 600-dpi A3 scan; larger inputs are refused, not decoded
MAX_PDF_PAGES = 50  # also the page cap of a multi-page TIFF
IMAGE_FORMATS = ("PNG", "JPEG", "TIFF", "WEBP", "BMP")
_QR = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
_UPSCALE_MAX_PIXELS = 12_000_000  # a phone photo or a 200-dpi A4 page; larger scans have big enough modules


@dataclass(frozen=True)
class ScanHit:
    """One QR found: its text, the 1-based page (1 for images) and its corners in pixels."""

    text: str
    page: int
    position: tuple[tuple[int, int], ...]  # top-left, top-right, bottom-right, bottom-left


def _read(image: Image.Image) -> list[zxingcpp.Barcode]:
    return list(
        zxingcpp.read_barcodes(
            image,
            formats=_QR,
            try_rotate=True,
            try_downscale=True,
            try_invert=False,
        )
    )


def _hits(image: Image.Image, page: int) -> list[ScanHit]:
    gray = image if image.mode == "L" else image.convert("L")
    scale = 1.0  # positions are reported in the input's pixels
    found = _read(gray)
    if not found:  # uneven lighting or faint print: stretch contrast and try once more
        found = _read(ImageOps.autocontrast(ImageOps.equalize(gray), cutoff=1))
    if not found:  # a photo at an angle: speckle on the smallest modules; smooth it out
        found = _read(gray.filter(ImageFilter.MedianFilter(3)))
    if not found and gray.width * gray.height <= _UPSCALE_MAX_PIXELS:  # modules a few pixels wide: enlarge
        found = _read(gray.resize((gray.width * 3 // 2, gray.height * 3 // 2), Image.Resampling.BICUBIC))
        scale = 2 / 3
    hits = []
    for barcode in found:
        p = barcode.position
        corners = tuple((int(pt.x * scale), int(pt.y * scale))
                        for pt in (p.top_left, p.top_right, p.bottom_right, p.bottom_left))
        hits.append(ScanHit(text=barcode.text, page=page, position=corners))
    return hits


def scan_image(image: Image.Image, *, page: int = 1) -> list[ScanHit]:
    """Every QR in a PIL image; QR_NOT_FOUND when there is none."""
    hits = _hits(image, page)
    if not hits:
        raise PaperError(ReasonCode.QR_NOT_FOUND, "no readable QR code in the image")
    return hits


def _scan_image_file(path: Path) -> list[ScanHit]:
    """Every page (frame) of an image file, decoded one at a time within the file's pixel budget."""
    hits: list[ScanHit] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=IMAGE_FORMATS) as image:
                pages = getattr(image, "n_frames", 1) if image.format == "TIFF" else 1  # WebP frames: animation
                if pages > MAX_PDF_PAGES:
                    raise PaperError(ReasonCode.IMAGE_UNREADABLE, "image has too many pages")
                budget = MAX_IMAGE_PIXELS
                for index in range(pages):
                    image.seek(index)
                    if image.width * image.height > budget:  # from the header: nothing is decoded yet
                        raise PaperError(ReasonCode.IMAGE_UNREADABLE, "image has too many pixels")
                    budget -= image.width * image.height
                    image.load()
                    hits.extend(_hits(ImageOps.exif_transpose(image).convert("L"), index + 1))
    except PaperError:
        raise
    except (
        OSError,
        UnidentifiedImageError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        SyntaxError,
    ) as exc:
        raise PaperError(ReasonCode.IMAGE_UNREADABLE, "file is not a readable PNG, JPEG, TIFF, WebP or BMP image"
                         ) from exc
    return hits


def _scan_pdf(path: Path, dpi: int) -> list[ScanHit]:
    try:
        document = pdfium.PdfDocument(path)
    except (pdfium.PdfiumError, OSError, ValueError) as exc:
        raise PaperError(ReasonCode.PDF_UNREADABLE, "PDF cannot be opened") from exc
    hits: list[ScanHit] = []
    budget = MAX_IMAGE_PIXELS  # for the whole document: ~20 A4 pages at 200 dpi, however the pages are cut
    try:
        if len(document) > MAX_PDF_PAGES:
            raise PaperError(ReasonCode.PDF_UNREADABLE, "PDF has too many pages")
        for index in range(len(document)):
            try:
                page = document[index]
                width, height = page.get_size()  # points; checked before any pixel is allocated
                pixels = width * height * (dpi / 72) ** 2
                if pixels > budget:
                    raise PaperError(ReasonCode.PDF_UNREADABLE, "PDF is too large to rasterise")
                budget -= pixels
                image = page.render(scale=dpi / 72, grayscale=True).to_pil()
            except (pdfium.PdfiumError, OSError, ValueError) as exc:
                raise PaperError(ReasonCode.PDF_UNREADABLE, "PDF page cannot be rasterised") from exc
            hits.extend(_hits(image, index + 1))
    finally:
        document.close()
    return hits


def scan(path: Path, *, dpi: int = PDF_DPI) -> list[ScanHit]:
    """Every QR in an image file (each page of a TIFF) or in each page of a PDF (rasterised at ``dpi``)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(5)
    except OSError as exc:
        raise PaperError(ReasonCode.IMAGE_UNREADABLE, "file cannot be read") from exc
    hits = _scan_pdf(path, dpi) if head == b"%PDF-" else _scan_image_file(path)
    if not hits:
        raise PaperError(ReasonCode.QR_NOT_FOUND, "no readable QR code found")
    return hits
