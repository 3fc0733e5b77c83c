"""Start-up stays light: `import civiccert`, `civiccert --help` and `civiccert verify --offline` never load the
chain client (web3, eth-*, py-evm), the PDF writer (reportlab), HTTP clients or the record schema validator.

Each case runs in a fresh interpreter and reads ``sys.modules`` at its end; no timing is asserted (the
figures are in docs/benchmarks.md, from benchmarks/bench_startup.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import civiccert as cc

# top-level packages an offline verifier must never import
HEAVY = frozenset({"web3", "eth", "eth_tester", "reportlab", "aiohttp", "requests", "jsonschema", "websockets"})

_PROBE = """
import json, sys
out = sys.argv[1]
try:
    if len(sys.argv) > 2:
        from civiccert.cli import main
        code = main(sys.argv[2:])
    else:
        import civiccert
        code = 0
finally:
    with open(out, "w") as f:
        json.dump(sorted({m.split(".")[0] for m in sys.modules}), f)
sys.exit(code)
"""


def _loaded(tmp_path: Path, *args: str | Path) -> tuple[int, set[str]]:
    """Exit code and the top-level packages loaded by a fresh interpreter running ``civiccert *args``."""
    out = tmp_path / "modules.json"
    src = str(Path(cc.__file__).resolve().parents[1])  # this checkout's code, installed or not
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", _PROBE, str(out), *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    return done.returncode, set(json.loads(out.read_text(encoding="utf-8")))


def _heavy(modules: set[str]) -> set[str]:
    return {m for m in modules if m in HEAVY or m.startswith("eth_")}


@pytest.fixture(scope="module")
def credential(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A credential file and its issuer's trust file (no chain: the anchor check is then skipped)."""
    work = tmp_path_factory.mktemp("startup")
    issuer = cc.Issuer.init(work / "home", municipality_code="122076", municipality_name="松戸市",
                            passphrase=b"startup-test")
    try:
        cred = issuer.issue(cc.load_record(cc.sample_record_path("household-matsudo.json")), paper=False)
        cred_path = cred.save(work / "cred.json")
        trust_path = work / "trust.json"
        issuer.trust_export().save(trust_path)
    finally:
        issuer.close()
    return cred_path, trust_path


def test_import_civiccert_loads_only_the_exception_tree(tmp_path: Path) -> None:
    code, modules = _loaded(tmp_path)
    assert code == 0
    assert _heavy(modules) == set()
    assert modules.isdisjoint({"typer", "rich", "cryptography", "PIL"})


def test_help_loads_neither_the_chain_nor_rich(tmp_path: Path) -> None:
    code, modules = _loaded(tmp_path, "--help")
    assert code == 0
    assert "typer" in modules  # the probe really ran the command
    assert _heavy(modules) == set()
    assert "rich" not in modules


def test_offline_verify_loads_no_chain_client_and_no_pdf_writer(tmp_path: Path,
                                                                  credential: tuple[Path, Path]) -> None:
    cred, trust = credential
    code, modules = _loaded(tmp_path, "verify", "--offline", "--trust", trust, cred)
    assert code == 0  # VALID: the credential was really verified
    assert "cryptography" in modules
    assert _heavy(modules) == set()

