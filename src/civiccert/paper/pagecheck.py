"""Does a PDF page show what its QR signs? The text layer and the seal impression, checked against the claims.

A genuine QR pasted onto a newly made page, or a name line added to a real one, keeps a valid signature: only
the page can tell. The renderer draws its text in a fixed order from the claims (``_layout``), and pdfium
extracts it in drawing order, so the verifier rebuilds the expected sequence from the QR's claims and asks
the page's text (whitespace removed) to be exactly that sequence. Three parts are not signed and are allowed
in their places only: the certifier line (its title must name the municipality, ≤ 16 further characters),
the 〓 footnote (and 〓 in place of a CJK character no font had), and the 見本 overprint at the foot.

The 印鑑登録証明書 page must attach the signed seal PNG (its SHA-256 is the signed ``image_sha256``) and draw
exactly those pixels as the only image in the 印影 box above the 地紋; no vector path may be drawn inside the
box. A page without a text layer (a scan saved as PDF) is like a photo: the check is SKIPPED and the reader
compares the printed page with the claims shown. No PDF writer is needed: pypdfium2 and Pillow only.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from PIL import Image

from civiccert.errors import ReasonCode
from civiccert.paper._dates import print_datetime
from civiccert.paper._layout import (
    CONTINUED,
    END_MARK,
    KANA_SEP,
    PERSONS_PER_SHEET,
    SAMPLE_MARK,
    SEAL_ATTACHMENT,
    SEAL_BOX_MM,
    SEAL_BOX_TOP_MM,
    SEAL_LABEL,
    TITLES,
    VCT_JUMINHYO,
    VCT_SEAL,
    VERIFY_HINT,
    certification_sentence,
    item,
    page_of,
    person_rows,
    s,
    seal_rows,
    serial_line,
)

__all__ = ["GROUND_PIXELS_SHA256", "PageFinding", "check_pdf_page", "expected_pages"]

#: SHA-256 of the decoded 地紋 pixels (``_ground.ground_png``; a test keeps the two in step)
GROUND_PIXELS_SHA256 = "38e12b608a895e8f85061ffaaed07a13e6066b5a79aa0e97cfbc243990f73864"
_MM = 72 / 25.4
_PAGE_H = 841.8897637795277
_MAX_CERTIFIER_NAME = 16
_GETA = "〓"


class Slot(Enum):
    """An unsigned part of the page, allowed only where the renderer draws it."""

    CERTIFIER = "certifier"
    NOTE = "note"


Part = str | Slot


@dataclass(frozen=True)
class PageFinding:
    """The outcome for one page: OK, PAGE_MISMATCH, SEAL_MISMATCH or PAGE_NOT_CHECKED (no text layer)."""

    code: ReasonCode
    detail: str


def expected_pages(vct: str, claims: Mapping[str, Any], *, individual_number: bool = False) -> list[list[Part]]:
    """The text the renderer draws on each page for these claims, in drawing order (``pdf.render_pdf_bytes``)."""
    if vct == VCT_SEAL:
        page: list[Part] = [*_title(claims, VCT_SEAL, 1, 1), SEAL_LABEL]
        for label, value in seal_rows(claims.get("registrant") or {}):
            page += [label, value]
        return [page + _footer(vct, claims, 1, 1)]
    members: Sequence[Any] = claims.get("members") or []
    omitted = {str(o) for o in claims.get("omitted") or []}
    chunks = [members[i : i + PERSONS_PER_SHEET] for i in range(0, len(members), PERSONS_PER_SHEET)] or [[]]
    household = claims.get("household") or {}
    pages: list[list[Part]] = []
    for index, chunk in enumerate(chunks, start=1):
        page = _title(claims, VCT_JUMINHYO, index, len(chunks))
        page += ["住所", s(household.get("address")), "方書", s(household.get("address_extra")),
                 "世帯主", item(household, "householder", omitted, "householder_relationship")]
        for offset, person in enumerate(chunk):
            if not isinstance(person, Mapping):
                continue
            page.append(str((index - 1) * PERSONS_PER_SHEET + offset + 1))
            for row in person_rows(person, omitted, individual_number):
                for label, value, _ in row:
                    page += [label, *value.split(KANA_SEP)]
        if index == len(chunks):
            page.append(END_MARK)
        pages.append(page + _footer(vct, claims, index, len(chunks)))
    return pages


def _title(claims: Mapping[str, Any], vct: str, page: int, pages: int) -> list[Part]:
    return [TITLES[vct], serial_line(claims), page_of(page, pages, header=True)]


def _footer(vct: str, claims: Mapping[str, Any], page: int, pages: int) -> list[Part]:
    certificate = claims.get("certificate") or {}
    parts: list[Part] = [VERIFY_HINT]
    if page == pages:
        parts += [certification_sentence(vct, claims), print_datetime(certificate.get("issued_at")), Slot.CERTIFIER]
    else:
        parts.append(CONTINUED)
    return [*parts, serial_line(claims), Slot.NOTE, page_of(page, pages, header=False)]


def _squash(text: str) -> str:
    return "".join(text.split())


def _char(c: str) -> str:
    code = ord(c)
    if 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF:  # a selector goes with a base printed as 〓
        return re.escape(c) + "?"
    if code >= 0x2E80:  # CJK: 〓 when no shipped font has it (the footnote lists it)
        return f"[{re.escape(c)}{_GETA}]"
    return re.escape(c)


def _pattern(parts: Sequence[Part], municipality: str) -> re.Pattern[str]:
    out: list[str] = []
    for part in parts:
        if part is Slot.CERTIFIER:
            out.append(f".{{0,20}}{re.escape(_squash(municipality))}長.{{0,{_MAX_CERTIFIER_NAME}}}?")
        elif part is Slot.NOTE:
            out.append(f"(?:注:{_GETA}は書体にない文字です（U\\+[0-9A-F]{{4,6}}(?:、U\\+[0-9A-F]{{4,6}})*）。"
                       "QRコードの内容で確認してください。)?")
        else:
            out.append("".join(_char(c) for c in _squash(part)))
    out.append(f"(?:{re.escape(_squash(''.join(SAMPLE_MARK)))})?")
    return re.compile("".join(out), re.DOTALL)


def check_pdf_page(vct: str, claims: Mapping[str, Any], pdf: Path, page: int) -> PageFinding:
    """Compare page ``page`` (1-based) of ``pdf`` with the copy the claims describe."""
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(str(pdf))
    except pdfium.PdfiumError:
        return PageFinding(ReasonCode.PAGE_MISMATCH, "the PDF cannot be read again")
    try:
        municipality = s((claims.get("municipality") or {}).get("name"))
        variants = [expected_pages(vct, claims, individual_number=flag) for flag in (False, True)]
        if not 1 <= page <= len(document):
            return PageFinding(ReasonCode.PAGE_MISMATCH, "no such page")
        text = _squash(document[page - 1].get_textpage().get_text_range())
        if not text:
            return PageFinding(ReasonCode.PAGE_NOT_CHECKED, "no text layer: compare the page with the claims shown")
        if len(document) != len(variants[0]):
            return PageFinding(ReasonCode.PAGE_MISMATCH, "the PDF has another number of pages than the copy")
        if not any(_pattern(pages[page - 1], municipality).fullmatch(text) for pages in variants):
            return PageFinding(ReasonCode.PAGE_MISMATCH, "the page text is not the signed claims' text")
        if vct == VCT_SEAL:
            return _check_seal(document, document[page - 1], claims)
        return PageFinding(ReasonCode.OK, "the page text is the signed claims' text")
    finally:
        document.close()


def _check_seal(document: Any, page: Any, claims: Mapping[str, Any]) -> PageFinding:
    """The 印影 box shows the signed seal PNG's pixels and nothing else above the 地紋."""
    import pypdfium2 as pdfium

    seal = claims.get("seal")
    signed = seal.get("image_sha256") if isinstance(seal, Mapping) else None
    png = _attachment(document, SEAL_ATTACHMENT)
    if not isinstance(signed, str) or png is None or hashlib.sha256(png).hexdigest() != signed.lower():
        return PageFinding(ReasonCode.SEAL_MISMATCH, "the attached seal image is not the signed one")
    box = _seal_box()
    inner = (box[0] + 2, box[1] + 2, box[2] - 2, box[3] - 2)
    drawn: list[Image.Image] = []
    for index, obj in enumerate(page.get_objects(max_depth=0)):
        bounds = obj.get_bounds()
        if obj.type == pdfium.raw.FPDF_PAGEOBJ_IMAGE and _overlaps(bounds, box):
            pixels = obj.get_bitmap(render=False).to_pil()
            if index == 0 and hashlib.sha256(pixels.tobytes()).hexdigest() == GROUND_PIXELS_SHA256:
                continue  # the 地紋, drawn first under everything
            drawn.append(pixels)
        elif obj.type == pdfium.raw.FPDF_PAGEOBJ_PATH and _overlaps(bounds, inner) and not _encloses(bounds, inner):
            return PageFinding(ReasonCode.SEAL_MISMATCH, "something is drawn over the seal impression")
    with Image.open(io.BytesIO(png)) as image:
        expected = image.convert("RGB").tobytes()
    if len(drawn) != 1 or drawn[0].convert("RGB").tobytes() != expected:
        return PageFinding(ReasonCode.SEAL_MISMATCH, "the printed seal impression is not the signed one")
    return PageFinding(ReasonCode.OK, "the page text and the seal impression are the signed ones")


def _attachment(document: Any, name: str) -> bytes | None:
    found = [document.get_attachment(i) for i in range(document.count_attachments())]
    named = [a for a in found if a.get_name() == name]
    return bytes(named[0].get_data()) if len(named) == 1 else None


def _seal_box() -> tuple[float, float, float, float]:
    left, edge = SEAL_BOX_MM
    top = _PAGE_H - SEAL_BOX_TOP_MM * _MM
    return left * _MM, top - edge * _MM, (left + edge) * _MM, top


def _overlaps(a: Sequence[float], b: Sequence[float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _encloses(a: Sequence[float], b: Sequence[float]) -> bool:
    return a[0] <= b[0] and a[1] <= b[1] and a[2] >= b[2] and a[3] >= b[3]
