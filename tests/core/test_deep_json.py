"""Deeply nested JSON is refused before any parser sees it.

The embedded EVM (py-evm) raises Python's recursion limit to 100,000 at import; json's C scanner would then
overflow the C stack on "[[[[…" and kill the process (a segfault, found by the records tests). Every JSON
entry point goes through one strict parser that checks the depth first.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import civiccert as cc
from civiccert.credentials.strictjson import MAX_JSON_DEPTH, json_depth_ok

DEEP = "[" * 100_000


def test_depth_limit_counts_structure_not_brackets_in_strings() -> None:
    assert json_depth_ok("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH)
    assert not json_depth_ok("[" * (MAX_JSON_DEPTH + 1))
    assert json_depth_ok('{"a": "' + "[" * 1000 + '"}')
    assert json_depth_ok('{"a": "\\"' + "{" * 1000 + '"}')


def test_deep_credential_is_invalid_not_a_crash() -> None:
    result = cc.Verifier().verify("{" + '"a":' * 1 + DEEP)
    assert result.verdict is cc.Verdict.INVALID


def test_deep_record_and_trust_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(cc.RecordError) as record_error:
        cc.load_record(_write(tmp_path / "record.json", DEEP))
    assert record_error.value.code is cc.ReasonCode.JSON_INVALID
    with pytest.raises(cc.ConfigError) as trust_error:
        cc.TrustSnapshot.load(_write(tmp_path / "trust.json", DEEP))
    assert trust_error.value.code is cc.ReasonCode.TRUST_FILE_INVALID


def test_cli_verify_of_a_deep_file_exits_cleanly(tmp_path: Path) -> None:
    path = _write(tmp_path / "deep.json", DEEP)
    done = subprocess.run([sys.executable, "-m", "civiccert.cli", "verify", str(path), "--json"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 65, done.stderr[-500:]  # malformed input, reported; the process did not die


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_deeply_nested_disclosure_is_refused_not_a_crash() -> None:
    """A holder appending a 95,000-deep disclosure to a genuine credential must not kill the verifier."""
    code = (
        "import civiccert as cc\n"
        "from civiccert.credentials import b64url, sdjwt\n"
        "key = cc.IssuerKey.generate()\n"
        "token = sdjwt.issue({'iss': 'urn:civiccert:lg:122076', 'iat': 1, 'exp': 2**40,\n"
        "                     'vct': cc.VCT_RESIDENT_RECORD, 'municipality': {'code': '122076', 'name': 'x'}}, key)\n"
        "deep = b64url.b64url_encode(('[\"s\",\"n\",' + '[' * 95000 + ']' * 95000 + ']').encode())\n"
        "result = sdjwt.verify(token + deep + '~', resolve_key=lambda h, p: key.public_key)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1, done.stderr[-300:]  # a Python exception, not a segfault (-11)
    assert "CredentialError" in done.stderr
