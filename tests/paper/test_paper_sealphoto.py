"""Photos of a 印鑑登録証明書: the printed seal impression against the pHash its QR signs (paper.sealphoto).

A few samples only; the measured rates come from benchmarks/bench_seal_photos.py (docs/paper.md).
"""

from __future__ import annotations

import base64
import hashlib
import io
from functools import cache

import pypdfium2 as pdfium
from paper_samples import EXP, IAT, ISS, VCT_SEAL, ThrowawaySigner, seal_certificate
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from civiccert.errors import ReasonCode
from civiccert.paper import decode_qr_text, encode_paper, qr_text, scan_image
from civiccert.paper._glyphs import font_path
from civiccert.paper.qr import min_version
from civiccert.paper.sealphoto import SealComparison, compare_photo_seal, hamming, phash


def _name_seal(name: str, px: int = 240) -> bytes:
    """A round seal with a surname; "角" is a square seal with a single large character."""
    image = Image.new("RGBA", (px, px), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    red = (200, 30, 30, 255)
    if name == "角":
        draw.rectangle((4, 4, px - 5, px - 5), outline=red, width=px // 12)
        font = ImageFont.truetype(str(font_path("ipaex")), int(px * 0.7))
        draw.text((px / 2, px / 2), "印", font=font, fill=red, anchor="mm")
        buf = io.BytesIO()
        image.save(buf, "PNG")
        return buf.getvalue()
    draw.ellipse((4, 4, px - 5, px - 5), outline=red, width=px // 24)
    font = ImageFont.truetype(str(font_path("ipaex")), int(px * 0.36))
    for i, ch in enumerate(name):
        draw.text((px / 2, px * 0.31 + i * px * 0.38), ch, font=font, fill=red, anchor="mm")
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def _claims(png: bytes) -> dict:
    claims = seal_certificate()
    claims["seal"] = {"image_png": base64.b64encode(png).decode(), "image_sha256": hashlib.sha256(png).hexdigest(),
                      "size_mm": 15.0}
    return claims


@cache
def _photo(shown: str, signed: str, *, phone: bool = True) -> Image.Image:
    """A 200-dpi photo of a page showing seal ``shown`` whose QR signs seal ``signed`` (pasted when they differ)."""
    signer = ThrowawaySigner()
    text = qr_text(encode_paper(VCT_SEAL, _claims(_name_seal(signed)), signer, iss=ISS, iat=IAT, exp=EXP))
    pdf_bytes = render_pdf_bytes_for(_claims(_name_seal(shown)), text)
    pdf = pdfium.PdfDocument(pdf_bytes)
    try:
        page = pdf[0].render(scale=200 / 72, grayscale=True).to_pil().convert("L")
    finally:
        pdf.close()
    if not phone:
        return page
    # a phone photo: slightly turned, soft, JPEG
    page = page.rotate(-4, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    page = page.filter(ImageFilter.GaussianBlur(0.8))
    buf = io.BytesIO()
    page.save(buf, "JPEG", quality=60)
    return Image.open(io.BytesIO(buf.getvalue())).convert("L")


def render_pdf_bytes_for(claims: dict, text: str) -> bytes:
    from civiccert.paper.pdf import render_pdf_bytes

    return render_pdf_bytes(VCT_SEAL, claims, text)


def _result(photo: Image.Image) -> SealComparison:
    [hit] = scan_image(photo)
    seal = decode_qr_text(hit.text).claims["seal"]
    modules = 17 + 4 * (min_version(len(hit.text)) or 40)
    return compare_photo_seal(photo, hit.position, modules, seal["size_mm"], seal["image_phash"])


def _compare(photo: Image.Image) -> ReasonCode:
    return _result(photo).code


def test_the_qr_signs_a_64_bit_fingerprint_of_the_impression() -> None:
    png = _name_seal("山田")
    text = qr_text(encode_paper(VCT_SEAL, _claims(png), ThrowawaySigner(), iss=ISS, iat=IAT, exp=EXP))
    fingerprint = decode_qr_text(text).claims["seal"]["image_phash"]
    assert fingerprint == phash(png)
    assert len(bytes.fromhex(fingerprint)) == 8
    assert hamming(phash(png), phash(_name_seal("佐藤"))) > 16


def test_the_genuine_impression_is_not_flagged_and_is_nearer_than_a_swapped_one() -> None:
    for phone in (False, True):
        genuine = _result(_photo("山田", "山田", phone=phone))
        swapped = _result(_photo("佐藤", "山田", phone=phone))
        assert genuine.code in {ReasonCode.OK, ReasonCode.PAGE_NOT_CHECKED}
        assert genuine.distance is not None
        assert swapped.distance is not None
        assert genuine.distance < swapped.distance
    assert ReasonCode.OK in {_compare(_photo(n, n, phone=False)) for n in ("山田", "鈴木", "見本")}


def test_a_photo_of_a_swapped_impression_never_matches() -> None:
    # another surname in the same ring: close in a 64-bit hash, so at least "could not compare" (INDETERMINATE)
    assert _compare(_photo("佐藤", "山田")) in {ReasonCode.SEAL_MISMATCH, ReasonCode.PAGE_NOT_CHECKED}
    # an impression of another shape: flagged outright
    assert _compare(_photo("角", "山田")) is ReasonCode.SEAL_MISMATCH


def test_a_photo_without_the_seal_region_is_not_compared() -> None:
    photo = _photo("山田", "山田")
    [hit] = scan_image(photo)
    left = min(x for x, _ in hit.position) - 40
    top = min(y for _, y in hit.position) - 40
    cut = photo.crop((left, top, photo.width, photo.height))  # the QR corner only
    assert _compare(cut) is ReasonCode.PAGE_NOT_CHECKED

