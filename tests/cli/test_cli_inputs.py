"""What the `civiccert` command reads and how it answers: any top-level JSON, missing files, scanner image
formats, one-line errors, --version, `python -m civiccert`, and a reader that closes the pipe early."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from clikit import run

import civiccert
from civiccert.cli import main
from civiccert.cli.errors import error_line
from civiccert.demo import sample_record_path
from civiccert.errors import ChainError, ReasonCode

PASS = "cli-inputs-passphrase"
SRC = Path(civiccert.__file__).resolve().parent.parent
TOP_LEVELS = ["42", '"x"', "null", "[]", "true", "[1]", "1.5", '{"a": 1}']


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVICCERT_KEY_PASSPHRASE", PASS)
    monkeypatch.setenv("LANG", "C.UTF-8")


@pytest.fixture(scope="module")
def issued(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An issuer home, a credential, its printed copy and the issuer's trust file."""
    base = tmp_path_factory.mktemp("issued")
    env = {"CIVICCERT_KEY_PASSPHRASE": PASS}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        home, cred, pdf, trust = base / "home", base / "cred.json", base / "copy.pdf", base / "trust.json"
        assert main(["init", str(home), "--municipality-code", "122076", "--municipality-name", "松戸市"]) == 0
        assert main(["--home", str(home), "issue", "resident-record", str(sample_record_path("household-matsudo.json")),
                     "-o", str(cred), "--pdf", str(pdf)]) == 0
        assert main(["--home", str(home), "trust", "export", "-o", str(trust)]) == 0
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return {"home": home, "cred": cred, "pdf": pdf, "trust": trust}


def _one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("top", TOP_LEVELS)
def test_a_record_of_any_top_level_json_type_is_bad_input(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                          issued: dict[str, Path], top: str) -> None:
    record = tmp_path / "record.json"
    record.write_text(top, encoding="utf-8")
    code, _, err = run(capsys, "--home", issued["home"], "issue", "resident-record", record, "-o", tmp_path / "c.json")
    assert code == 65
    assert ReasonCode.SCHEMA_VIOLATION.value in _one_error_line(err)


def test_credential_and_trust_files_of_any_shape_are_bad_input(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                               issued: dict[str, Path]) -> None:
    """Every file the CLI reads, given any top-level JSON or binary: a reason code and 65 (78 for a trust
    file, which is configuration), never 70."""
    bad = tmp_path / "bad.json"
    home, cred = issued["home"], issued["cred"]
    commands: list[tuple[list[str | Path], int]] = [
        (["present", bad, "-d", "*"], 65),
        (["--home", home, "receipt", bad], 65),
        (["--home", home, "print", bad, "-o", tmp_path / "x.pdf"], 65),
        (["verify", bad], 65),
        (["verify", cred, "--trust", bad, "--offline"], 78),
    ]
    for content in [*(t.encode() for t in TOP_LEVELS), b"\xff\xfe\x00binary", b""]:
        bad.write_bytes(content)
        for args, expected in commands:
            code, _, err = run(capsys, *args)
            assert code == expected, (content, args, err)
            assert "internal error" not in err


def test_a_hand_edited_receipt_is_bad_input_when_printing(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                          issued: dict[str, Path]) -> None:
    doc = json.loads(issued["cred"].read_text(encoding="utf-8"))
    doc["paper_receipt"] = {"chain_id": 1}
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(doc), encoding="utf-8")
    code, _, err = run(capsys, "--home", issued["home"], "print", edited, "-o", tmp_path / "x.pdf")
    assert code == 65
    assert ReasonCode.MALFORMED.value in _one_error_line(err)


def test_a_missing_input_file_is_not_found_exit_66(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                   issued: dict[str, Path]) -> None:
    missing = tmp_path / "missing.json"
    for args in (["--home", issued["home"], "issue", "resident-record", missing, "-o", tmp_path / "c.json"],
                 ["present", missing, "-d", "*"],
                 ["--home", issued["home"], "receipt", missing],
                 ["verify", missing],
                 ["verify", tmp_path / "missing.png"],
                 ["verify", issued["cred"], "--trust", missing]):
        code, _, err = run(capsys, *args)
        assert code == 66, (args, err)
        assert ReasonCode.INPUT_NOT_FOUND.value in _one_error_line(err)
    # one of several inputs missing: the others are still verified, and the missing one is reported
    code, out, _ = run(capsys, "verify", issued["cred"], missing, "--trust", issued["trust"], "--json")
    assert code == 2
    assert json.loads(out)["unreadable"] == [{"source": "missing.json", "code": "input_not_found"}]


