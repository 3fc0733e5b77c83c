"""Signed trust files (docs/trust.md "Signed trust files"): with trust anchors, a municipality's export counts
only when the city's certified key signed it; an attacker's export for 松戸市 is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import civiccert as cc
from civiccert.cli import main
from civiccert.credentials.b64url import b64url_decode, b64url_encode
from civiccert.demo import sample_record_path
from civiccert.errors import ConfigError, ReasonCode
from civiccert.pki.home import home_chain, install_chain, issuer_url
from civiccert.verification.trust_signed import sign_trust
from conftest import CODE, NAME, PASSPHRASE, Certified


def _refusal(certified: Certified, path: Path) -> ReasonCode:
    with pytest.raises(ConfigError) as info:
        certified.verifier(trust=cc.TrustSnapshot.load(path))
    return info.value.code


def _attacker(tmp_path: Path) -> cc.Issuer:
    """A home the attacker controls, claiming 松戸市 with its own key."""
    return cc.Issuer.init(tmp_path / "attacker", municipality_code=CODE, municipality_name=NAME,
                          passphrase=PASSPHRASE)


def _certify(issuer: cc.Issuer, ca: cc.TestCA) -> cc.Issuer:
    """``issuer``'s home with a leaf from ``ca`` for the municipality it claims, reopened to sign with it."""
    leaf = ca.issue_leaf(issuer.key.public_key, code=issuer.config.municipality_code,  # type: ignore[arg-type]
                         name=issuer.config.municipality_name, issuer_url=issuer_url(issuer.config))
    install_chain(issuer.home, [leaf, ca.intermediate])
    issuer.close()
    return cc.Issuer.open(issuer.home, passphrase=PASSPHRASE)


def test_genuine_signed_export_verifies_with_the_official_name(certified: Certified, household: cc.ResidentRecord,
                                                               tmp_path: Path) -> None:
    certified.leaf()
    path = tmp_path / "matsudo.json"
    path.write_text(certified.issuer.signed_trust_export(), encoding="utf-8")
    assert set(json.loads(path.read_text(encoding="utf-8"))) == {"protected", "payload", "signature"}
    trust = cc.TrustSnapshot.load_many([path])
    assert trust is not None
    result = certified.verifier(trust=trust).verify(certified.issuer.issue(household))
    assert result.verdict is cc.Verdict.VALID, result.to_dict()
    assert result.issuer["name_verified"] is True
    assert result.issuer["name"] == NAME


def test_attackers_unsigned_export_is_refused_with_anchors(certified: Certified, household: cc.ResidentRecord,
                                                           tmp_path: Path) -> None:
    attacker = _attacker(tmp_path)
    path = tmp_path / "forged.json"
    attacker.trust_export().save(path)
    forged = attacker.issue(household)
    attacker.close()
    assert _refusal(certified, path) is ReasonCode.TRUST_FILE_UNSIGNED
    # the weaker mode (no anchors) is what the issue describes: the forged file is believed
    assert cc.Verifier(trust=cc.TrustSnapshot.load(path)).verify(forged).verdict is cc.Verdict.VALID


def test_attackers_unsigned_export_merged_with_the_genuine_one_is_refused(certified: Certified,
                                                                          tmp_path: Path) -> None:
    certified.leaf()
    genuine, forged = tmp_path / "matsudo.json", tmp_path / "forged.json"
    genuine.write_text(certified.issuer.signed_trust_export(), encoding="utf-8")
    attacker = _attacker(tmp_path)
    attacker.trust_export().save(forged)
    attacker.close()
    with pytest.raises(ConfigError) as info:
        cc.TrustSnapshot.load_many([genuine, forged])
    assert info.value.code is ReasonCode.TRUST_CONFLICT


def test_export_signed_under_another_ca_is_refused(certified: Certified, tmp_path: Path) -> None:
    rogue_ca = cc.TestCA.create(tmp_path / "rogue-ca")
    attacker = _certify(_attacker(tmp_path), rogue_ca)
    path = tmp_path / "forged.json"
    path.write_text(attacker.signed_trust_export(), encoding="utf-8")
    attacker.close()
    assert _refusal(certified, path) is ReasonCode.CERT_CHAIN_INVALID


