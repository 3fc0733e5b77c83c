"""The `civiccert` command, run in-process through its real entry point (exit codes, stdout/stderr apart)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from clikit import run

from civiccert.demo import sample_record_path

PASS = "cli-test-passphrase"


@pytest.fixture(autouse=True)
def _passphrase(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVICCERT_KEY_PASSPHRASE", PASS)
    monkeypatch.setenv("LANG", "C.UTF-8")


def init_home(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Path:
    home = tmp_path / "home"
    code, _, err = run(capsys, "init", home, "--municipality-code", "122076", "--municipality-name", "松戸市")
    assert code == 0, err
    return home


def test_help_lists_every_verb(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for verb in ("init", "issue", "present", "anchor", "receipt", "revoke", "status", "print", "chain", "trust",
                 "verify", "demo"):
        assert verb in out


def test_usage_error_exits_64(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run(capsys, "verify")
    assert code == 64
    code, _, _ = run(capsys, "verify", "x.json", "--lang", "fr")
    assert code == 64


def test_offline_flow_issue_present_verify(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    home = init_home(capsys, tmp_path)
    cred = tmp_path / "cred.json"
    code, _, err = run(capsys, "--home", home, "issue", "resident-record",
                       sample_record_path("household-matsudo.json"), "-o", cred)
    assert code == 0, err
    trust = tmp_path / "trust.json"
    assert run(capsys, "--home", home, "trust", "export", "-o", trust)[0] == 0
    shown = tmp_path / "shown.json"
    code, _, err = run(capsys, "present", cred, "-d", "members[0].name", "-d", "household.address", "-o", shown)
    assert code == 0, err
    code, out, _ = run(capsys, "verify", shown, "--trust", trust, "--offline", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["verdict"] == "VALID"
    assert result["form"] == "presentation"
    assert set(result["claims"]["household"]) == {"address"}
    # human output in Japanese: verdict line and labels
    code, out, _ = run(capsys, "verify", cred, "--trust", trust, "--offline", "--lang", "ja")
    assert code == 0
    assert "有効" in out
    assert "住所: 千葉県松戸市見本町一丁目2番3号" in out
    assert "生年月日: 昭和55年4月1日" in out  # dates in 和暦
    assert "- 個人番号" in out  # omitted items by their labels


def test_init_refuses_a_name_that_is_not_the_official_name_for_the_code(capsys: pytest.CaptureFixture[str],
                                                                        tmp_path: Path) -> None:
    code, out, err = run(capsys, "init", tmp_path / "home", "--municipality-code", "122173",
                         "--municipality-name", "松戸市")  # 122173 is 柏市
    assert (code, out) == (65, "")
    assert "municipality_name_mismatch" in err
    assert not (tmp_path / "home").exists()


def test_verify_refuses_a_registry_other_than_the_snapshots(capsys: pytest.CaptureFixture[str],
                                                             tmp_path: Path) -> None:
    """--registry pointing at an attacker's contract next to a genuine snapshot: a config error, never VALID."""
    from civiccert import TrustSnapshot
    from civiccert.verification.trust import TrustedMunicipality

    home = init_home(capsys, tmp_path)
    cred = tmp_path / "cred.json"
    run(capsys, "--home", home, "issue", "seal-certificate", sample_record_path("seal-registrant.json"), "-o", cred)
    export = tmp_path / "export.json"
    assert run(capsys, "--home", home, "trust", "export", "-o", export)[0] == 0
    snapshot = tmp_path / "snapshot.json"
    TrustSnapshot(source="registry", generated_at=1, municipalities={"122076": TrustedMunicipality("122076")},
                  chain_id=31337, registry="0x" + "ab" * 20, block=1).save(snapshot)
    dead = ("--rpc", f"http://127.0.0.1:{_free_port()}")
    code, out, err = run(capsys, "verify", cred, *dead, "--registry", "0x" + "cd" * 20, "--trust", snapshot)
    assert (code, out) == (78, "")
    assert "registry_mismatch" in err
    code, _, err = run(capsys, "verify", cred, *dead, "--trust", export)  # no registry named anywhere
    assert code == 64, err
    code, out, _ = run(capsys, "verify", cred, *dead, "--trust", snapshot, "--json")  # registry from the snapshot
    assert code == 2
    assert json.loads(out)["verdict"] == "INDETERMINATE"  # the node is down; the pinned registry was used


