"""What a verifier was handed, turned into texts to verify: a credential file, a presentation, a QR scan.

Routing is by content, not by file name, so a mislabelled upload still goes the right way; images and PDFs
go through the QR scanner and may yield several codes (each reported with its page).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from civiccert.errors import CredentialError, PaperError, ReasonCode

__all__ = ["MAX_INPUT_BYTES", "SCAN_SUFFIXES", "InputItem", "read_inputs"]

MAX_INPUT_BYTES = 64 * 1024 * 1024  # a 600-dpi multi-page scan stays well below this

@dataclass(frozen=True)
class InputItem:
    """One thing to verify: its text, where it came from, and the PDF page's own text when there is one
    (so that a QR pasted onto another copy's page is caught)."""

    text: str
    source: str
    page_text: str | None = None
    pdf: Path | None = None  # the PDF the QR was read from, so its page can be compared with the claims
    page: int = 0
    photo: Path | None = None  # the image file the QR was read from (a photo or scan: pixels only)
    corners: tuple[tuple[int, int], ...] = ()  # the QR's corners in it, which place the rest of the page


_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG = b"\xff\xd8\xff"
_PDF = b"%PDF-"
_TIFF = (b"II*\x00", b"MM\x00*")
_BMP = b"BM"
SCAN_SUFFIXES = {".png", ".jpg", ".jpeg", ".pdf", ".tif", ".tiff", ".webp", ".bmp"}


def _is_scan(head: bytes, suffix: str) -> bool:
    """An image or a PDF, by its first bytes (a mislabelled upload still goes the right way) or its name."""
    webp = head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    return head.startswith((_PNG, _JPEG, _PDF, *_TIFF, _BMP)) or webp or suffix.lower() in SCAN_SUFFIXES


def read_inputs(path: Path) -> list[InputItem]:
    """Texts to verify with a source label (file name, and page for scans); never the content itself."""
    try:
        size = path.stat().st_size
        if size > MAX_INPUT_BYTES:
            raise CredentialError(ReasonCode.INPUT_TOO_LARGE, "input file is too large")
        with path.open("rb") as fh:
            head = fh.read(12)
    except FileNotFoundError:
        raise CredentialError(ReasonCode.INPUT_NOT_FOUND, "input file not found") from None
    except OSError as exc:
        raise CredentialError(ReasonCode.MALFORMED, "input file cannot be read") from exc
    if _is_scan(head, path.suffix):
        from civiccert.paper.scan import scan  # local: imaging libraries only when scanning

        hits = scan(path)
        if not hits:
            raise PaperError(ReasonCode.QR_NOT_FOUND, "no QR code found")
        pdf = path if head.startswith(_PDF) else None
        texts = _pdf_page_texts(path) if pdf else {}
        photo = None if pdf is not None else path
        return [InputItem(hit.text, f"{path.name} p.{hit.page}", texts.get(hit.page), pdf, hit.page, photo,
                          hit.position) for hit in hits]
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CredentialError(ReasonCode.MALFORMED, "input is neither an image, a PDF nor UTF-8 text") from exc
    return [InputItem(text.strip(), path.name)]


def _pdf_page_texts(path: Path) -> dict[int, str]:
    """Text layer of each page (1-based); empty for a scanned PDF, which then relies on the reader's eyes."""
    import pypdfium2 as pdfium

    texts: dict[int, str] = {}
    try:
        document = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError:
        return texts
    try:
        for index in range(len(document)):
            text = document[index].get_textpage().get_text_range()
            if text.strip():
                texts[index + 1] = text
    finally:
        document.close()
    return texts
