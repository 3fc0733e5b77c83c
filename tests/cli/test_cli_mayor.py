"""`civiccert init --mayor-title/--mayor-name/--official-seal`: every printed copy carries that certifier."""

from __future__ import annotations

import json
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
from clikit import run
from PIL import Image, ImageDraw

from civiccert.demo import sample_record_path


@pytest.fixture(autouse=True)
def _passphrase(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVICCERT_KEY_PASSPHRASE", "cli-mayor-passphrase")


def _seal(path: Path) -> Path:
    image = Image.new("RGB", (240, 240), (255, 255, 255))
    ImageDraw.Draw(image).rectangle((8, 8, 231, 231), outline=(190, 20, 20), width=14)
    image.save(path, "PNG")
    return path


def test_the_configured_mayor_and_seal_print_and_the_page_still_matches(capsys: pytest.CaptureFixture[str],
                                                                        tmp_path: Path) -> None:
    home = tmp_path / "home"
    seal = _seal(tmp_path / "shokuin.png")
    code, _, err = run(capsys, "init", home, "--municipality-code", "122076", "--municipality-name", "松戸市",
                       "--mayor-title", "千葉県松戸市長", "--mayor-name", "松戸　一郎", "--official-seal", seal)
    assert code == 0, err
    config = json.loads((home / "config.json").read_text(encoding="utf-8"))
    assert (config["mayor_title"], config["mayor_name"]) == ("千葉県松戸市長", "松戸　一郎")
    cred, pdf, export = tmp_path / "cred.json", tmp_path / "copy.pdf", tmp_path / "trust.json"
    assert run(capsys, "--home", home, "issue", "seal-certificate", sample_record_path("seal-registrant.json"),
               "-o", cred)[0] == 0
    assert run(capsys, "--home", home, "print", cred, "-o", pdf)[0] == 0
    assert run(capsys, "--home", home, "trust", "export", "-o", export)[0] == 0

    document = pdfium.PdfDocument(pdf)
    text = "".join(document[0].get_textpage().get_text_range().split())
    images = [o.get_bitmap(render=False).to_pil().convert("RGB").tobytes()
              for o in document[0].get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE])]
    document.close()
    assert "千葉県松戸市長松戸一郎" in text
    assert Image.open(seal).convert("RGB").tobytes() in images  # the configured 職印, not a generated one

    code, out, err = run(capsys, "verify", pdf, "--trust", export, "--offline", "--json")
    assert code == 0, err
    checks = {c["check"]: c["code"] for c in json.loads(out)["checks"]}
    assert checks["page"] == "ok"


def test_a_title_without_the_municipality_is_refused_before_the_home_exists(capsys: pytest.CaptureFixture[str],
                                                                           tmp_path: Path) -> None:
    home = tmp_path / "home"
    code, out, err = run(capsys, "init", home, "--municipality-code", "122076", "--municipality-name", "松戸市",
                         "--mayor-title", "柏市長")
    assert (code, out) == (78, "")
    assert "config_invalid" in err
    assert not home.exists()
    broken = tmp_path / "not.png"
    broken.write_bytes(b"not a png")
    code, _, err = run(capsys, "init", home, "--municipality-code", "122076", "--municipality-name", "松戸市",
                       "--official-seal", broken)
    assert code != 0
    assert "seal_image_invalid" in err
    assert not home.exists()
