"""A PDF page must show what its QR signs: edited text, an added line, a re-made page, a swapped seal."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
from PIL import Image, ImageDraw

import civiccert as cc
from civiccert.paper.payload import decode_qr_text, qr_text
from civiccert.paper.pdf import render_pdf

from worldkit import World, make_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = make_world(tmp_path_factory.mktemp("pagematch"))
    yield w
    w.issuer.close()


@pytest.fixture(scope="module")
def copies(world: World, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One household and one seal certificate, printed once for the whole module (rendering is slow)."""
    out = tmp_path_factory.mktemp("copies")
    household = world.issue_anchored(world.household())
    seal = world.issue_anchored(world.seal())
    return {
        "household": household, "seal": seal,
        "household_pdf": world.issuer.print_pdf(household, out / "household.pdf"),
        "seal_pdf": world.issuer.print_pdf(seal, out / "seal.pdf"),
    }


def _page_code(result: cc.VerificationResult) -> str:
    return {c.name.value: c.code.value for c in result.checks}["page"]


def _verify(world: World, pdf: Path) -> list[cc.VerificationResult]:
    return world.offline_verifier().verify_path(pdf)


def _qr_and_claims(cred: cc.CredentialFile) -> tuple[str, dict[str, Any]]:
    assert cred.paper_cose is not None
    text = qr_text(cred.paper_cose, cred.paper_receipt)
    return text, dict(decode_qr_text(text).claims)


def test_genuine_copies_match_their_pages(world: World, copies: dict[str, Any]) -> None:
    for key in ("household_pdf", "seal_pdf"):
        results = _verify(world, copies[key])
        assert results
        assert all(r.verdict is cc.Verdict.VALID for r in results)
        assert all(_page_code(r) == "ok" for r in results)


def test_a_remade_page_with_an_edited_name_and_the_genuine_qr_is_invalid(world: World, copies: dict[str, Any],
                                                                         tmp_path: Path) -> None:
    text, claims = _qr_and_claims(copies["household"])
    members = [dict(m) for m in claims["members"]]
    members[0]["name"] = "山田　花子"
    forged = render_pdf(cc.VCT_RESIDENT_RECORD, {**claims, "members": members}, text, tmp_path / "f.pdf")
    [result] = _verify(world, forged)
    assert result.verdict is cc.Verdict.INVALID
    assert _page_code(result) == "page_mismatch"
    assert {c.name.value: c.code.value for c in result.checks}["signature"] == "ok"


def test_a_remade_page_with_an_added_member_is_invalid(world: World, copies: dict[str, Any], tmp_path: Path) -> None:
    text, claims = _qr_and_claims(copies["household"])
    members = [*claims["members"], {**claims["members"][-1], "name": "追加　太郎"}]
    forged = render_pdf(cc.VCT_RESIDENT_RECORD, {**claims, "members": members}, text, tmp_path / "f.pdf")
    results = _verify(world, forged)  # five members: two sheets, each with the genuine QR
    assert len(results) == 2
    assert all(r.verdict is cc.Verdict.INVALID and _page_code(r) == "page_mismatch" for r in results)


def test_a_line_added_to_the_genuine_pdf_is_invalid(world: World, copies: dict[str, Any], tmp_path: Path) -> None:
    document = pdfium.PdfDocument(copies["household_pdf"])
    page = document[0]
    font = pdfium_c.FPDFText_LoadStandardFont(document.raw, b"Helvetica")
    obj = pdfium_c.FPDFPageObj_NewTextObj(document.raw, b"Helvetica", 10.0)
    label = "Extra person 1990-01-01\x00".encode("utf-16-le")
    assert font
    assert obj
    assert pdfium_c.FPDFText_SetText(obj, pdfium_c.cast(label, pdfium_c.FPDF_WIDESTRING))
    pdfium_c.FPDFPageObj_Transform(obj, 1, 0, 0, 1, 60, 300)
    pdfium_c.FPDFPage_InsertObject(page.raw, obj)
    page.gen_content()
    edited = tmp_path / "added.pdf"
    document.save(edited)
    document.close()
    [result] = _verify(world, edited)
    assert result.verdict is cc.Verdict.INVALID
    assert _page_code(result) == "page_mismatch"


def _red_square_png() -> bytes:
    image = Image.new("RGBA", (160, 160), (0, 0, 0, 0))
    ImageDraw.Draw(image).rectangle((10, 10, 150, 150), outline=(200, 30, 30, 255), width=8)
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def test_a_remade_seal_page_with_another_impression_is_invalid(world: World, copies: dict[str, Any],
                                                               tmp_path: Path) -> None:
    text, claims = _qr_and_claims(copies["seal"])
    fake = {**claims["seal"], "image_png": base64.b64encode(_red_square_png()).decode()}
    forged = render_pdf(cc.VCT_SEAL_CERTIFICATE, {**claims, "seal": fake}, text, tmp_path / "f.pdf")
    [result] = _verify(world, forged)
    assert result.verdict is cc.Verdict.INVALID
    assert _page_code(result) == "seal_mismatch"


def test_the_seal_image_swapped_in_the_genuine_pdf_is_invalid(world: World, copies: dict[str, Any],
                                                              tmp_path: Path) -> None:
    document = pdfium.PdfDocument(copies["seal_pdf"])
    page = document[0]
    images = list(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=1))
    seal = images[1]  # drawn after the 地紋: the registered impression (the 職印 comes last)
    other = Image.open(io.BytesIO(_red_square_png())).convert("RGB").resize(seal.get_px_size())
    swapped = pdfium.PdfBitmap.from_pil(other)
    seal.set_bitmap(swapped)
    page.gen_content()
    edited = tmp_path / "swapped.pdf"
    document.save(edited)
    document.close()
    [result] = _verify(world, edited)
    assert result.verdict is cc.Verdict.INVALID
    assert _page_code(result) == "seal_mismatch"


def _square_seal_png() -> bytes:
    image = Image.new("RGBA", (240, 240), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rectangle((4, 4, 235, 235), outline=(200, 30, 30, 255), width=20)
    draw.rectangle((70, 70, 170, 170), fill=(200, 30, 30, 255))
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def _photo_of(pdf: Path, out: Path) -> Path:
    document = pdfium.PdfDocument(pdf)
    try:
        document[0].render(scale=200 / 72).to_pil().convert("RGB").rotate(3, fillcolor=(255, 255, 255)).save(out)
    finally:
        document.close()
    return out


def test_a_photo_of_a_page_with_another_impression_is_invalid(world: World, copies: dict[str, Any],
                                                              tmp_path: Path) -> None:
    genuine = _photo_of(copies["seal_pdf"], tmp_path / "genuine.png")
    [result] = _verify(world, genuine)
    assert _page_code(result) in {"ok", "page_not_checked"}  # never a false alarm here
    assert result.verdict is not cc.Verdict.INVALID
    text, claims = _qr_and_claims(copies["seal"])
    fake = {**claims["seal"], "image_png": base64.b64encode(_square_seal_png()).decode()}
    forged = render_pdf(cc.VCT_SEAL_CERTIFICATE, {**claims, "seal": fake}, text, tmp_path / "f.pdf")
    [result] = _verify(world, _photo_of(forged, tmp_path / "forged.png"))
    assert result.verdict is cc.Verdict.INVALID
    assert _page_code(result) == "seal_mismatch"
