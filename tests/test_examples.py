"""The example programs run as a reader would run them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import civiccert as cc

ROOT = Path(__file__).resolve().parent.parent


def test_example_records_are_the_shipped_samples() -> None:
    for path in sorted((ROOT / "examples" / "records").iterdir()):
        assert path.read_bytes() == cc.sample_record_path(path.name).read_bytes(), path.name


def test_municipal_batch_example_issues_and_anchors() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "municipal_batch.py"), "20"],
                          capture_output=True, text=True, timeout=120, check=True)
    assert "issued 20" in done.stdout
    assert "'anchored': 40" in done.stdout  # 20 credentials and their 20 paper twins


def test_verify_scan_example_reads_a_scan(tmp_path: Path) -> None:
    report = cc.run_demo(tmp_path / "demo", echo=None)
    scan = Path(report["files"]["scans"][0])
    trust = tmp_path / "trust.json"
    issuer = cc.Issuer.open(tmp_path / "demo" / "issuer-home", passphrase=b"civiccert-demo-only")
    issuer.trust_export().save(trust)
    issuer.close()
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "verify_scan.py"), str(scan), "--trust",
                           str(trust)], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "VALID" in done.stdout
    unreadable = tmp_path / "photo.jpg"
    unreadable.write_bytes(b"\xff\xd8\xff" + b"\x00" * 100)
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "verify_scan.py"), str(unreadable)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 65
    assert "Traceback" not in done.stderr


def test_demo_reports_success_and_the_expected_verdicts(tmp_path: Path) -> None:
    report = cc.run_demo(tmp_path / "demo", echo=None)
    assert report["ok"] is True
    assert set(report["before"].values()) == {"VALID"}
    assert {v for k, v in report["after"].items() if k.startswith("inkan")} == {"INVALID"}
    assert {v for k, v in report["after"].items() if k.startswith("juminhyo")} == {"VALID"}


def test_the_demo_leaves_a_trust_bundle_a_stranger_can_verify_with(tmp_path: Path) -> None:
    """After the demo (its embedded chain gone), its files alone give the same verdicts, in a fresh process."""
    out = tmp_path / "demo"
    report = cc.run_demo(out, echo=None)
    assert report["offline_after"] == {"juminhyo (offline juminhyo.pdf)": "VALID",
                                       "inkan (offline inkan.pdf)": "INVALID"}
    pdfs = [str(out / "inkan.pdf"), str(out / "juminhyo.pdf")]
    cli = [sys.executable, "-m", "civiccert", "verify", *pdfs, "--trust", str(out / "trust.json"), "--json"]
    done = subprocess.run([*cli, "--status-lists", str(out / "status-lists"), "--offline"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1, done.stderr
    verdicts = json.loads(done.stdout)["results"]
    by_source = {v["source"]: v for v in verdicts}
    assert by_source["inkan.pdf p.1"]["verdict"] == "INVALID"
    assert [c["code"] for c in by_source["inkan.pdf p.1"]["checks"] if c["check"] == "revocation"] == ["revoked"]
    assert by_source["juminhyo.pdf p.1"]["verdict"] == "VALID"
    assert all({c["check"]: c["code"] for c in v["checks"]}["page"] == "ok" for v in verdicts)