def test_verify_without_any_trust_is_indeterminate(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    home = init_home(capsys, tmp_path)
    cred = tmp_path / "cred.json"
    run(capsys, "--home", home, "issue", "seal-certificate", sample_record_path("seal-registrant.json"), "-o", cred)
    code, out, _ = run(capsys, "verify", cred, "--json")
    assert code == 2
    assert json.loads(out)["verdict"] == "INDETERMINATE"


def test_bad_record_is_one_line_exit_65_without_personal_data(capsys: pytest.CaptureFixture[str],
                                                              tmp_path: Path) -> None:
    home = init_home(capsys, tmp_path)
    doc = json.loads(sample_record_path("household-matsudo.json").read_text(encoding="utf-8"))
    doc["members"][0]["individual_number"] = "123456789019"  # bad check digit
    doc["request"]["include"] = ["individual_number"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    code, out, err = run(capsys, "--home", home, "issue", "resident-record", bad, "-o", tmp_path / "c.json")
    assert code == 65
    assert "individual_number_invalid" in err
    assert "123456789019" not in err + out
    assert "Traceback" not in err


def test_unreadable_inputs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    broken_png = tmp_path / "scan.png"
    broken_png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    code, _, err = run(capsys, "verify", broken_png)
    assert code == 65
    assert "image_unreadable" in err
    garbage = tmp_path / "garbage.txt"
    garbage.write_text("not a credential", encoding="utf-8")
    code, out, _ = run(capsys, "verify", garbage, "--json")
    assert code == 65  # not even a credential: malformed input, not an INVALID credential
    assert json.loads(out)["checks"][0]["code"] == "malformed"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run(capsys, "verify", empty)[0] == 65
    code, _, _ = run(capsys, "verify", tmp_path / "missing.json")
    assert code == 66  # not found: EX_NOINPUT


def test_anchor_without_chain_is_a_config_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    home = init_home(capsys, tmp_path)
    code, _, err = run(capsys, "--home", home, "anchor")
    assert code == 78
    assert "chain" in err


def test_wrong_passphrase_is_a_config_error(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    home = init_home(capsys, tmp_path)
    monkeypatch.setenv("CIVICCERT_KEY_PASSPHRASE", "wrong")
    code, _, err = run(capsys, "--home", home, "status")
    assert code == 78
    assert "passphrase_wrong" in err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.anvil
def test_chain_up_issue_anchor_verify_revoke_on_real_anvil(capsys: pytest.CaptureFixture[str],
                                                           tmp_path: Path) -> None:
    from civiccert.chain.nodes import find_anvil

    try:
        find_anvil()
    except Exception:
        pytest.skip("anvil binary not installed (run scripts/setup)")
    home = init_home(capsys, tmp_path)
    code, out, err = run(capsys, "--home", home, "chain", "up", "--port", str(_free_port()))
    assert code == 0, err
    chain = json.loads(out.strip().splitlines()[-1])
    try:
        cred = tmp_path / "cred.json"
        pdf = tmp_path / "copy.pdf"
        code, _, err = run(capsys, "--home", home, "issue", "resident-record",
                           sample_record_path("household-matsudo.json"), "-o", cred, "--anchor", "--pdf", pdf)
        assert code == 0, err
        online = ("--rpc", chain["url"], "--registry", chain["registry"])
        code, out, _ = run(capsys, "verify", cred, *online, "--json")
        assert code == 0, out
        code, out, _ = run(capsys, "verify", pdf, *online, "--json")
        assert code == 0, out  # the printed copy, scanned from the PDF, online
        snapshot = tmp_path / "snapshot.json"
        export = tmp_path / "export.json"
        assert run(capsys, "--home", home, "trust", "export", "-o", export)[0] == 0
        code, _, err = run(capsys, "trust", "sync", *online, "-o", snapshot)  # the chain publishes the keys
        assert code == 0, err
        assert json.loads(snapshot.read_text())["source"] == "registry"
        code, out, _ = run(capsys, "verify", pdf, "--trust", snapshot, "--offline", "--json")
        assert code == 0, out
        code, out, _ = run(capsys, "verify", cred, "--rpc", chain["url"], "--trust", snapshot, "--json")
        assert code == 0, out  # the snapshot pins the registry: --registry is not needed
        assert run(capsys, "--home", home, "key", "rotate")[0] == 0  # a rotation leaves issued credentials valid
        assert run(capsys, "verify", cred, *online, "--json")[0] == 0
        assert run(capsys, "--home", home, "revoke", cred, "--reason", "holder_request")[0] == 0
        code, out, _ = run(capsys, "verify", cred, *online, "--json")
        assert code == 1
        assert json.loads(out)["reasons"] == ["revoked"]
        code, out, _ = run(capsys, "--home", home, "status", "--json")
        assert code == 0
        assert json.loads(out)["anchored"] >= 2
    finally:
        assert run(capsys, "--home", home, "chain", "down")[0] == 0


def test_input_mistakes_are_usage_or_data_errors_never_internal(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    home = init_home(capsys, tmp_path)
    household = sample_record_path("household-matsudo.json")
    cred = tmp_path / "cred.json"
    assert run(capsys, "--home", home, "issue", "resident-record", household, "-o", cred)[0] == 0
    assert run(capsys, "present", cred, "-d", "members[0].nmae")[0] == 64
    assert run(capsys, "present", cred, "-d", "members[x")[0] == 64
    assert run(capsys, "verify", cred, "--offline")[0] == 64  # offline needs a trust file
    assert run(capsys, "--home", home, "issue", "seal-certificate", household, "-o", tmp_path / "x.json")[0] == 65
    assert run(capsys, "--home", home, "issue", "resident-record", tmp_path, "-o", tmp_path / "y.json")[0] == 74
    before = json.loads(run(capsys, "--home", home, "status", "--json")[1])["pending"]
    code = run(capsys, "--home", home, "issue", "resident-record", household, "-o", tmp_path / "no" / "c.json")[0]
    assert code == 64
    assert json.loads(run(capsys, "--home", home, "status", "--json")[1])["pending"] == before  # nothing issued

    class BinaryStdin:
        buffer = __import__("io").BytesIO(bytes(range(256)))

    monkeypatch.setattr("sys.stdin", BinaryStdin())
    code, _, err = run(capsys, "verify", "-")
    assert code == 65
    assert "Traceback" not in err
