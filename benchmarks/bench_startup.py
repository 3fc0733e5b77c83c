"""CLI start-up: wall time of `civiccert --help`, `--version`, `verify --offline` of one file, `import civiccert`.

    .venv/bin/python benchmarks/bench_startup.py [--runs N]

Each command runs N times in a fresh interpreter (`python -m civiccert ...`, the same code as the console
script), round-robin so that load changes hit every command alike. Printed per command: median and best wall
time, the median CPU time of the child (user + sys, which load does not inflate), the target, and the share
of the physical floor measured in the same run: `python -c pass`, the interpreter's own start-up.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import civiccert as cc

TARGETS = {"civiccert --help": 0.3, "civiccert verify --offline (1 file)": 0.5}


def make_credential(workdir: Path) -> tuple[Path, Path]:
    """One 4-member 住民票 credential (not anchored) and its issuer's trust file."""
    issuer = cc.Issuer.init(workdir / "home", municipality_code="122076", municipality_name="松戸市",
                            passphrase=b"bench-passphrase")
    try:
        cred = issuer.issue(cc.load_record(cc.sample_record_path("household-matsudo.json")), paper=False)
        trust = workdir / "trust.json"
        issuer.trust_export().save(trust)
        return cred.save(workdir / "cred.json"), trust
    finally:
        issuer.close()


def timed(cmd: list[str]) -> tuple[float, float, int]:
    """Wall seconds, child CPU seconds (user + sys) and exit code of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    code = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False).returncode
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), code


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="civiccert-bench-startup-"))
    cred, trust = make_credential(workdir)
    py = sys.executable
    cli = [py, "-m", "civiccert"]
    commands: dict[str, list[str]] = {
        "python -c pass (floor)": [py, "-c", "pass"],
        'python -c "import civiccert"': [py, "-c", "import civiccert"],
        "civiccert --help": [*cli, "--help"],
        "civiccert --version": [*cli, "--version"],
        "civiccert verify --offline (1 file)": [*cli, "verify", "--offline", "--trust", str(trust), str(cred)],
    }
    skipped = [name for name, cmd in commands.items() if name != "civiccert verify --offline (1 file)"
               and timed(cmd)[2] != 0]  # also a warm-up of the .pyc caches
    for name in skipped:
        del commands[name]
    assert timed(commands["civiccert verify --offline (1 file)"])[2] == 0, "the credential did not verify"

    walls: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, cmd in commands.items():
            wall, cpu, _code = timed(cmd)
            walls[name].append(wall)
            cpus[name].append(cpu)

    floor = statistics.median(walls["python -c pass (floor)"])
    print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; {args.runs} runs each; "
          f"Python {sys.version.split()[0]}")
    print("| command | median wall | best wall | median CPU | target | floor share |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in commands:
        median = statistics.median(walls[name])
        target = TARGETS.get(name)
        verdict = "" if target is None else f"≤ {target * 1e3:.0f} ms {'✓' if median <= target else '✗'}"
        print(f"| {name} | {median * 1e3:.0f} ms | {min(walls[name]) * 1e3:.0f} ms | "
              f"{statistics.median(cpus[name]) * 1e3:.0f} ms | {verdict} | {floor / median:.0%} |")
    for name in skipped:
        print(f"| {name} | skipped: not a command of this version | | | | |")


if __name__ == "__main__":
    main()
