"""The 交付 receipt for a wallet credential offer: the offer QR, the PIN and until when both work.

The clerk prints it and hands it to the resident, who scans the QR with a wallet and types the PIN
(OpenID4VCI ``tx_code``). It holds no personal data: the QR carries only the offer's random URI. Paper
holding both QR and PIN is as good as the offer itself, so it goes into the resident's hands only and
dies with the offer (10 minutes, single use).
"""

from __future__ import annotations

import io
from datetime import datetime

import zxingcpp
from PIL import Image

from civiccert.paper._glyphs import FONTS, font_path
from civiccert.paper.pdf import _PAGE_H, _PAGE_W, _Pdf, _Sheet, mm
from civiccert.records.wareki import JST, to_wareki

__all__ = ["render_offer_receipt"]


def render_offer_receipt(offer_url: str, tx_code: str, expires_at: float, *, municipality: str = "") -> bytes:
    """An A4 page (top half) with ``offer_url`` as a QR, ``tx_code`` and the expiry in JST, as PDF bytes."""
    qr = _qr_png(offer_url)
    pdf = _Pdf(unit="pt", format="A4")
    pdf.set_auto_page_break(False)
    pdf.c_margin = 0
    pdf.set_text_shaping(True)
    pdf.add_font(FONTS[0], fname=str(font_path(FONTS[0])))
    pdf.set_title("デジタル証明書 受け取り控え")
    pdf.set_creator("civiccert")
    pdf.add_page()
    sheet = _Sheet(pdf)
    try:
        centre, top = _PAGE_W / 2, _PAGE_H - 25 * mm
        sheet.text(centre, top, "デジタル証明書 受け取り控え", 18, align="center")
        if municipality:
            sheet.text(centre, top - 9 * mm, municipality, 11, align="center")
        sheet.image(qr, centre - 35 * mm, top - 85 * mm, 70 * mm, 70 * mm)
        below = top - 85 * mm - 10 * mm
        sheet.text(centre, below, "ウォレットでQRコードを読み取り、暗証番号を入力してください", 10.5, align="center")
        sheet.text(centre, below - 14 * mm, f"暗証番号（PIN）  {tx_code}", 20, align="center")
        until = datetime.fromtimestamp(expires_at, JST)
        sheet.text(centre, below - 24 * mm, f"有効期限  {to_wareki(until.date())} {until:%H:%M} まで（1回限り）",
                   11, align="center")  # fmt: skip
        sheet.text(centre, below - 32 * mm, "この控えは他人に渡さないでください", 9, align="center")
        return bytes(pdf.output())
    finally:
        for font in pdf.fonts.values():  # fpdf2 reads fonts lazily and leaves the files open
            ttfont = getattr(font, "ttfont", None)
            if ttfont is not None:
                ttfont.close()


def _qr_png(text: str) -> bytes:
    """A URL (byte mode, level M) as a PNG with its quiet zone; the certificate QR (paper.qr) is alphanumeric."""
    view = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="M").to_image(
        scale=4, add_quiet_zones=True)
    pixels = bytes(memoryview(view))  # type: ignore[arg-type]  # zxingcpp.Image has the buffer protocol
    image = Image.frombytes("L", (view.shape[1], view.shape[0]), pixels)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
