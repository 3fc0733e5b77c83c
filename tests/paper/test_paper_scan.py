"""Reading QR codes back: images, JPEGs, PDFs, several codes, and every failure as a reason code."""

from __future__ import annotations

from pathlib import Path

import pytest
from paper_samples import EXP, IAT, ISS, VCT_JUMINHYO, ThrowawaySigner, household
from PIL import Image

from civiccert.errors import PaperError, ReasonCode
from civiccert.paper import QUIET_ZONE_MODULES, encode_paper, make_qr, qr_text, scan, scan_image


@pytest.fixture(scope="module")
def texts() -> list[str]:
    signer = ThrowawaySigner()
    return [qr_text(encode_paper(VCT_JUMINHYO, household(n), signer, iss=ISS, iat=IAT, exp=EXP)) for n in (1, 3)]


def _symbol(text: str, px: int = 4) -> Image.Image:
    qr = make_qr(text)
    side = qr.size + 2 * QUIET_ZONE_MODULES
    image = Image.new("L", (side, side), 255)
    image.putdata(
        [
            0 if 0 <= y - 4 < qr.size and 0 <= x - 4 < qr.size and qr.modules[y - 4][x - 4] else 255
            for y in range(side)
            for x in range(side)
        ]
    )
    return image.resize((side * px, side * px), Image.Resampling.NEAREST)


def test_png_and_jpeg_files(tmp_path: Path, texts: list[str]) -> None:
    image = _symbol(texts[0])
    image.save(tmp_path / "a.png")
    image.convert("RGB").save(tmp_path / "a.jpg", quality=50)
    for name in ("a.png", "a.jpg"):
        [hit] = scan(tmp_path / name)
        assert (hit.text, hit.page) == (texts[0], 1)
        assert len(hit.position) == 4


def test_two_codes_on_one_image_and_rotation(texts: list[str]) -> None:
    a, b = _symbol(texts[0]), _symbol(texts[1])
    sheet = Image.new("L", (a.width + b.width + 40, max(a.height, b.height) + 40), 255)
    sheet.paste(a, (10, 10))
    sheet.paste(b.rotate(90, expand=True), (a.width + 30, 10))
    assert sorted(h.text for h in scan_image(sheet)) == sorted(texts)


def test_multi_page_pdf_reports_pages(tmp_path: Path, texts: list[str]) -> None:
    pages = [_symbol(t).convert("RGB") for t in texts]
    pages[0].save(tmp_path / "two.pdf", save_all=True, append_images=pages[1:], resolution=150)
    assert [(h.page, h.text) for h in scan(tmp_path / "two.pdf")] == [(1, texts[0]), (2, texts[1])]


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"not an image at all", ReasonCode.IMAGE_UNREADABLE),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, ReasonCode.IMAGE_UNREADABLE),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 10, ReasonCode.IMAGE_UNREADABLE),
        (b"%PDF-1.7\n1 0 obj garbage", ReasonCode.PDF_UNREADABLE),
        (b"", ReasonCode.IMAGE_UNREADABLE),
    ],
)
def test_broken_files_give_a_reason(tmp_path: Path, content: bytes, code: ReasonCode) -> None:
    path = tmp_path / "broken"
    path.write_bytes(content)
    with pytest.raises(PaperError) as info:
        scan(path)
    assert info.value.code is code


def test_missing_file_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(PaperError) as info:
        scan(tmp_path / "nope.png")
    assert info.value.code is ReasonCode.IMAGE_UNREADABLE


def test_blank_image_and_blank_pdf_have_no_qr(tmp_path: Path) -> None:
    Image.new("RGB", (800, 600), "white").save(tmp_path / "blank.png")
    Image.new("RGB", (800, 600), "white").save(tmp_path / "blank.pdf")
    for name in ("blank.png", "blank.pdf"):
        with pytest.raises(PaperError) as info:
            scan(tmp_path / name)
        assert info.value.code is ReasonCode.QR_NOT_FOUND
    with pytest.raises(PaperError) as info:
        scan_image(Image.new("L", (100, 100), 255))
    assert info.value.code is ReasonCode.QR_NOT_FOUND


