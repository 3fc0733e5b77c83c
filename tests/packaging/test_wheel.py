"""The wheel as a user gets it: built from this checkout, installed into a fresh venv outside the repo.

The plain install verifies offline, pulls in no pre-release and refuses the demo with ``extra_missing``
(exit 78); with ``[issuer,embedded-chain]`` the demo runs end to end. No network: every wheel comes from
``.cache/wheelhouse``, which ``scripts/setup`` fills.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import civiccert as cc

REPO = Path(__file__).resolve().parents[2]
WHEELHOUSE = REPO / ".cache" / "wheelhouse"
PRE_RELEASE = re.compile(r"\d(a|b|rc)\d|\.dev\d")

pytestmark = pytest.mark.slow


def _run(cmd: list[str | Path], *, cwd: Path, timeout: float = 120,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PIP_FIND_LINKS")}
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env={**clean, **(env or {})}, capture_output=True,
                          text=True, timeout=timeout, check=False)


def _pip(venv_python: Path, *args: str | Path, cwd: Path) -> None:
    """pip of this interpreter, installing into the venv (which has no pip of its own), offline."""
    done = _run([sys.executable, "-m", "pip", "--python", venv_python, "install", "--quiet", "--no-index",
                 "--find-links", WHEELHOUSE, *args], cwd=cwd, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def _build_wheel(work: Path) -> Path:
    """Build from a copy of the sources, so that the checkout gets no build/ or egg-info."""
    source = work / "source"
    shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.so"))
    for name in ("pyproject.toml", "setup.py", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, source / name)
    done = _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-index", "--find-links",
                 WHEELHOUSE, "-w", work / "dist", source], cwd=work, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    (wheel,) = (work / "dist").glob("civiccert-*.whl")
    return wheel


def _credential(work: Path) -> tuple[Path, Path]:
    issuer = cc.Issuer.init(work / "home", municipality_code="122076", municipality_name="松戸市",
                            passphrase=b"wheel-test")
    try:
        cred = issuer.issue(cc.load_record(cc.sample_record_path("household-matsudo.json")), paper=False)
        trust = work / "trust.json"
        issuer.trust_export().save(trust)
        return cred.save(work / "cred.json"), trust
    finally:
        issuer.close()


@pytest.mark.skipif(not (WHEELHOUSE / ".civiccert-built").is_file(),
                    reason="no wheelhouse: run scripts/setup (it fills .cache/wheelhouse once, with network)")
def test_wheel_installs_verifies_plain_and_runs_the_demo_with_extras(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path)
    venv = tmp_path / "venv"
    assert _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp_path).returncode == 0
    python, civiccert = venv / "bin" / "python", venv / "bin" / "civiccert"

    # plain install: the verifier
    _pip(python, wheel, cwd=tmp_path)
    listed = _run([python, "-c", "import importlib.metadata as m, json; "
                   "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"], cwd=tmp_path)
    versions = json.loads(listed.stdout)
    assert [f"{n} {v}" for n, v in versions.items() if PRE_RELEASE.search(v)] == []
    assert {"web3", "cryptography"} <= {n.lower() for n in versions}
    assert {n.lower() for n in versions}.isdisjoint({"eth-tester", "py-evm", "reportlab", "jsonschema", "pyjwt"})
    licence = _run([python, "-c", "import importlib.metadata as m; print(m.metadata('civiccert').get_all("
                    "'License-File'))"], cwd=tmp_path)
    assert "LICENSE" in licence.stdout
    assert _run([python, "-m", "civiccert", "--help"], cwd=tmp_path).returncode == 0

    cred, trust = _credential(tmp_path)
    verified = _run([civiccert, "verify", "--offline", "--json", "--trust", trust, cred], cwd=tmp_path)
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["verdict"] == "VALID"
    refused = _run([civiccert, "demo", "--out", tmp_path / "demo-plain"], cwd=tmp_path)
    assert refused.returncode == 78  # configuration: a missing extra
    assert refused.stderr.startswith("error: extra_missing")

    # with the extras: issuing, printing and the embedded chain
    _pip(python, f"{wheel}[issuer,embedded-chain]", cwd=tmp_path)
    demo = _run([civiccert, "demo", "--json", "--out", tmp_path / "demo"], cwd=tmp_path, timeout=300)
    assert demo.returncode == 0, demo.stderr[-3000:]
    report = json.loads(demo.stdout)
    assert report["ok"] is True
    assert "INVALID" in report["after"].values()  # the revoked 印鑑登録証明書
    assert Path(report["files"]["juminhyo"]["pdf"]).is_file()
