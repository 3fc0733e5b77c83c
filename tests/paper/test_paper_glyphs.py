"""Hard names print as registered: glyphs drawn from the right font (variants included), text layer exact."""

from __future__ import annotations

import numpy as np
import pypdfium2 as pdfium
import pytest
from paper_samples import EXP, IAT, ISS, VCT_SEAL, ThrowawaySigner, seal_certificate

from civiccert.paper import encode_paper, qr_text
from civiccert.paper._glyphs import face
from civiccert.paper.pdf import render_pdf_bytes

HARD = {
    "ext_b": "\U00020bb7田",  # 𠮷 CJK Ext-B
    "katsura_mj": "葛\U000e0102城",  # 葛 with a 文字情報基盤 selector (IPAmj only)
    "katsura_aj": "葛\U000e0100城",  # 葛 with an Adobe-Japan1 selector (IPAex has it)
    "tsuji_mj": "辻\U000e0102",  # 一点しんにょう 辻
    "taka": "髙橋",  # はしご高
    "mj_only": "\U00022f21",  # a CJK Ext-B character only IPAmj has
}


@pytest.fixture(scope="module")
def pages() -> dict[str, tuple[str, np.ndarray]]:
    """Each hard name printed as the registrant of a seal certificate: (text layer, name cell pixels)."""
    signer = ThrowawaySigner()
    out = {}
    for key, name in {**HARD, "katsura_plain": "葛城", "tsuji_plain": "辻"}.items():
        claims = seal_certificate()
        claims["registrant"]["name"] = name
        text = qr_text(encode_paper(VCT_SEAL, claims, signer, iss=ISS, iat=IAT, exp=EXP))
        pdf = pdfium.PdfDocument(render_pdf_bytes(VCT_SEAL, claims, text, sample=False))
        try:
            page = pdf[0]
            layer = page.get_textpage().get_text_range()
            pixels = np.asarray(page.render(scale=4, grayscale=True).to_pil().convert("L"))
        finally:
            pdf.close()
        out[key] = (layer, pixels[4 * 95 : 4 * 116, 4 * 215 : 4 * 300])  # the 氏名 cell
    return out


def test_fonts_cover_what_the_test_claims() -> None:
    ex, mj = face("ipaex"), face("ipamj")
    for cp in (0x20BB7, 0x22F21):
        assert cp not in ex.chars
        assert cp in mj.chars
    assert (0x845B, 0xE0102) in mj.sequences
    assert (0x845B, 0xE0102) not in ex.sequences


@pytest.mark.parametrize("key", list(HARD))
def test_text_layer_is_exact_and_nothing_prints_geta(pages: dict[str, tuple[str, np.ndarray]], key: str) -> None:
    layer, cell = pages[key]
    assert HARD[key] in layer
    assert "〓" not in layer
    assert (cell < 128).sum() > 200  # ink drawn in the name cell


def test_variation_sequences_draw_the_variant_glyph(pages: dict[str, tuple[str, np.ndarray]]) -> None:
    for variant, plain in (("katsura_mj", "katsura_plain"), ("tsuji_mj", "tsuji_plain")):
        diff = np.abs(pages[variant][1].astype(int) - pages[plain][1].astype(int))
        assert (diff > 128).sum() > 20, variant  # a different glyph, not the base drawn again


def test_ground_hides_the_word_until_copied() -> None:
    """地紋: same mean tone in and out of 複写 when read; after a 100-dpi copy + threshold the word stands out."""
    import io

    from PIL import Image

    from civiccert.paper._ground import ground_png, word_mask

    image = Image.open(io.BytesIO(ground_png())).convert("L")
    mask = word_mask()
    full = np.asarray(image, float)
    assert abs(full[mask].mean() - full[~mask].mean()) < 4  # to the eye: one even tint
    small = image.resize((image.width // 3, image.height // 3), Image.Resampling.BOX)  # a 100-dpi copier
    copy = np.asarray(small) < 200  # its thresholding
    word = np.asarray(Image.fromarray(mask).resize(small.size, Image.Resampling.NEAREST))
    assert copy[word].mean() > 0.05  # 複写 shows (measured 0.069)...
    assert copy[~word].mean() < 0.005  # ...and the ground drops out
