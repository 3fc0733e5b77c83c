"""``civiccert verify DIR`` on 10,000 credential files: one core vs every core, and what the text report costs.

    .venv/bin/python benchmarks/bench_cli_bulk.py [--n 10000] [--repeats 3] [--src DIR]

The files (4-member household, 58 disclosures, offline trust file) are made once into .cache/bench-cli-bulk/
under the work tree (gitignored) and reused. Each command runs ``--repeats`` times; the best wall time is
kept (the machine is shared). Start-up is the same command on one file; the verification time is the bulk
time less start-up. The report's cost is the text run less the ``--json`` run, over the ``--json`` run.
Each row also gives the CPU seconds of the CLI process itself ("parent") and of its worker processes (the
load of other programs moves wall times, much less CPU times). ``--src`` runs another copy of the sources
(e.g. ``git archive`` of an older commit) to compare before and after in one sitting. The "2 × 1 core" rows
run two ``--jobs 1`` processes at once on half the files each: the bound a pool is measured against, since
two busy cores slow each other (shared cache and memory: about 10 % more CPU per file than one alone).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import full_household_record

import civiccert as cc

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "bench-cli-bulk"


def make_files(n: int) -> tuple[Path, Path]:
    files, trust = CACHE / f"creds-{n}", CACHE / f"trust-{n}.json"
    if trust.exists() and len(list(files.glob("*.json"))) == n:
        return files, trust
    files.mkdir(parents=True, exist_ok=True)
    issuer = cc.Issuer.init(Path(tempfile.mkdtemp(prefix="civiccert-bench-")) / "home", municipality_code="122076",
                            municipality_name="松戸市", passphrase=b"bench-passphrase")
    record = full_household_record()
    for i, cred in enumerate(issuer.issue_many((record for _ in range(n)), paper=False)):
        (files / f"{i:06d}.json").write_text(cred.dumps(), encoding="utf-8")
    issuer.trust_export().save(trust)
    issuer.close()
    return files, trust


# The CLI, reporting the CPU seconds of its own process and of the (reaped) worker processes on exit.
_CLI = """import json, os, resource, sys
from civiccert.cli import main
try:
    sys.exit(main(sys.argv[1:]))
finally:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(os.environ["BENCH_RUSAGE"], "w") as out:
        json.dump([me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime], out)
"""


def run(args: list[str], repeats: int, src: Path) -> tuple[float, float, float]:
    """Best wall seconds of ``repeats`` runs, with that run's parent and worker CPU seconds."""
    usage = Path(tempfile.mkdtemp(prefix="civiccert-bench-")) / "rusage.json"
    env = {**os.environ, "PYTHONPATH": str(src), "LANG": "C.UTF-8", "BENCH_RUSAGE": str(usage)}
    best = (float("inf"), 0.0, 0.0)
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", _CLI, "verify", *args], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        wall = time.perf_counter() - start
        assert done.returncode in (0, 2), f"unexpected exit {done.returncode}"
        if wall < best[0]:
            parent, workers = json.loads(usage.read_text())
            best = (wall, parent, workers)
    return best


def run_halves(args: list[str], halves: tuple[list[str], list[str]], repeats: int, src: Path) -> tuple[float, float]:
    """Best wall seconds of two ``--jobs 1`` CLI processes at once, half of the files each, and their CPU
    seconds: what two cores give with no pool at all (both processes pay start-up; the cores slow each other)."""
    env = {**os.environ, "PYTHONPATH": str(src), "LANG": "C.UTF-8"}
    best = (float("inf"), 0.0)
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, "-m", "civiccert", "verify", *args, *half], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for half in halves]
        codes = [proc.wait() for proc in procs]
        wall = time.perf_counter() - start
        assert set(codes) <= {0, 2}, f"unexpected exits {codes}"
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        if wall < best[0]:
            best = (wall, cpu)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="the civiccert sources to run")
    args = parser.parse_args()
    files, trust = make_files(args.n)
    common = ["--offline", "--trust", str(trust), "--lang", "en"]
    one = sorted(files.iterdir())[0]
    print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; {args.n:,} files; {args.src}")
    startup = run([*common, "--json", str(one)], args.repeats, args.src)[0]
    timings = {}
    for label, extra in (("1 core, --json", ["--jobs", "1", "--json"]), ("every core, --json", ["--json"]),
                         ("1 core, text", ["--jobs", "1"]), ("every core, text", [])):
        timings[label], parent, workers = run([*common, *extra, str(files)], args.repeats, args.src)
        work = timings[label] - startup
        print(f"| {label:<22} | {timings[label]:7.2f} s | {args.n / work:8,.0f} files/s after start-up "
              f"| CPU parent {parent:5.2f} s, workers {workers:5.2f} s |")
    names = [str(path) for path in sorted(files.iterdir())]
    halves = (names[:len(names) // 2], names[len(names) // 2:])
    for label, extra in (("2 × 1 core, --json", ["--jobs", "1", "--json"]), ("2 × 1 core, text", ["--jobs", "1"])):
        timings[label], cpu = run_halves([*common, *extra], halves, args.repeats, args.src)
        print(f"| {label:<22} | {timings[label]:7.2f} s | {args.n / (timings[label] - startup):8,.0f} files/s "
              f"after start-up | CPU both {cpu:5.2f} s (no pool: half the files each) |")
    work = {label: timings[label] - startup for label in timings}  # start-up paid once per run, left out
    print(f"start-up (one file): {startup:.2f} s; load average now {os.getloadavg()[0]:.2f}")
    print("every core vs one core (files/s after start-up): --json "
          f"{work['1 core, --json'] / work['every core, --json']:.2f}x, text "
          f"{work['1 core, text'] / work['every core, text']:.2f}x  (target >= 1.6x on 2 cores)")
    print("  two separate --jobs 1 processes vs one core (the most a pool could give here): --json "
          f"{work['1 core, --json'] / work['2 × 1 core, --json']:.2f}x, text "
          f"{work['1 core, text'] / work['2 × 1 core, text']:.2f}x")
    one = (work["1 core, text"] - work["1 core, --json"]) / work["1 core, --json"]
    every = (work["every core, text"] - work["every core, --json"]) / work["every core, --json"]
    print(f"text report cost vs --json: one core {one:+.1%}, every core {every:+.1%} of the verification  "
          "(target <= 10%)")


if __name__ == "__main__":
    main()
