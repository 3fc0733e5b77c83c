"""A4 printed copies: 住民票の写し (世帯連記式, four persons per sheet) and 印鑑登録証明書, with the QR.

Input is the plain claim vocabulary of docs/DESIGN.md and the QR text from ``payload.qr_text``; nothing
here signs or decides anything, it only lays out what the claims say. Dates print in 和暦; items left out
under 住基法 (``omitted``) print 「省略」 as real copies do. The Japanese font is embedded (IPAex明朝);
characters it lacks print as 〓 with a footnote naming the code point (``_glyphs``).

The QR is drawn as ONE vector path (adjacent modules in one fill: no hairline seams), with a 4-module quiet
zone and 0.5 mm modules (smaller only when a very large code would not fit its 80 mm band). Every sheet
carries the QR; the certification sentence and the 市長 line are on the last sheet.

``sample=True`` (the default) overprints a diagonal 見本 so a test print can never pass for a copy.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from civiccert.errors import PaperError, ReasonCode
from civiccert.extras import ISSUER, missing_extra

try:  # the PDF writer is the issuer extra; a verifier never loads it
    from reportlab.lib.colors import Color, black
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm as _reportlab_mm
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.pdfgen.canvas import Canvas
except ModuleNotFoundError as exc:
    raise missing_extra(ISSUER) from exc

from civiccert.paper._dates import print_date, print_datetime
from civiccert.paper._glyphs import FONT_NAME, GETA, printable, register_font
from civiccert.paper.qr import QUIET_ZONE_MODULES, QrCode, make_qr
from civiccert.records.juminhyo import NAME_KANA_NOT_RECORDED_JA

__all__ = ["PERSONS_PER_SHEET", "render_pdf"]

PERSONS_PER_SHEET = 4
VERIFY_HINT = "この証明書は QR コードで真正性を確認できます: civiccert verify"
_JUMINHYO_SENTENCE = "この写しは、住民票の原本と相違ないことを証明する。"
_SEAL_SENTENCE = "この写しは、登録されている印影と相違ないことを証明する。"
_VCT_JUMINHYO = "urn:civiccert:vct:juminhyo:1"
_VCT_SEAL = "urn:civiccert:vct:inkan-toroku:1"
_OMITTED = "省略"

mm = float(_reportlab_mm)  # points per millimetre, typed
_PAGE_W, _PAGE_H = float(A4[0]), float(A4[1])
_MARGIN = 15 * mm
_CONTENT_W = _PAGE_W - 2 * _MARGIN
_QR_BAND = 80 * mm  # height reserved at the foot of each sheet for the QR and the certification
_MODULE = 0.5 * mm
_ROW_H = 7.2 * mm
_GRID = Color(0.25, 0.25, 0.25)
_LABEL = Color(0.3, 0.3, 0.3)


class _Sheet:
    """One canvas plus the font coverage and the code points printed as 〓 on the current page."""

    def __init__(self, canvas: Canvas, covered: frozenset[int]) -> None:
        self.c = canvas
        self.covered = covered
        self.missing: set[int] = set()

    def text(
        self,
        x: float,
        y: float,
        value: str,
        size: float,
        *,
        max_w: float | None = None,
        align: str = "left",
        color: Color = black,
    ) -> None:
        shown = printable(value, self.covered, self.missing)
        width = stringWidth(shown, FONT_NAME, size)
        if max_w is not None and width > max_w:  # shrink long addresses to fit their cell
            size = max(4.5, size * max_w / width)
            width = stringWidth(shown, FONT_NAME, size)
        self.c.setFillColor(color)
        self.c.setFont(FONT_NAME, size)
        if align == "center":
            x -= width / 2
        elif align == "right":
            x -= width
        self.c.drawString(x, y, shown)
        self.c.setFillColor(black)

    def cell(self, x: float, top: float, w: float, h: float, *, label: str, value: str, size: float = 9.5) -> None:
        """A ruled cell: small label top-left, value on the lower line."""
        self.c.setStrokeColor(_GRID)
        self.c.setLineWidth(0.4)
        self.c.rect(x, top - h, w, h, stroke=1, fill=0)
        self.text(x + 1.2 * mm, top - 2.6 * mm, label, 6.2, color=_LABEL)
        self.text(x + 2.5 * mm, top - h + 1.6 * mm, value, size, max_w=w - 3.5 * mm)


def _s(value: Any) -> str:
    return "" if value is None else str(value)


def _item(
    person: Mapping[str, Any], key: str, omitted: set[str], omit_key: str | None = None, *, date: bool = False
) -> str:
    if omit_key is not None and omit_key in omitted and key not in person:
        return _OMITTED
    value = person.get(key)
    return print_date(value) if date else _s(value)


def _draw_qr(c: Canvas, qr: QrCode, right: float, bottom: float, max_size: float) -> float:
    """Draw the symbol as one filled path whose lower-right corner is at (right, bottom); return edge."""
    total = qr.size + 2 * QUIET_ZONE_MODULES
    module = min(_MODULE, max_size / total)
    edge = total * module
    x0 = right - edge + QUIET_ZONE_MODULES * module
    y_top = bottom + edge - QUIET_ZONE_MODULES * module
    c.setFillColor(Color(1, 1, 1))
    c.rect(right - edge, bottom, edge, edge, stroke=0, fill=1)
    path = c.beginPath()
    for y, row in enumerate(qr.modules):
        x = 0
        while x < qr.size:
            if row[x]:
                start = x
                while x < qr.size and row[x]:
                    x += 1
                path.rect(x0 + start * module, y_top - (y + 1) * module, (x - start) * module, module)
            else:
                x += 1
    c.setFillColor(black)
    c.drawPath(path, stroke=0, fill=1)
    return edge


def _footer(sheet: _Sheet, claims: Mapping[str, Any], qr: QrCode, *, page: int, pages: int, sentence: str) -> None:
    c = sheet.c
    certificate = claims.get("certificate") or {}
    municipality = claims.get("municipality") or {}
    bottom = _MARGIN
    edge = _draw_qr(c, qr, _PAGE_W - _MARGIN, bottom + 6 * mm, _QR_BAND - 8 * mm)
    sheet.text(_PAGE_W - _MARGIN, bottom + 2 * mm, VERIFY_HINT, 6.5, align="right", max_w=_CONTENT_W)
    left_w = _CONTENT_W - edge - 6 * mm
    y = bottom + _QR_BAND - 12 * mm
    if page == pages:
        sheet.text(_MARGIN, y, sentence, 10.5, max_w=left_w)
        sheet.text(_MARGIN, y - 10 * mm, print_datetime(certificate.get("issued_at")), 10.5, max_w=left_w)
        name = _s(municipality.get("name"))
        sheet.text(_MARGIN + left_w - 22 * mm, y - 24 * mm, f"{name}長", 14, align="right", max_w=left_w)
        c.setStrokeColor(Color(0.75, 0.1, 0.1))
        c.setLineWidth(0.8)
        c.rect(_MARGIN + left_w - 19 * mm, y - 30 * mm, 17 * mm, 17 * mm, stroke=1, fill=0)
        sheet.text(_MARGIN + left_w - 10.5 * mm, y - 22.8 * mm, "職印", 7, align="center", color=Color(0.75, 0.1, 0.1))
    else:
        sheet.text(_MARGIN, y, "（次葉に続く）", 9)
    sheet.text(_MARGIN, bottom + 14 * mm, f"発行番号 {_s(certificate.get('serial'))}", 8, max_w=left_w)
    if sheet.missing:
        codes = "、".join(f"U+{cp:04X}" for cp in sorted(sheet.missing))
        sheet.text(
            _MARGIN,
            bottom + 8 * mm,
            f"注: {GETA} は書体にない文字です（{codes}）。原本で確認してください。",
            7,
            max_w=left_w,
        )
    sheet.text(_PAGE_W / 2, bottom - 6 * mm, f"{page} / {pages}", 8, align="center")


def _title(sheet: _Sheet, title: str, claims: Mapping[str, Any], page: int, pages: int) -> float:
    certificate = claims.get("certificate") or {}
    top = _PAGE_H - _MARGIN
    sheet.text(_PAGE_W / 2, top - 9 * mm, title, 20, align="center")
    sheet.text(_PAGE_W - _MARGIN, top - 2 * mm, f"発行番号 {_s(certificate.get('serial'))}", 8, align="right")
    sheet.text(_PAGE_W - _MARGIN, top - 6 * mm, f"{page} / {pages} 枚目", 8, align="right")
    return top - 16 * mm


def _person_rows(person: Mapping[str, Any], omitted: set[str]) -> list[list[tuple[str, str, float]]]:
    """Rows of (label, value, width share) for one person of a 世帯連記式 copy."""
    # name_kana is null (not absent) when the register has no 振り仮名 yet: print the legal placeholder
    kana = NAME_KANA_NOT_RECORDED_JA if "name_kana" in person and person["name_kana"] is None \
        else _s(person.get("name_kana"))
    name = _s(person.get("name"))
    rows: list[list[tuple[str, str, float]]] = [
        [
            ("氏名", name, 0.40),
            ("生年月日", _item(person, "birth_date", omitted, date=True), 0.24),
            ("性別", _s(person.get("sex")), 0.10),
            ("続柄", _item(person, "relationship", omitted, "householder_relationship"), 0.26),
        ],
        [
            ("住民となった日", _item(person, "resident_since", omitted, date=True), 0.34),
            ("住所を定めた日", _item(person, "address_since", omitted, date=True), 0.33),
            ("届出日", _item(person, "notified_on", omitted, date=True), 0.33),
        ],
        [("前住所", _s(person.get("previous_address")), 1.0)],
    ]
    foreign = person.get("foreign")
    if isinstance(foreign, Mapping):
        rows.append(
            [
                ("国籍・地域", _s(foreign.get("nationality")), 0.25),
                ("在留資格", _s(foreign.get("status_of_residence")), 0.30),
                ("在留期間", _s(foreign.get("period_of_stay")), 0.20),
                ("在留期間の満了の日", print_date(foreign.get("period_expires")), 0.25),
            ]
        )
        rows.append(
            [
                ("在留カード等の番号", _s(foreign.get("residence_card_number")), 0.34),
                ("第30条の45に規定する区分", _s(foreign.get("category")), 0.66),
            ]
        )
    else:
        rows.append(
            [
                ("本籍", _item(person, "honseki", omitted, "honseki"), 0.65),
                ("筆頭者", _item(person, "hitto", omitted, "honseki"), 0.35),
            ]
        )
    rows.append(
        [
            ("個人番号", _item(person, "individual_number", omitted, "individual_number"), 0.28),
            ("住民票コード", _item(person, "resident_code", omitted, "resident_code"), 0.24),
            ("旧氏", _s(person.get("former_surname")), 0.24),
            ("通称", _s(person.get("common_name")), 0.24),
        ]
    )
    if kana:
        rows[0][0] = ("氏名", f"{name}\u0000{kana}", 0.40)
    return rows


def _draw_person(sheet: _Sheet, top: float, number: int, person: Mapping[str, Any], omitted: set[str]) -> float:
    rows = _person_rows(person, omitted)
    c = sheet.c
    tab = 7 * mm
    c.setStrokeColor(_GRID)
    c.setLineWidth(0.8)
    c.rect(_MARGIN, top - len(rows) * _ROW_H, _CONTENT_W, len(rows) * _ROW_H, stroke=1, fill=0)
    sheet.text(_MARGIN + tab / 2, top - len(rows) * _ROW_H / 2 - 1.5 * mm, str(number), 11, align="center")
    y = top
    width = _CONTENT_W - tab
    for row in rows:
        x = _MARGIN + tab
        for label, value, share in row:
            w = width * share
            if "\u0000" in value:  # name with its furigana above
                name, kana = value.split("\u0000")
                sheet.cell(x, y, w, _ROW_H, label=label, value=name, size=11)
                sheet.text(x + 12 * mm, y - 2.6 * mm, kana, 6.2, max_w=w - 13 * mm)
            else:
                sheet.cell(x, y, w, _ROW_H, label=label, value=value)
            x += w
        y -= _ROW_H
    return y - 2.5 * mm


def _household_header(sheet: _Sheet, top: float, claims: Mapping[str, Any], omitted: set[str]) -> float:
    household = claims.get("household") or {}
    householder = _item(household, "householder", omitted, "householder_relationship")
    sheet.cell(_MARGIN, top, _CONTENT_W, _ROW_H, label="住所", value=_s(household.get("address")), size=11)
    top -= _ROW_H
    sheet.cell(_MARGIN, top, _CONTENT_W * 0.6, _ROW_H, label="方書", value=_s(household.get("address_extra")))
    sheet.cell(_MARGIN + _CONTENT_W * 0.6, top, _CONTENT_W * 0.4, _ROW_H, label="世帯主", value=householder, size=11)
    return top - _ROW_H - 4 * mm


def _render_juminhyo(
    canvas: Canvas, covered: frozenset[int], claims: Mapping[str, Any], qr: QrCode, sample: bool
) -> None:
    members: Sequence[Any] = claims.get("members") or []
    omitted = {str(o) for o in claims.get("omitted") or []}
    chunks = [members[i : i + PERSONS_PER_SHEET] for i in range(0, len(members), PERSONS_PER_SHEET)] or [[]]
    for index, chunk in enumerate(chunks, start=1):
        sheet = _Sheet(canvas, covered)
        top = _title(sheet, "住民票の写し", claims, index, len(chunks))
        top = _household_header(sheet, top, claims, omitted)
        for offset, person in enumerate(chunk):
            if isinstance(person, Mapping):
                top = _draw_person(sheet, top, (index - 1) * PERSONS_PER_SHEET + offset + 1, person, omitted)
        if index == len(chunks):
            sheet.text(_PAGE_W / 2, top - 3 * mm, "以下余白", 9, align="center")
        _footer(sheet, claims, qr, page=index, pages=len(chunks), sentence=_JUMINHYO_SENTENCE)
        _finish_page(canvas, sample)


def _seal_image(seal: Mapping[str, Any]) -> tuple[ImageReader, float, float]:
    """The registered impression and its printed width/height in points (size_mm = the longer side)."""
    try:
        png = base64.b64decode(str(seal["image_png"]), validate=True)
        image = ImageReader(io.BytesIO(png))
        px_w, px_h = image.getSize()
        size = float(seal["size_mm"]) * mm
    except (KeyError, ValueError, TypeError, OSError) as exc:
        raise PaperError(
            ReasonCode.SEAL_IMAGE_INVALID, "seal impression cannot be printed", field="seal.image_png"
        ) from exc
    if px_w >= px_h:
        return image, size, size * px_h / px_w
    return image, size * px_w / px_h, size


def _render_seal(canvas: Canvas, covered: frozenset[int], claims: Mapping[str, Any], qr: QrCode, sample: bool) -> None:
    sheet = _Sheet(canvas, covered)
    registrant = claims.get("registrant") or {}
    top = _title(sheet, "印鑑登録証明書", claims, 1, 1)
    box_w, box_h = 60 * mm, 60 * mm
    canvas.setStrokeColor(_GRID)
    canvas.setLineWidth(0.8)
    canvas.rect(_MARGIN, top - box_h, box_w, box_h, stroke=1, fill=0)
    sheet.text(_MARGIN + 1.5 * mm, top - 3.5 * mm, "印影", 7, color=_LABEL)
    seal = claims.get("seal")
    if isinstance(seal, Mapping) and "image_png" in seal:
        image, w, h = _seal_image(seal)
        canvas.drawImage(image, _MARGIN + (box_w - w) / 2, top - box_h / 2 - h / 2, w, h, mask="auto")
    x = _MARGIN + box_w
    w = _CONTENT_W - box_w
    rows = [
        ("氏名", _s(registrant.get("name"))),
        ("旧氏", _s(registrant.get("former_surname"))),
        ("通称", _s(registrant.get("common_name"))),
        ("生年月日", print_date(registrant.get("birth_date"))),
        ("性別", _s(registrant.get("sex"))),
        ("住所", _s(registrant.get("address"))),
    ]
    row_h = box_h / len(rows)
    for i, (label, value) in enumerate(rows):
        sheet.cell(x, top - i * row_h, w, row_h, label=label, value=value, size=12 if label == "氏名" else 10)
    _footer(sheet, claims, qr, page=1, pages=1, sentence=_SEAL_SENTENCE)
    _finish_page(canvas, sample)


def _finish_page(canvas: Canvas, sample: bool) -> None:
    if sample:
        canvas.saveState()
        canvas.setFillColor(Color(0.85, 0.1, 0.1, alpha=0.28))
        canvas.translate(_PAGE_W / 2, _PAGE_H / 2 + 25 * mm)
        canvas.rotate(35)
        canvas.setFont(FONT_NAME, 150)
        canvas.drawCentredString(0, -50, "見本")
        canvas.setFont(FONT_NAME, 22)
        canvas.drawCentredString(0, -90, "SAMPLE — 証明書として使用できません")
        canvas.restoreState()
    canvas.showPage()


def render_pdf(vct: str, claims: Mapping[str, Any], qr_text: str, out: Path, *, sample: bool = True) -> Path:
    """Write the A4 copy of ``claims`` with ``qr_text`` as its QR to ``out``; return ``out``."""
    covered = register_font()
    qr = make_qr(qr_text)
    canvas = Canvas(str(out), pagesize=A4, pageCompression=1)
    title = "住民票の写し" if vct == _VCT_JUMINHYO else "印鑑登録証明書"
    canvas.setTitle(f"{title}（見本）" if sample else title)
    canvas.setCreator("civiccert")
    if vct == _VCT_JUMINHYO:
        _render_juminhyo(canvas, covered, claims, qr, sample)
    elif vct == _VCT_SEAL:
        _render_seal(canvas, covered, claims, qr, sample)
    else:
        raise PaperError(ReasonCode.VCT_UNKNOWN, "no printed layout for this credential type")
    canvas.save()
    return out
