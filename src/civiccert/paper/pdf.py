"""A4 printed copies: 住民票の写し (世帯連記式, four persons per sheet) and 印鑑登録証明書, with the QR.

Input is the plain claim vocabulary of docs/DESIGN.md and the QR text from ``payload.qr_text``; nothing
here signs or decides anything, it only lays out what the claims say. Dates print in 和暦; items left out
under 住基法 (``omitted``) print 「省略」 as real copies do. Text is shaped by HarfBuzz (fpdf2) in IPAex明朝,
and IPAmj明朝 draws what IPAex lacks (𠮷, MJ characters, variation sequences: ``_glyphs``); both are
embedded as subsets, so the text layer extracts the exact code points of the signed name.

The QR is drawn as ONE vector path (adjacent modules in one fill: no hairline seams), with a 4-module quiet
zone and 0.5 mm modules (smaller only when a very large code would not fit its 80 mm band). Every sheet
carries the QR; the certification sentence, the certifier (市長) and the official seal are on the last sheet.
Under the layout lies a 地紋 whose hidden word 複写 appears on a photocopy (``_ground``).

``sample=True`` (the default) overprints a diagonal 見本 so a test print can never pass for a copy.
``render_pdf_bytes`` returns the document unsigned: a later step may sign it (PAdES) as it is.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from civiccert.errors import PaperError, ReasonCode
from civiccert.extras import ISSUER, missing_extra
from civiccert.fileio import write_atomic

try:  # the PDF writer is the issuer extra; a verifier never loads it
    from fpdf import FPDF
    from fpdf.line_break import Fragment
except ModuleNotFoundError as exc:
    raise missing_extra(ISSUER) from exc
from PIL import Image

from civiccert.paper._dates import print_datetime
from civiccert.paper._glyphs import FONTS, GETA, font_path, runs
from civiccert.paper._ground import ground_png, official_seal_png
from civiccert.paper._layout import (
    CONTINUED,
    END_MARK,
    KANA_SEP,
    PERSONS_PER_SHEET,
    SAMPLE_MARK,
    SEAL_ATTACHMENT,
    SEAL_BOX_MM,
    SEAL_LABEL,
    SENTENCES,
    TITLES,
    VCT_JUMINHYO,
    VCT_SEAL,
    VERIFY_HINT,
    Certifier,
    certification_sentence,
    item,
    page_of,
    person_rows,
    s,
    seal_rows,
    serial_line,
)
from civiccert.paper.qr import QUIET_ZONE_MODULES, QrCode, make_qr

__all__ = ["PERSONS_PER_SHEET", "Certifier", "certification_sentence", "render_pdf", "render_pdf_bytes"]

mm = 72 / 25.4  # points per millimetre
_PAGE_W, _PAGE_H = 595.2755905511812, 841.8897637795277
_MARGIN = 15 * mm
_CONTENT_W = _PAGE_W - 2 * _MARGIN
_QR_BAND = 80 * mm  # height reserved at the foot of each sheet for the QR and the certification
_MODULE = 0.5 * mm
_ROW_H = 7.2 * mm
Rgb = tuple[int, int, int]
black: Rgb = (0, 0, 0)
_GRID: Rgb = (64, 64, 64)
_LABEL: Rgb = (77, 77, 77)


class _Pdf(FPDF):
    """fpdf2 with the whole string handed to HarfBuzz as one fragment: its default splitter cuts a
    variation selector off its base (own Unicode script), which loses the variant glyph. Font choice per
    run is ``_glyphs.runs``'s job, not fpdf2's fallback."""

    def _parse_chars(self, text: str, markdown: bool, **_: Any) -> Iterator[Fragment]:
        yield Fragment(text, self._get_current_graphics_state(), self.k)


class _Sheet:
    """The document plus the code points printed as 〓 on the current page and the text drawn on it."""

    def __init__(self, pdf: _Pdf) -> None:
        self.c = pdf
        self.missing: set[int] = set()

    def font(self, key: str, size: float) -> None:
        """Select ``key``, embedding it on first use (IPAmj is 46 MB: most copies never need it)."""
        if key not in self.c.fonts:
            self.c.add_font(key, fname=str(font_path(key)))
        self.c.set_font(key, size=size)

    def width(self, value: str, size: float) -> float:
        total = 0.0
        for key, piece in runs(value, set()):
            self.font(key, size)
            total += self.c.get_string_width(piece)
        return total

    def text(
        self,
        x: float,
        y: float,
        value: str,
        size: float,
        *,
        max_w: float | None = None,
        align: str = "left",
        color: Rgb = black,
    ) -> None:
        """Draw ``value`` with its baseline at ``y`` (points from the page's foot, as in PDF space)."""
        pieces = runs(value, self.missing)
        width = self.width(value, size)
        if max_w is not None and width > max_w:  # shrink long addresses to fit their cell
            size = max(4.5, size * max_w / width)
            width = self.width(value, size)
        if align == "center":
            x -= width / 2
        elif align == "right":
            x -= width
        self.c.set_text_color(*color)
        for key, piece in pieces:
            self.font(key, size)
            w = self.c.get_string_width(piece)
            self.c.set_xy(x, _PAGE_H - y - 0.8 * size)
            self.c.cell(w=w, h=size, text=piece)
            x += w
        self.c.set_text_color(*black)

    def rect(self, x: float, y: float, w: float, h: float, *, color: Rgb = _GRID, line: float = 0.4) -> None:
        """A stroked rectangle whose lower-left corner is (x, y) in PDF space."""
        self.c.set_draw_color(*color)
        self.c.set_line_width(line)
        self.c.rect(x, _PAGE_H - y - h, w, h, style="D")

    def image(self, png: bytes, x: float, y: float, w: float, h: float) -> None:
        self.c.image(io.BytesIO(png), x, _PAGE_H - y - h, w, h)

    def cell(self, x: float, top: float, w: float, h: float, *, label: str, value: str, size: float = 9.5) -> None:
        """A ruled cell: small label top-left, value on the lower line."""
        self.rect(x, top - h, w, h)
        self.text(x + 1.2 * mm, top - 2.6 * mm, label, 6.2, color=_LABEL)
        self.text(x + 2.5 * mm, top - h + 1.6 * mm, value, size, max_w=w - 3.5 * mm)


def _draw_qr(pdf: _Pdf, qr: QrCode, right: float, bottom: float, max_size: float) -> float:
    """Draw the symbol as one filled path whose lower-right corner is at (right, bottom); return edge."""
    total = qr.size + 2 * QUIET_ZONE_MODULES
    module = min(_MODULE, max_size / total)
    edge = total * module
    x0 = right - edge + QUIET_ZONE_MODULES * module
    y_top = bottom + edge - QUIET_ZONE_MODULES * module
    pdf.set_fill_color(255, 255, 255)
    pdf.rect(right - edge, _PAGE_H - bottom - edge, edge, edge, style="F")
    ops: list[str] = []
    for y, row in enumerate(qr.modules):
        x = 0
        while x < qr.size:
            if row[x]:
                start = x
                while x < qr.size and row[x]:
                    x += 1
                ops.append(f"{x0 + start * module:.3f} {y_top - (y + 1) * module:.3f} "
                           f"{(x - start) * module:.3f} {module:.3f} re")
            else:
                x += 1
    # raw operators in PDF space (unit pt, origin bottom-left): fpdf2's path API deep-copies every
    # rectangle (about 1 s for a version-25 code)
    pdf._out("q 0 g " + " ".join(ops) + " f Q")
    return edge


def _footer(sheet: _Sheet, claims: Mapping[str, Any], qr: QrCode, *, page: int, pages: int, sentence: str,
            certifier: Certifier) -> None:
    certificate = claims.get("certificate") or {}
    bottom = _MARGIN
    edge = _draw_qr(sheet.c, qr, _PAGE_W - _MARGIN, bottom + 6 * mm, _QR_BAND - 8 * mm)
    sheet.text(_PAGE_W - _MARGIN, bottom + 2 * mm, VERIFY_HINT, 6.5, align="right", max_w=_CONTENT_W)
    left_w = _CONTENT_W - edge - 6 * mm
    y = bottom + _QR_BAND - 12 * mm
    if page == pages:
        sheet.text(_MARGIN, y, sentence, 10.5, max_w=left_w)
        sheet.text(_MARGIN, y - 10 * mm, print_datetime(certificate.get("issued_at")), 10.5, max_w=left_w)
        seal_x = _MARGIN + left_w - 21 * mm
        sheet.text(seal_x - 2 * mm, y - 24 * mm, f"{certifier.title}　{certifier.name}", 14, align="right",
                   max_w=left_w - 24 * mm)
        seal = certifier.seal_png or official_seal_png(certifier.title)
        sheet.image(seal, seal_x, y - 32 * mm, 21 * mm, 21 * mm)  # 職印 over the end of the name, as stamped
    else:
        sheet.text(_MARGIN, y, CONTINUED, 9)
    sheet.text(_MARGIN, bottom + 14 * mm, serial_line(claims), 8, max_w=left_w)
    if sheet.missing:
        codes = "、".join(f"U+{cp:04X}" for cp in sorted(sheet.missing))
        note = f"注: {GETA} は書体にない文字です（{codes}）。QR コードの内容で確認してください。"
        sheet.text(_MARGIN, bottom + 8 * mm, note, 7, max_w=left_w)
    sheet.text(_PAGE_W / 2, bottom - 6 * mm, page_of(page, pages, header=False), 8, align="center")


def _title(sheet: _Sheet, title: str, claims: Mapping[str, Any], page: int, pages: int) -> float:
    top = _PAGE_H - _MARGIN
    sheet.text(_PAGE_W / 2, top - 9 * mm, title, 20, align="center")
    sheet.text(_PAGE_W - _MARGIN, top - 2 * mm, serial_line(claims), 8, align="right")
    sheet.text(_PAGE_W - _MARGIN, top - 6 * mm, page_of(page, pages, header=True), 8, align="right")
    return top - 16 * mm


def _draw_person(sheet: _Sheet, top: float, number: int, person: Mapping[str, Any], *, omitted: set[str],
                 individual_number: bool) -> float:
    rows = person_rows(person, omitted, individual_number)
    tab = 7 * mm
    sheet.rect(_MARGIN, top - len(rows) * _ROW_H, _CONTENT_W, len(rows) * _ROW_H, line=0.8)
    sheet.text(_MARGIN + tab / 2, top - len(rows) * _ROW_H / 2 - 1.5 * mm, str(number), 11, align="center")
    y = top
    width = _CONTENT_W - tab
    for row in rows:
        x = _MARGIN + tab
        for label, value, share in row:
            w = width * share
            if KANA_SEP in value:  # name with its furigana above
                name, kana = value.split(KANA_SEP)
                sheet.cell(x, y, w, _ROW_H, label=label, value=name, size=11)
                sheet.text(x + 12 * mm, y - 2.6 * mm, kana, 6.2, max_w=w - 13 * mm)
            else:
                sheet.cell(x, y, w, _ROW_H, label=label, value=value)
            x += w
        y -= _ROW_H
    return y - 2.5 * mm


def _household_header(sheet: _Sheet, top: float, claims: Mapping[str, Any], omitted: set[str]) -> float:
    household = claims.get("household") or {}
    householder = item(household, "householder", omitted, "householder_relationship")
    sheet.cell(_MARGIN, top, _CONTENT_W, _ROW_H, label="住所", value=s(household.get("address")), size=11)
    top -= _ROW_H
    sheet.cell(_MARGIN, top, _CONTENT_W * 0.6, _ROW_H, label="方書", value=s(household.get("address_extra")))
    sheet.cell(_MARGIN + _CONTENT_W * 0.6, top, _CONTENT_W * 0.4, _ROW_H, label="世帯主", value=householder, size=11)
    return top - _ROW_H - 4 * mm


def _render_juminhyo(pdf: _Pdf, claims: Mapping[str, Any], qr: QrCode, opts: _Options) -> None:
    members: Sequence[Any] = claims.get("members") or []
    omitted = {str(o) for o in claims.get("omitted") or []}
    chunks = [members[i : i + PERSONS_PER_SHEET] for i in range(0, len(members), PERSONS_PER_SHEET)] or [[]]
    sentence = certification_sentence(VCT_JUMINHYO, claims)
    for index, chunk in enumerate(chunks, start=1):
        sheet = _new_page(pdf)
        top = _title(sheet, TITLES[VCT_JUMINHYO], claims, index, len(chunks))
        top = _household_header(sheet, top, claims, omitted)
        for offset, person in enumerate(chunk):
            if isinstance(person, Mapping):
                top = _draw_person(sheet, top, (index - 1) * PERSONS_PER_SHEET + offset + 1, person,
                                   omitted=omitted, individual_number=opts.individual_number)
        if index == len(chunks):
            sheet.text(_PAGE_W / 2, top - 3 * mm, END_MARK, 9, align="center")
        _footer(sheet, claims, qr, page=index, pages=len(chunks), sentence=sentence, certifier=opts.certifier)
        _finish_page(sheet, opts.sample)


def _seal_png(seal: Mapping[str, Any]) -> tuple[bytes, float, float]:
    """The registered impression and its printed width/height in points (size_mm = the longer side)."""
    try:
        png = base64.b64decode(str(seal["image_png"]), validate=True)
        with Image.open(io.BytesIO(png)) as image:
            px_w, px_h = image.size
        size = float(seal["size_mm"]) * mm
    except (KeyError, ValueError, TypeError, OSError) as exc:
        raise PaperError(
            ReasonCode.SEAL_IMAGE_INVALID, "seal impression cannot be printed", field="seal.image_png"
        ) from exc
    if px_w >= px_h:
        return png, size, size * px_h / px_w
    return png, size * px_w / px_h, size


def _render_seal(pdf: _Pdf, claims: Mapping[str, Any], qr: QrCode, opts: _Options) -> None:
    sheet = _new_page(pdf)
    registrant = claims.get("registrant") or {}
    top = _title(sheet, TITLES[VCT_SEAL], claims, 1, 1)
    box = SEAL_BOX_MM[1] * mm
    sheet.rect(_MARGIN, top - box, box, box, line=0.8)
    sheet.text(_MARGIN + 1.5 * mm, top - 3.5 * mm, SEAL_LABEL, 7, color=_LABEL)
    seal = claims.get("seal")
    if isinstance(seal, Mapping) and "image_png" in seal:
        png, w, h = _seal_png(seal)
        sheet.image(png, _MARGIN + (box - w) / 2, top - box / 2 - h / 2, w, h)
        # the signed PNG itself, so a verifier can hash it and compare the drawn pixels with it (pagecheck)
        pdf.embed_file(bytes=png, basename=SEAL_ATTACHMENT, modification_date=_fixed_date(claims),
                       mime_type="image/png")
    x = _MARGIN + box
    w = _CONTENT_W - box
    rows = seal_rows(registrant)
    row_h = box / len(rows)
    for i, (label, value) in enumerate(rows):
        sheet.cell(x, top - i * row_h, w, row_h, label=label, value=value, size=12 if label == "氏名" else 10)
    _footer(sheet, claims, qr, page=1, pages=1, sentence=SENTENCES["seal"], certifier=opts.certifier)
    _finish_page(sheet, opts.sample)


def _new_page(pdf: _Pdf) -> _Sheet:
    pdf.add_page()
    pdf.image(io.BytesIO(ground_png()), _MARGIN, _MARGIN, _CONTENT_W, _PAGE_H - 2 * _MARGIN)  # 地紋, under all
    return _Sheet(pdf)


def _finish_page(sheet: _Sheet, sample: bool) -> None:
    if not sample:
        return
    pdf = sheet.c
    cx, cy = _PAGE_W / 2, _PAGE_H / 2 - 25 * mm
    with pdf.rotation(35, cx, cy), pdf.local_context(fill_opacity=0.28):
        sheet.text(cx, _PAGE_H - cy - 50, SAMPLE_MARK[0], 150, align="center", color=(217, 26, 26))
        sheet.text(cx, _PAGE_H - cy - 90, SAMPLE_MARK[1], 22, align="center", color=(217, 26, 26))


@dataclass(frozen=True)
class _Options:
    sample: bool
    certifier: Certifier
    individual_number: bool


def render_pdf_bytes(
    vct: str,
    claims: Mapping[str, Any],
    qr_text: str,
    *,
    sample: bool = True,
    certifier: Certifier | None = None,
    individual_number: bool = False,
) -> bytes:
    """The A4 copy of ``claims`` with ``qr_text`` as its QR, as unsigned PDF bytes.

    ``individual_number``: print the 個人番号 (only when the requester asked and the law permits; the QR
    must then carry it too, or the verifier finds the page does not match). Otherwise it prints 省略."""
    municipality = claims.get("municipality") or {}
    certifier = certifier or Certifier(f"{s(municipality.get('name'))}長", "")
    qr = make_qr(qr_text)
    pdf = _Pdf(unit="pt", format="A4")
    pdf.set_auto_page_break(False)
    pdf.c_margin = 0
    pdf.set_text_shaping(True)
    pdf.add_font(FONTS[0], fname=str(font_path(FONTS[0])))
    title = TITLES.get(vct, TITLES[VCT_SEAL])
    pdf.set_title(f"{title}（見本）" if sample else title)
    pdf.set_creator("civiccert")
    pdf.set_creation_date(_fixed_date(claims))
    opts = _Options(sample, certifier, individual_number)
    try:
        if vct == VCT_JUMINHYO:
            _render_juminhyo(pdf, claims, qr, opts)
        elif vct == VCT_SEAL:
            _render_seal(pdf, claims, qr, opts)
        else:
            raise PaperError(ReasonCode.VCT_UNKNOWN, "no printed layout for this credential type")
        return bytes(pdf.output())
    finally:
        for font in pdf.fonts.values():  # fpdf2 reads fonts lazily and leaves the files open
            ttfont = getattr(font, "ttfont", None)
            if ttfont is not None:
                ttfont.close()


def _fixed_date(claims: Mapping[str, Any]) -> Any:
    """The issue time as the document date, so the same copy renders to the same bytes."""
    from datetime import UTC, datetime

    certificate = claims.get("certificate") or {}
    try:
        return datetime.fromisoformat(str(certificate.get("issued_at")))
    except ValueError:
        return datetime(2000, 1, 1, tzinfo=UTC)


def render_pdf(vct: str, claims: Mapping[str, Any], qr_text: str, out: Path, *, sample: bool = True,
               certifier: Certifier | None = None, individual_number: bool = False) -> Path:
    """Write the A4 copy of ``claims`` with ``qr_text`` as its QR to ``out``; return ``out``."""
    write_atomic(out, render_pdf_bytes(vct, claims, qr_text, sample=sample, certifier=certifier,
                                       individual_number=individual_number))
    return out