def test_export_for_matsudo_signed_by_chiyodas_genuine_leaf_is_refused(certified: Certified, tmp_path: Path
                                                                       ) -> None:
    chiyoda = cc.Issuer.init(tmp_path / "chiyoda", municipality_code="131016", municipality_name="千代田区",
                             passphrase=PASSPHRASE)
    chiyoda = _certify(chiyoda, certified.ca)  # a real city, certified by the verifier's own CA
    attacker = _attacker(tmp_path)
    forged_export = attacker.trust_export().to_dict()
    attacker.close()
    chain = home_chain(chiyoda.home, chiyoda.config)
    assert chain is not None
    path = tmp_path / "forged.json"
    path.write_text(json.dumps(sign_trust(forged_export, chiyoda.key, chain)), encoding="utf-8")
    chiyoda.close()
    assert _refusal(certified, path) is ReasonCode.TRUST_FILE_SIGNER_MISMATCH


def test_signed_export_changed_after_signing_is_invalid(certified: Certified, tmp_path: Path) -> None:
    certified.leaf()
    signed = json.loads(certified.issuer.signed_trust_export())
    document = json.loads(b64url_decode(signed["payload"]))
    document["expires_at"] += 10**8  # keep a file alive for years
    signed["payload"] = b64url_encode(json.dumps(document).encode())
    path = tmp_path / "tampered.json"
    path.write_text(json.dumps(signed), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        cc.TrustSnapshot.load(path)
    assert info.value.code is ReasonCode.TRUST_FILE_INVALID


def _run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_sign_and_verify_exit_codes(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    home, ca, cred = tmp_path / "city", tmp_path / "ca", tmp_path / "cred.json"
    signed, plain = tmp_path / "signed.json", tmp_path / "plain.json"
    monkeypatch.setenv("CIVICCERT_KEY_PASSPHRASE", "signed-trust-cli")
    assert _run(capsys, "init", home, "--municipality-code", CODE, "--municipality-name", NAME)[0] == 0
    code, _, err = _run(capsys, "--home", home, "trust", "export", "-o", signed, "--sign")
    assert (code, ReasonCode.CONFIG_INVALID.value in err) == (78, True)  # no certificate for the key yet
    assert _run(capsys, "pki", "init-test-ca", ca)[0] == 0
    assert _run(capsys, "--home", home, "pki", "issue-leaf", "--ca", ca)[0] == 0
    assert _run(capsys, "--home", home, "issue", "resident-record", sample_record_path("household-matsudo.json"),
                "-o", cred)[0] == 0
    monkeypatch.delenv("CIVICCERT_KEY_PASSPHRASE")
    assert _run(capsys, "--home", home, "trust", "export", "-o", plain)[0] == 0  # unsigned: no passphrase
    code, _, err = _run(capsys, "--home", home, "trust", "export", "-o", signed, "--sign")
    assert (code, ReasonCode.PASSPHRASE_MISSING.value in err) == (78, True)
    monkeypatch.setenv("CIVICCERT_KEY_PASSPHRASE", "signed-trust-cli")
    assert _run(capsys, "--home", home, "trust", "export", "-o", signed, "--sign")[0] == 0
    code, out, _ = _run(capsys, "verify", cred, "--trust", signed, "--trust-anchors", ca / "root.pem", "--offline",
                        "--json")
    assert (code, json.loads(out)["issuer"]["name_verified"]) == (0, True)
    code, _, err = _run(capsys, "verify", cred, "--trust", plain, "--trust-anchors", ca / "root.pem", "--offline")
    assert (code, ReasonCode.TRUST_FILE_UNSIGNED.value in err) == (78, True)
    assert _run(capsys, "verify", cred, "--trust", plain, "--offline")[0] == 0  # without anchors: unchanged
