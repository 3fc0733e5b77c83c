"""The A4 copies: embedded font, Japanese text, 省略, 和暦, 〓 footnotes, sample mark, seal at true size."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
from paper_samples import EXP, IAT, ISS, VCT_JUMINHYO, VCT_SEAL, ThrowawaySigner, household, seal_certificate
from PIL import Image

from civiccert.errors import PaperError, ReasonCode
from civiccert.paper import encode_paper, make_qr, qr_text, render_pdf, scan

MM = 72 / 25.4


@pytest.fixture(scope="module")
def signer() -> ThrowawaySigner:
    return ThrowawaySigner()


def _qr(signer: ThrowawaySigner, vct: str, claims: dict) -> str:
    return qr_text(encode_paper(vct, claims, signer, iss=ISS, iat=IAT, exp=EXP))


def _texts(path: Path) -> list[str]:
    pdf = pdfium.PdfDocument(path)
    try:
        return [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
    finally:
        pdf.close()


@pytest.fixture(scope="module")
def six(tmp_path_factory: pytest.TempPathFactory, signer: ThrowawaySigner) -> tuple[Path, str]:
    claims = household(6, full=False)
    claims["omitted"].append("householder_relationship")
    del claims["household"]["householder"]
    for m in claims["members"]:
        del m["relationship"]
    text = _qr(signer, VCT_JUMINHYO, claims)
    return render_pdf(VCT_JUMINHYO, claims, text, tmp_path_factory.mktemp("pdf") / "six.pdf"), text


def test_font_is_embedded_and_text_is_japanese(six: tuple[Path, str]) -> None:
    path, _ = six
    raw = path.read_bytes()
    assert b"/FontFile2" in raw  # an embedded TrueType program, not a reference to a system CID font
    assert b"IPAexMincho" in raw
    assert raw.count(b"/FontFile2") == raw.count(b"/Type /FontDescriptor")  # no font referenced unembedded
    page1 = _texts(path)[0]
    assert "住民票の写し" in page1
    assert "千葉県松戸市根本387番地の5" in page1


def test_household_spreads_over_sheets_of_four(six: tuple[Path, str]) -> None:
    path, text = six
    pages = _texts(path)
    assert len(pages) == 2
    assert "1 / 2" in pages[0]
    assert "2 / 2" in pages[1]
    assert "相違ないことを証明する" not in pages[0]
    assert "この写しは、世帯全員の住民票の原本と相違ないことを証明する。" in pages[1]
    assert "松戸市長" in pages[1]
    assert "以下余白" in pages[1]
    assert "civiccert verify" in pages[0]
    assert [(h.page, h.text) for h in scan(path)] == [(1, text), (2, text)]


def test_omitted_items_print_shoryaku_and_dates_print_wareki(six: tuple[Path, str]) -> None:
    page1 = _texts(six[0])[0]
    # 本籍・筆頭者, 個人番号, 住民票コード and 続柄 for four persons plus 世帯主 in the header
    assert page1.count("省略") == 4 * 5 + 1
    assert "昭和53年4月1日" in page1  # 1978-04-01
    assert "平成27年4月1日" in page1
    assert "令和8年11月26日" in _texts(six[0])[1]  # issued_at


def test_names_print_as_registered_and_geta_only_for_no_font(tmp_path: Path, signer: ThrowawaySigner) -> None:
    claims = household(2)
    claims["members"][0]["name"] += "\U000f0000"  # a private-use code point: no shipped font has it
    path = render_pdf(VCT_JUMINHYO, claims, _qr(signer, VCT_JUMINHYO, claims), tmp_path / "g.pdf")
    page = _texts(path)[0]
    assert "\U00020bb7田" in page  # 𠮷 drawn by IPAmj, extracted exactly
    assert "葛\U000e0100城" in page  # the variation sequence survives into the text layer
    assert "〓" in page
    assert "U+F0000" in page
    assert "U+20BB7" not in page


def test_sample_mark_only_when_sample(tmp_path: Path, signer: ThrowawaySigner) -> None:
    claims = household(1)
    text = _qr(signer, VCT_JUMINHYO, claims)
    sample = _texts(render_pdf(VCT_JUMINHYO, claims, text, tmp_path / "s.pdf"))[0]
    real = _texts(render_pdf(VCT_JUMINHYO, claims, text, tmp_path / "r.pdf", sample=False))[0]
    assert "見本" in sample
    assert "SAMPLE" in sample
    assert "見本" not in real
    assert "SAMPLE" not in real


def _image_boxes(path: Path) -> list[tuple[float, float]]:
    pdf = pdfium.PdfDocument(path)
    try:
        boxes = []
        for obj in pdf[0].get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]):
            left, bottom, right, top = obj.get_bounds()
            boxes.append((right - left, top - bottom))
        return boxes
    finally:
        pdf.close()


@pytest.mark.parametrize(("size_mm", "px"), [(8.0, (120, 120)), (15.0, (160, 160)), (25.0, (300, 200))])
def test_seal_is_drawn_at_true_size(tmp_path: Path, signer: ThrowawaySigner, size_mm: float, px: tuple) -> None:
    claims = seal_certificate(size_mm)
    png = io.BytesIO()
    Image.new("RGB", px, (200, 30, 30)).save(png, "PNG")
    claims["seal"]["image_png"] = base64.b64encode(png.getvalue()).decode()
    path = render_pdf(VCT_SEAL, claims, _qr(signer, VCT_SEAL, claims), tmp_path / "seal.pdf")
    ground, official = 180 * MM, 21 * MM  # the 地紋 and the 職印 are images too
    [(width, height)] = [b for b in _image_boxes(path) if abs(b[0] - ground) > 1 and abs(b[0] - official) > 0.01]
    longer = max(px)
    assert width == pytest.approx(size_mm * MM * px[0] / longer, abs=0.05)
    assert height == pytest.approx(size_mm * MM * px[1] / longer, abs=0.05)
    page = _texts(path)[0]
    assert "印鑑登録証明書" in page
    assert "この写しは、登録されている印影と相違ないことを証明する。" in page


def test_qr_is_one_vector_path(six: tuple[Path, str]) -> None:
    path, text = six
    edge = make_qr(text).size * 0.5  # mm, without the quiet zone
    pdf = pdfium.PdfDocument(path)
    try:
        boxes = [p.get_bounds() for p in pdf[0].get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_PATH])]
    finally:
        pdf.close()
    qr_paths = [b for b in boxes if abs((b[2] - b[0]) / MM - edge) < 0.3 and abs((b[3] - b[1]) / MM - edge) < 0.3]
    assert len(qr_paths) == 1  # every dark module in one path: no seams between separately filled modules
    quiet = [b for b in boxes if abs((b[2] - b[0]) / MM - edge - 4) < 0.3 and abs((b[3] - b[1]) / MM - edge - 4) < 0.3]
    assert len(quiet) == 1


def test_unknown_vct_has_no_layout(tmp_path: Path, signer: ThrowawaySigner) -> None:
    with pytest.raises(PaperError) as info:
        render_pdf("urn:example:other", household(1), _qr(signer, VCT_JUMINHYO, household(1)), tmp_path / "x.pdf")
    assert info.value.code is ReasonCode.VCT_UNKNOWN


def test_issue_date_matches_the_claim(six: tuple[Path, str]) -> None:
    assert re.search(r"令和8年11月26日", _texts(six[0])[1])


def test_the_page_check_knows_the_ground_it_lets_through() -> None:
    """pagecheck skips the 地紋 by the hash of its pixels: it must be the renderer's 地紋."""
    import hashlib

    from civiccert.paper._ground import ground_png
    from civiccert.paper.pagecheck import GROUND_PIXELS_SHA256

    with Image.open(io.BytesIO(ground_png())) as image:
        assert hashlib.sha256(image.tobytes()).hexdigest() == GROUND_PIXELS_SHA256
