"""Verdicts say what is known: a key the trust file holds checks the signature (a tampered credential is
INVALID, not INDETERMINATE), and a credential a trusted issuer signed is a verdict even when it is not one of
our credential types or cannot be read (INVALID, exit 1, never "bad input", exit 65)."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import pytest

import civiccert as cc
from civiccert import CheckName, Outcome, ReasonCode, Verdict
from civiccert.cli import main
from civiccert.credentials import sdjwt
from civiccert.credentials.b64url import b64url_decode, b64url_encode
from civiccert.credentials.strictjson import json_dumps

from worldkit import World


def _rewrite(cred: cc.CredentialFile, **changes: Any) -> cc.CredentialFile:
    """The credential with payload members changed and the issuer's signature left as it was."""
    payload = cred.sd_jwt.split("~", 1)[0].split(".")[1]
    claims = {**json.loads(b64url_decode(payload)), **changes}
    return dataclasses.replace(cred, sd_jwt=cred.sd_jwt.replace(payload, b64url_encode(json_dumps(claims)), 1))


def _signed(world: World, **changes: Any) -> cc.CredentialFile:
    """A credential the issuer's real key signs, with envelope members changed."""
    now = int(time.time())
    claims = {"iss": "urn:civiccert:lg:122076", "iat": now, "nbf": now, "exp": now + 86400,
              "vct": "urn:civiccert:vct:juminhyo:1", "municipality": {"code": "122076", "name": "松戸市"}, **changes}
    key = world.issuer.key
    token = sdjwt.issue(claims, key, header={"jwk": key.public_jwk()})
    return cc.CredentialFile(id="custom-signed", vct=str(claims["vct"]), sd_jwt=token, receipt=None)


def _check(result: cc.VerificationResult, name: CheckName) -> tuple[Outcome, ReasonCode]:
    check = result.check(name)
    assert check is not None
    return check.outcome, check.code


def _deep(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize("changes", [{"iss": "urn:civiccert:lg:011002"}, {"exp": 4_102_444_800}])
def test_a_tampered_credential_with_a_trusted_kid_is_invalid_offline(world: World, changes: dict[str, Any]) -> None:
    cred = world.issue_anchored()
    result = world.offline_verifier().verify(_rewrite(cred, **changes))
    assert result.verdict is Verdict.INVALID
    assert _check(result, CheckName.SIGNATURE) == (Outcome.FAILED, ReasonCode.SIGNATURE_INVALID)


def test_a_signed_credential_of_an_unknown_type_is_invalid(world: World) -> None:
    for verifier in (world.offline_verifier(), world.online_verifier()):
        result = verifier.verify(_signed(world, vct="urn:example:not-ours"))
        assert result.verdict is Verdict.INVALID
        assert _check(result, CheckName.FORMAT) == (Outcome.FAILED, ReasonCode.VCT_UNKNOWN)
        assert _check(result, CheckName.SIGNATURE) == (Outcome.PASSED, ReasonCode.OK)


def test_a_signed_credential_nested_too_deep_is_invalid(world: World) -> None:
    for verifier in (world.offline_verifier(), world.online_verifier()):
        result = verifier.verify(_signed(world, note=_deep(100)))
        assert result.verdict is Verdict.INVALID
        assert _check(result, CheckName.FORMAT) == (Outcome.FAILED, ReasonCode.MALFORMED)
        assert _check(result, CheckName.SIGNATURE) == (Outcome.PASSED, ReasonCode.OK)


def test_the_same_nesting_from_an_untrusted_key_stays_bad_input(world: World) -> None:
    token = sdjwt.issue({"iss": "urn:civiccert:lg:122076", "note": _deep(100)}, cc.IssuerKey.generate())
    result = world.offline_verifier().verify(cc.CredentialFile(id="x", vct="x", sd_jwt=token, receipt=None))
    assert result.verdict is Verdict.INVALID
    assert result.check(CheckName.SIGNATURE) is None  # nobody vouched for that key: nothing to say about it


def _verify_cli(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, dict[str, Any]]:
    code = main(["verify", "--json", *[str(a) for a in args]])
    out, _err = capsys.readouterr()
    return code, json.loads(out) if out.strip() else {}


def test_cli_verdicts_and_exit_codes(world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trust = tmp_path / "trust.json"
    world.issuer.trust_export().save(trust)
    cases = {
        "tampered-iss": (_rewrite(world.issue_anchored(), iss="urn:civiccert:lg:011002"), "signature_invalid"),
        "unknown-vct": (_signed(world, vct="urn:example:not-ours"), "vct_unknown"),
        "too-deep": (_signed(world, note=_deep(100)), "malformed"),
    }
    for name, (cred, reason) in cases.items():
        path = cred.save(tmp_path / f"{name}.json")
        code, report = _verify_cli(capsys, path, "--offline", "--trust", trust)
        assert (code, report["verdict"]) == (1, "INVALID"), name
        assert reason in report["reasons"], name
    garbage = tmp_path / "garbage.json"
    garbage.write_text('{"format": "civiccert-credential/1", "sd_jwt": "a.b.c~"}', encoding="utf-8")
    assert _verify_cli(capsys, garbage, "--offline", "--trust", trust)[0] == 65  # still bad input


@pytest.mark.parametrize("address", ["0xZZ", "0x" + "zz" * 20, "0x" + "11" * 19, "11" * 20,
                                     "0x52908400098527886E0F7030069857D2E4169EE7".replace("E0F", "e0F")])
def test_cli_refuses_a_malformed_registry_address(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                  address: str) -> None:
    cred = tmp_path / "c.json"
    cred.write_text("{}", encoding="utf-8")
    code = main(["verify", str(cred), "--rpc", "http://127.0.0.1:9", "--registry", address])
    capsys.readouterr()
    assert code == 64


def test_cli_accepts_checksummed_and_single_case_addresses(capsys: pytest.CaptureFixture[str],
                                                           tmp_path: Path) -> None:
    cred = tmp_path / "c.json"
    cred.write_text("{}", encoding="utf-8")
    for address in ("0x52908400098527886E0F7030069857D2E4169EE7", "0x" + "ab" * 20):
        code = main(["verify", str(cred), "--rpc", "http://127.0.0.1:9", "--registry", address])
        capsys.readouterr()
        assert code == 65  # past the usage checks: the file is not a credential (no node contacted)
