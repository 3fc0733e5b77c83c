"""The README's PKI commands: a TEST CA, a leaf for the home, issue, verify with only the root, metadata."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from civiccert.cli import main
from civiccert.demo import sample_record_path


@pytest.fixture(autouse=True)
def _passphrase(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVICCERT_KEY_PASSPHRASE", "pki-cli-passphrase")
    monkeypatch.setenv("LANG", "C.UTF-8")


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_test_ca_leaf_issue_verify_and_metadata(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    home, ca, other = tmp_path / "city", tmp_path / "test-ca", tmp_path / "other-ca"
    assert run(capsys, "init", home, "--municipality-code", "122076", "--municipality-name", "松戸市",
               "--issuer-url", "https://www.city.matsudo.chiba.jp")[0] == 0
    assert run(capsys, "pki", "init-test-ca", ca)[0] == 0
    assert run(capsys, "pki", "init-test-ca", ca)[0] == 78  # never overwrites a CA
    assert run(capsys, "--home", home, "pki", "issue-leaf", "--ca", ca)[0] == 0
    cred = tmp_path / "cred.json"
    assert run(capsys, "--home", home, "issue", "resident-record", sample_record_path("household-matsudo.json"),
               "-o", cred)[0] == 0
    code, out, _ = run(capsys, "verify", cred, "--trust-anchors", ca / "root.pem", "--crl",
                       ca / "intermediate.crl.pem", "--offline", "--json")
    assert code == 0, out
    assert json.loads(out)["verdict"] == "VALID"
    assert run(capsys, "pki", "init-test-ca", other)[0] == 0
    code, out, _ = run(capsys, "verify", cred, "--trust-anchors", other / "root.pem", "--offline", "--json")
    assert code == 1
    assert "cert_chain_invalid" in json.loads(out)["reasons"]
    metadata = tmp_path / "jwt-vc-issuer.json"
    assert run(capsys, "--home", home, "trust", "issuer-metadata", "-o", metadata)[0] == 0
    document = json.loads(metadata.read_text(encoding="utf-8"))
    assert document["issuer"] == "https://www.city.matsudo.chiba.jp"
    assert len(document["jwks"]["keys"][0]["x5c"]) == 2


def test_import_refuses_a_leaf_for_another_key(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    a, b, ca = tmp_path / "a", tmp_path / "b", tmp_path / "ca"
    for home in (a, b):
        assert run(capsys, "init", home, "--municipality-code", "122076", "--municipality-name", "松戸市")[0] == 0
    assert run(capsys, "pki", "init-test-ca", ca)[0] == 0
    assert run(capsys, "--home", a, "pki", "issue-leaf", "--ca", ca)[0] == 0
    code, _, _ = run(capsys, "--home", b, "pki", "import", a / "keys" / "chain.pem")
    assert code == 78  # the leaf certifies a's key, not b's
    code, _, err = run(capsys, "--home", a, "pki", "import", a / "keys" / "chain.pem", "--trust-anchors",
                       ca / "root.pem", "--crl", ca / "intermediate.crl.pem")
    assert code == 0, err
