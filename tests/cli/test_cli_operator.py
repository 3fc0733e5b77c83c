"""What an operator hits in the first hour: issuing with the node down, publishing keys without the
passphrase, passphrase files, holder binding from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clikit import run

import civiccert as cc
from civiccert.demo import sample_record_path

PASS = "operator-test-passphrase"


@pytest.fixture
def home(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CIVICCERT_KEY_PASSPHRASE", PASS)
    monkeypatch.delenv("CIVICCERT_KEY_PASSPHRASE_FILE", raising=False)
    path = tmp_path / "city"
    code, _, err = run(capsys, "init", path, "--municipality-code", "122076", "--municipality-name", "松戸市")
    assert code == 0, err
    return path


@pytest.mark.anvil
def test_issue_and_status_work_while_the_node_is_down(
        home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from civiccert.chain.nodes import AnvilNode, dev_account, find_anvil

    try:
        binary = find_anvil()
    except cc.ConfigError:
        pytest.skip("anvil binary not found (run scripts/setup)")
    with AnvilNode(binary=binary) as node:
        chain = cc.connect(node.url)
        registry = cc.Registry.deploy(chain, dev_account(chain))
        issuer = cc.Issuer.open(home, passphrase=PASS.encode(), chain=chain)
        cc.fund_dev_account(chain, issuer.account.address)  # type: ignore[union-attr]
        issuer.use_chain(chain, registry.address)
        issuer.register_on_chain(registry)
        issuer.close()
    # the node is gone now: issuing (also with a printed copy, which would anchor first) and status still work
    cred, pdf = tmp_path / "cred.json", tmp_path / "copy.pdf"
    code, _, err = run(capsys, "--home", home, "issue", "seal-certificate", sample_record_path("seal-registrant.json"),
                       "-o", cred, "--pdf", pdf)
    assert code == 0, err
    assert cred.is_file()
    assert pdf.is_file()
    assert "receipt" not in json.loads(cred.read_text()) or json.loads(cred.read_text())["receipt"] is None
    code, out, err = run(capsys, "--home", home, "status", "--json")
    assert code == 0, err
    assert json.loads(out)["pending"] == 2  # the credential and its paper twin, journaled
    # anchoring is what needs the node, and says so
    code, _, _ = run(capsys, "--home", home, "anchor")
    assert code == 69


def test_trust_export_needs_no_passphrase_and_carries_its_expiry(
        home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    cred = tmp_path / "cred.json"
    assert run(capsys, "--home", home, "issue", "seal-certificate", sample_record_path("seal-registrant.json"),
               "-o", cred)[0] == 0
    monkeypatch.delenv("CIVICCERT_KEY_PASSPHRASE")
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    trust = tmp_path / "trust.json"
    code, _, err = run(capsys, "--home", home, "trust", "export", "-o", trust, "--valid-days", "30")
    assert code == 0, err
    data = json.loads(trust.read_text())
    assert data["expires_at"] - data["generated_at"] == 30 * 86400
    assert all("d" not in key["jwk"] for key in data["keys"])  # public material only
    # the export verifies the city's credential, and does not age out after the old fixed 7 days
    later = data["generated_at"] + 20 * 86400
    result = cc.Verifier(trust=cc.TrustSnapshot.load(trust), clock=lambda: later).verify(
        cc.CredentialFile.load(cred))
    assert result.verdict is cc.Verdict.VALID
    expired = cc.Verifier(trust=cc.TrustSnapshot.load(trust), clock=lambda: later + 11 * 86400).verify(
        cc.CredentialFile.load(cred))
    assert expired.verdict is cc.Verdict.INDETERMINATE
    assert any(c.code is cc.ReasonCode.TRUST_SNAPSHOT_STALE for c in expired.checks)


def test_passphrase_file_replaces_the_environment(
        home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CIVICCERT_KEY_PASSPHRASE")
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    secret = tmp_path / "secret"
    secret.write_text(PASS + "\n")
    secret.chmod(0o600)
    cred = tmp_path / "cred.json"
    record = sample_record_path("seal-registrant.json")
    code, _, err = run(capsys, "--home", home, "--passphrase-file", secret, "issue", "seal-certificate", record,
                       "-o", cred)
    assert code == 0, err
    # also from the environment variable naming the file (a container secret)
    monkeypatch.setenv("CIVICCERT_KEY_PASSPHRASE_FILE", str(secret))
    assert run(capsys, "--home", home, "issue", "seal-certificate", record, "-o", cred)[0] == 0
    monkeypatch.delenv("CIVICCERT_KEY_PASSPHRASE_FILE")
    wrong = tmp_path / "wrong"
    wrong.write_text("not it\n")
    assert run(capsys, "--home", home, "--passphrase-file", wrong, "status")[0] == 78
    code, _, err = run(capsys, "--home", home, "--passphrase-file", tmp_path / "absent", "status")
    assert code == 78
    assert "passphrase_missing" in err
    assert len(err.strip().splitlines()) <= 2  # one line, plus the next step


def test_holder_binding_from_the_command_line(
        home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    holder = cc.IssuerKey.generate("ES256")
    holder_pem, holder_jwk = tmp_path / "holder.pem", tmp_path / "holder.jwk"
    holder.save(holder_pem, PASS.encode())
    holder_jwk.write_text(json.dumps(holder.public_jwk()))
    bound, unbound = tmp_path / "bound.json", tmp_path / "unbound.json"
    record = sample_record_path("household-matsudo.json")
    code, _, err = run(capsys, "--home", home, "issue", "resident-record", record, "-o", bound,
                       "--holder-jwk", holder_jwk)
    assert code == 0, err
    assert run(capsys, "--home", home, "issue", "resident-record", record, "-o", unbound)[0] == 0
    trust = tmp_path / "trust.json"
    assert run(capsys, "--home", home, "trust", "export", "-o", trust)[0] == 0
    shown = tmp_path / "shown.json"
    code, _, err = run(capsys, "present", bound, "-d", "household.address", "--holder-key", holder_pem,
                       "--aud", "https://bank.example", "--nonce", "n-123", "-o", shown)
    assert code == 0, err
    code, out, _ = run(capsys, "verify", shown, "--trust", trust, "--offline", "--json")
    assert code == 0, out
    # a key-binding JWT for a credential without cnf would be refused by every verifier: refused here
    code, _, err = run(capsys, "present", unbound, "-d", "household.address", "--holder-key", holder_pem,
                       "--aud", "https://bank.example", "--nonce", "n-123")
    assert code == 65
    assert "holder_binding_missing" in err
    # nor with somebody else's key
    other = cc.IssuerKey.generate("ES256")
    other_pem = tmp_path / "other.pem"
    other.save(other_pem, PASS.encode())
    code, _, err = run(capsys, "present", bound, "-d", "household.address", "--holder-key", other_pem,
                       "--aud", "https://bank.example", "--nonce", "n-123")
    assert code == 65
    assert "holder_binding_failed" in err
    # a private key handed over as the holder's JWK is refused before anything is signed
    private = tmp_path / "private.jwk"
    private.write_text(json.dumps({**holder.public_jwk(), "d": "AAAA"}))
    code, _, _ = run(capsys, "--home", home, "issue", "resident-record", record, "-o", tmp_path / "x.json",
                     "--holder-jwk", private)
    assert code == 65
    assert not (tmp_path / "x.json").exists()