@pytest.mark.parametrize("args", [["verify"], ["verify", "x.json", "--lang", "fr"], ["no-such-verb"],
                                  ["verify", "x.json", "--no-such-option"]])
def test_usage_errors_are_one_line_exit_64(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    code, out, err = run(capsys, *args)
    assert code == 64
    assert out == ""
    line = _one_error_line(err)
    assert line.startswith("error: usage: ")
    assert "--help" in line


def test_an_error_with_a_next_step_or_a_node_log_is_still_one_line(capsys: pytest.CaptureFixture[str],
                                                                    tmp_path: Path) -> None:
    code, _, err = run(capsys, "--home", tmp_path / "nohome", "status")
    assert code == 78
    assert "civiccert init" in _one_error_line(err)  # the next step, on the same line
    tail = "\n".join(f"anvil log line {i}" for i in range(500)) + "\nError: address already in use\n"
    line = error_line(ChainError(ReasonCode.CHAIN_UNREACHABLE, f"anvil did not become ready; output:\n{tail}"))
    assert "\n" not in line
    assert len(line) < 600
    assert line.startswith("error: chain_unreachable: anvil did not become ready")
    assert "address already in use" in line  # the end of the log says why


def _python_m(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC), "CIVICCERT_KEY_PASSPHRASE": PASS, "LANG": "C.UTF-8"}
    return subprocess.run([sys.executable, "-m", "civiccert", *args], capture_output=True, text=True, env=env,
                          timeout=120, check=False)


def test_version_and_python_dash_m() -> None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        expected = version("civiccert")
    except PackageNotFoundError:
        expected = civiccert.__version__
    done = _python_m("--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"civiccert {expected}"


def _closed_early(*args: str) -> tuple[int, str]:
    """Run with stdout a pipe whose reader is gone before anything is written ('| head -0', the worst case)."""
    env = {**os.environ, "PYTHONPATH": str(SRC), "CIVICCERT_KEY_PASSPHRASE": PASS, "LANG": "C.UTF-8"}
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run([sys.executable, "-m", "civiccert", *args], stdout=write_end, stderr=subprocess.PIPE,
                              text=True, env=env, timeout=120, check=False)
    finally:
        os.close(write_end)
    return done.returncode, done.stderr


def test_a_reader_that_closes_the_pipe_early_gets_no_traceback(issued: dict[str, Path]) -> None:
    offline = ("--trust", str(issued["trust"]), "--offline")
    code, err = _closed_early("verify", str(issued["cred"]), *offline)
    assert (code, err) == (0, "")  # verify keeps its verdict: VALID
    code, err = _closed_early("--help")
    assert (code, err) == (141, "")  # other commands: 128 + SIGPIPE, as a shell reports it


def test_scans_in_every_office_format_verify_like_the_png(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                          issued: dict[str, Path]) -> None:
    """A printed copy's page, as a PNG, TIFF (LZW and bilevel Group 4), WebP and BMP, and as page 2 of a TIFF."""
    import pypdfium2 as pdfium
    from PIL import Image

    document = pdfium.PdfDocument(str(issued["pdf"]))
    try:
        page = document[0].render(scale=200 / 72, grayscale=True).to_pil()
    finally:
        document.close()
    page.save(tmp_path / "page.png")
    page.save(tmp_path / "page.tiff", compression="tiff_lzw")
    page.convert("1").save(tmp_path / "page-g4.tif", compression="group4")
    page.save(tmp_path / "page.webp", lossless=True)
    page.save(tmp_path / "page.bmp")
    Image.new("L", page.size, 255).save(tmp_path / "pages.tiff", save_all=True, append_images=[page])
    offline = ("--trust", issued["trust"], "--offline", "--json")
    code, out, _ = run(capsys, "verify", tmp_path / "page.png", *offline)
    reference = json.loads(out)
    assert code == 0
    assert (reference["form"], reference["verdict"]) == ("paper", "VALID")
    for name in ("page.tiff", "page-g4.tif", "page.webp", "page.bmp", "pages.tiff"):
        code, out, err = run(capsys, "verify", tmp_path / name, *offline)
        result = json.loads(out)
        assert code == 0, (name, err)
        assert (result["form"], result["verdict"], result["claims"]) == ("paper", "VALID", reference["claims"])
    assert result["source"] == "pages.tiff p.2"
    # a directory of scans picks up every format
    code, out, _ = run(capsys, "verify", tmp_path, *offline)
    assert code == 0
    assert len(json.loads(out)["results"]) == 6