def test_a_huge_pdf_page_is_refused_before_rendering(tmp_path: Path) -> None:
    """A 1 KB PDF with a 5,000-point page would need ~200 MB per page at 200 dpi: refused up front."""
    from reportlab.pdfgen.canvas import Canvas

    from civiccert.errors import PaperError, ReasonCode
    from civiccert.paper.scan import scan

    path = tmp_path / "huge.pdf"
    canvas = Canvas(str(path), pagesize=(5000, 5000))
    canvas.drawString(10, 10, "x")
    canvas.save()
    with pytest.raises(PaperError) as info:
        scan(path)
    assert info.value.code is ReasonCode.PDF_UNREADABLE


def test_many_large_pages_exhaust_the_document_budget(tmp_path: Path) -> None:
    """Each page under the per-page cap, but together far over it: refused, not rendered for minutes."""
    from reportlab.pdfgen.canvas import Canvas

    from civiccert.errors import PaperError, ReasonCode
    from civiccert.paper.scan import scan

    path = tmp_path / "many.pdf"
    canvas = Canvas(str(path), pagesize=(2000, 2000))
    for _ in range(10):
        canvas.drawString(10, 10, "x")
        canvas.showPage()
    canvas.save()
    with pytest.raises(PaperError) as info:
        scan(path)
    assert info.value.code is ReasonCode.PDF_UNREADABLE


def test_office_scanner_formats(tmp_path: Path, texts: list[str]) -> None:
    """TIFF (also bilevel Group 4, as fax-style scanners write it), WebP and BMP read like PNG."""
    image = _symbol(texts[0])
    image.save(tmp_path / "a.tiff", compression="tiff_lzw")
    image.convert("1").save(tmp_path / "g4.tif", compression="group4")
    image.save(tmp_path / "a.webp", lossless=True)
    image.save(tmp_path / "a.bmp")
    for name in ("a.tiff", "g4.tif", "a.webp", "a.bmp"):
        [hit] = scan(tmp_path / name)
        assert (hit.text, hit.page) == (texts[0], 1), name


def test_every_page_of_a_multi_page_tiff_is_read(tmp_path: Path, texts: list[str]) -> None:
    a, b = _symbol(texts[0]), _symbol(texts[1])
    blank = Image.new("L", a.size, 255)
    blank.save(tmp_path / "three.tiff", save_all=True, append_images=[a, b])
    assert [(h.page, h.text) for h in scan(tmp_path / "three.tiff")] == [(2, texts[0]), (3, texts[1])]


def test_a_multi_page_tiff_shares_one_pixel_budget(tmp_path: Path, texts: list[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages each under the cap but together over it are refused, like a PDF's; so are too many pages."""
    import importlib

    scan_module = importlib.import_module("civiccert.paper.scan")  # the attribute is the function scan()
    page = _symbol(texts[0])
    page.save(tmp_path / "two.tiff", save_all=True, append_images=[page])
    page.save(tmp_path / "one.png")
    monkeypatch.setattr(scan_module, "MAX_IMAGE_PIXELS", page.width * page.height * 3 // 2)
    assert scan(tmp_path / "one.png")  # one page fits the budget
    with pytest.raises(PaperError) as info:
        scan(tmp_path / "two.tiff")
    assert info.value.code is ReasonCode.IMAGE_UNREADABLE
    monkeypatch.undo()
    small = Image.new("L", (8, 8), 255)
    small.save(tmp_path / "many.tiff", save_all=True, append_images=[small] * scan_module.MAX_PDF_PAGES)
    with pytest.raises(PaperError) as info:
        scan(tmp_path / "many.tiff")
    assert info.value.code is ReasonCode.IMAGE_UNREADABLE


def test_only_known_image_formats_are_decoded(tmp_path: Path, texts: list[str]) -> None:
    """A GIF (or any other format Pillow could open) is not one a scanner writes: refused, not decoded."""
    _symbol(texts[0]).save(tmp_path / "a.gif")
    with pytest.raises(PaperError) as info:
        scan(tmp_path / "a.gif")
    assert info.value.code is ReasonCode.IMAGE_UNREADABLE
