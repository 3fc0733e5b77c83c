"""Japanese and English for people: locale detection, --lang, translated reports, errors and catalogues."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from clikit import run

from civiccert.cli.notes import FIXED, PATTERNS, translate_note
from civiccert.cli.render import render_one
from civiccert.demo import sample_record_path
from civiccert.i18n import REVOCATION_REASONS, detect_language, format_age, set_language
from civiccert.issuance.issuer import RevocationReason

from worldkit import make_world

SRC = Path(__file__).resolve().parents[2] / "src" / "civiccert"
LOCALE = SRC / "locale"
PO = LOCALE / "ja" / "LC_MESSAGES" / "civiccert.po"
MO = LOCALE / "ja" / "LC_MESSAGES" / "civiccert.mo"
PASS = "i18n-test-passphrase"
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


@pytest.fixture(autouse=True)
def _japanese_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Japanese desktop: LANG only, no --lang and no CIVICCERT_LANG."""
    monkeypatch.setenv("CIVICCERT_KEY_PASSPHRASE", PASS)
    for name in ("LC_ALL", "LC_MESSAGES", "CIVICCERT_LANG", "CIVICCERT_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "ja_JP.UTF-8")
    yield
    set_language("en")


@pytest.fixture
def issued(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> tuple[Path, Path, Path]:
    home = tmp_path / "home"
    assert run(capsys, "init", home, "--municipality-code", "122076", "--municipality-name", "松戸市")[0] == 0
    cred = tmp_path / "cred.json"
    code, _, err = run(capsys, "--home", home, "issue", "resident-record",
                       sample_record_path("household-matsudo.json"), "-o", cred)
    assert code == 0, err
    assert JAPANESE.search(err), err  # "… を発行しました"
    trust = tmp_path / "trust.json"
    assert run(capsys, "--home", home, "trust", "export", "-o", trust)[0] == 0
    return home, cred, trust


def test_language_comes_from_the_option_then_the_variable_then_the_locale() -> None:
    assert detect_language({"LANG": "ja_JP.UTF-8"}) == "ja"
    assert detect_language({"LC_ALL": "C.UTF-8", "LANG": "ja_JP.UTF-8"}) == "en"  # LC_ALL wins, as in POSIX
    assert detect_language({"LC_MESSAGES": "ja_JP.UTF-8", "LANG": "en_US.UTF-8"}) == "ja"
    assert detect_language({"CIVICCERT_LANG": "en", "LANG": "ja_JP.UTF-8"}) == "en"
    assert detect_language({"LANG": "fr_FR.UTF-8"}) == "en"
    assert detect_language({}) == "en"


def test_japanese_locale_verify_and_status_speak_japanese(capsys: pytest.CaptureFixture[str],
                                                          issued: tuple[Path, Path, Path]) -> None:
    home, cred, trust = issued
    code, out, _ = run(capsys, "verify", cred, "--trust", trust, "--offline")
    assert code == 0
    assert out.startswith("有効")
    for word in ("確認項目", "署名", "✓ 合格", "信頼ファイル（", "件開示", "オフライン"):
        assert word in out, word
    assert " s old" not in out
    code, out, _ = run(capsys, "--home", home, "status")
    assert code == 0
    assert "記録待ち" in out
    assert "pending" not in out
    # JSON stays English and stable whatever the locale
    code, out, _ = run(capsys, "verify", cred, "--trust", trust, "--offline", "--json")
    checks = {c["check"]: c for c in json.loads(out)["checks"]}
    assert re.fullmatch(r"trust snapshot, \d+ s old", checks["issuer"]["detail"])
    assert json.loads(out)["verdict"] == "VALID"


def test_lang_en_overrides_the_japanese_locale(capsys: pytest.CaptureFixture[str],
                                               issued: tuple[Path, Path, Path]) -> None:
    home, cred, trust = issued
    code, out, _ = run(capsys, "--lang", "en", "verify", cred, "--trust", trust, "--offline")
    assert code == 0
    table = out.split("\ncheck ")[1].split("Disclosed claims")[0]  # the city's name is 松戸市 in any language
    assert out.startswith("VALID")
    assert not JAPANESE.search(table)
    code, out, _ = run(capsys, "verify", cred, "--trust", trust, "--offline", "--lang", "en")  # verify's own
    assert out.startswith("VALID")
    code, out, _ = run(capsys, "--home", home, "--lang", "en", "status")
    assert code == 0
    assert "pending" in out
    code, _, err = run(capsys, "--lang", "fr", "status")
    assert code == 64
    assert "--lang" in err


def test_an_error_is_japanese_with_its_reason_code_in_ascii(capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path) -> None:
    monkeypatch.delenv("CIVICCERT_KEY_PASSPHRASE")
    code, _, err = run(capsys, "--home", tmp_path, "status")
    assert code == 78
    assert err.startswith("error: passphrase_missing: ")
    assert "パスフレーズ" in err
    assert len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "--lang", "en", "--home", tmp_path, "status")
    assert code == 78
    assert err.startswith("error: passphrase_missing: ")
    assert not JAPANESE.search(err)
    code, _, err = run(capsys, "--home", tmp_path, "issue", "resident-record", tmp_path / "missing.json",
                       "-o", tmp_path / "c.json")
    assert code == 66
    assert err.startswith("error: input_not_found: "), err
    assert JAPANESE.search(err), err


def test_a_stale_trust_snapshot_reads_in_days_and_hours(capsys: pytest.CaptureFixture[str],
                                                        issued: tuple[Path, Path, Path]) -> None:
    _, cred, trust = issued
    data = json.loads(trust.read_text())
    data["generated_at"] -= 8 * 86400 + 3 * 3600 + 5
    trust.write_text(json.dumps(data))
    code, out, _ = run(capsys, "verify", cred, "--trust", trust, "--offline", "--max-trust-age", str(30 * 86400))
    assert code == 0
    assert "信頼ファイル（8日と3時間前）" in out
    code, out, _ = run(capsys, "verify", cred, "--trust", trust, "--offline", "--max-trust-age", str(30 * 86400),
                       "--lang", "en")
    assert "trust snapshot, 8 days 3 hours old" in out


def test_ages_for_people() -> None:
    set_language("en")
    assert format_age(692108) == "8 days"  # 8 days and 15 minutes: days and hours only
    assert format_age(8 * 86400 + 3 * 3600 + 59) == "8 days 3 hours"
    assert format_age(86400) == "1 day"
    assert format_age(7322) == "2 hours 2 minutes"
    assert format_age(5) == "5 seconds"
    set_language("ja")
    assert format_age(8 * 86400 + 3 * 3600) == "8日と3時間"
    assert format_age(3 * 3600 + 60) == "3時間1分"


def test_a_revoked_credential_shows_the_reason_by_name(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    try:
        cred = world.issue_anchored()
        world.issuer.revoke(cred, RevocationReason.ISSUED_IN_ERROR)
        result = world.online_verifier().verify(cred).to_dict()
    finally:
        world.issuer.close()
    revocation = next(c for c in result["checks"] if c["check"] == "revocation")
    assert (result["verdict"], revocation["code"], revocation["detail"]) == ("INVALID", "revoked", "reason 3")
    set_language("ja")
    assert "失効: 誤発行" in render_one(result, "ja")
    set_language("en")
    assert "revoked: issued in error" in render_one(result, "en")


def test_revocation_reason_names_match_the_issuer() -> None:
    assert {number: name for number, (name, _) in REVOCATION_REASONS.items()} == {
        number: name for name, number in RevocationReason.NAMES.items()}


@pytest.mark.slow
def test_the_demo_report_is_japanese(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "demo", "--out", tmp_path / "demo")
    assert code == 0, err
    assert "✓ デモ成功" in err
    assert "印鑑登録証明書 (電子) 無効 (revoked)" in err  # the reason code stays ASCII
    assert "印鑑登録証明書を失効させました（本人の申出）" in err
    assert "registry deployed" not in err
    assert "VALID" not in err


def _source_msgids() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(str(SRC)):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_every_msgid_in_the_source_has_a_japanese_translation() -> None:
    with PO.open("rb") as handle:
        catalogue = read_po(handle)
    translated = {(m.id[0] if isinstance(m.id, tuple) else m.id): m.string for m in catalogue if m.id}
    missing = sorted(msgid for msgid in _source_msgids() if not translated.get(msgid)
                     or translated[msgid] in ("", ("",)))
    assert not missing, "run the pybabel commands in DEVELOPERS.md: " + ", ".join(missing[:5])
    assert not any(m.fuzzy for m in catalogue if m.id)
    with (LOCALE / "civiccert.pot").open("rb") as handle:
        template = {(m.id[0] if isinstance(m.id, tuple) else m.id) for m in read_po(handle) if m.id}
    assert template == _source_msgids(), "civiccert.pot is stale: pybabel extract (DEVELOPERS.md)"


def test_the_shipped_mo_is_compiled_from_the_po() -> None:
    with PO.open("rb") as handle:
        catalogue = read_po(handle)
    compiled = io.BytesIO()
    write_mo(compiled, catalogue)
    assert MO.read_bytes() == compiled.getvalue(), "civiccert.mo is stale: pybabel compile (DEVELOPERS.md)"


def _verifier_notes() -> list[str]:
    """Every literal note the verifier and its helpers can write (f-strings with 0 for each value)."""
    import ast

    notes = []
    verification = sorted((SRC / "verification").glob("*.py"))  # the verifier is split by job
    for path in (*verification, SRC / "status" / "check.py", SRC / "pki" / "decide.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            candidates: list[ast.expr] = []
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "set" and len(node.args) == 4:
                candidates.append(node.args[3])
            if isinstance(node, ast.Tuple) and len(node.elts) == 3 and ast.unparse(node.elts[0]).startswith(
                    "Outcome."):
                candidates.append(node.elts[2])
            if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) in ("where", "detail"):
                candidates.append(node.value)
            for value in candidates:
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    notes.append(value.value)
                elif isinstance(value, ast.JoinedStr) and any(isinstance(v, ast.Constant) for v in value.values):
                    notes.append("".join(v.value if isinstance(v, ast.Constant) else "0" for v in value.values))
    return notes


def test_every_verifier_note_is_known_to_the_translation() -> None:
    notes = _verifier_notes()
    assert len(notes) > 30
    unknown = [n for n in notes if n and n not in FIXED and not re.fullmatch(r"0 disclosed", n)
               and not any(p.fullmatch(n) for p, _, _ in PATTERNS)
               and not n.startswith("status list (")]  # built from parts: "status list (0, latest anchored), 0 s old"
    assert not unknown
    set_language("ja")
    assert translate_note("status list (file, latest anchored), 90000 s old") == \
        "ステータスリスト（ファイル、最新の記録済み公開、1日と1時間前）"
    assert translate_note("ES256") == "ES256"
