"""Issue requests per second through the HTTP API (``civiccert serve`` on 127.0.0.1), SQLite and PostgreSQL.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_server.py [--requests 400] [--concurrency 8] [--batch 0]
        [--workers 1,2] [--sqlite-only] [--target 1000] [--profile FILE]

One server (uvicorn, ``--workers`` processes; the anchoring worker on in one of them, no chain: only status-list
publication runs beside requests). The load comes from this process: one asyncio loop on raw keep-alive
HTTP/1.1 connections with pre-built requests (benchmarks/_loadgen.py), each request with its own
Idempotency-Key, so the client takes as little as possible of the two cores it shares with the server. Each
request issues the shipped 4-member 住民票 sample (SD-JWT with 42 disclosures + paper twin, journaled durably,
idempotency record and audit entry written, before the 201); with ``--batch N`` each request posts N of them to
/v1/credentials/batch instead.

Prints a Markdown table: issues/s, p50/p99 latency, errors, the server's CPU per issue (and its kernel share:
fsyncs, sockets, thread wake-ups), PostgreSQL's (the postmaster and its backends, from /proc) and the client's,
their sum next to the CPU budget per issue (cores ÷ ``--target`` issues/s, so the gap to the target is explicit), and
the same-run ES256 sign rate (one core) with the fraction of it reached, since absolute rates move between runs on a
shared VM. ``--profile FILE`` runs one server process under yappi (CPU clock, every thread) and saves pstats.
PostgreSQL is skipped when it is not installed (scripts/setup installs it).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _common import es256_limits
from _loadgen import post_many

import civiccert as cc

_TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path[:0] = [str(_TESTS), str(_TESTS / "service")]  # the tests' PostgreSQL and server kits
from pgkit import PostgresServer, find_pg_bin, free_port  # noqa: E402
from servicekit import REPO, Clients  # noqa: E402

PASSPHRASE = b"bench passphrase"
_TICK = os.sysconf("SC_CLK_TCK")


def tree_cpu(root: int) -> tuple[float, float]:
    """(user, system) CPU seconds used so far by process ``root`` and its children (a postmaster's children
    are its backends, whose CPU the server's figure leaves out; a backend that exited is no longer counted)."""
    user = system = 0.0
    pids = [root]
    children = Path(f"/proc/{root}/task/{root}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        user += int(fields[11]) / _TICK
        system += int(fields[12]) / _TICK
    return user, system


class BenchServer:
    """``civiccert serve`` in a subprocess (optionally under the profiler); its CPU time read from /proc."""

    def __init__(self, home: Path, clients: Clients, *, journal_url: str | None, workers: int,
                 profile: str | None) -> None:  # fmt: skip
        self.port = free_port()
        env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "CIVICCERT_KEY_PASSPHRASE": PASSPHRASE.decode()}
        if journal_url:
            env["CIVICCERT_JOURNAL_URL"] = journal_url
        launcher = ["-m", "civiccert.cli"]
        if profile:
            env["CIVICCERT_BENCH_PROFILE"] = profile
            launcher = [str(Path(__file__).with_name("_profile_serve.py"))]
        args = [sys.executable, *launcher, "--home", str(home), "serve", "--clients", str(clients.path),
                "--port", str(self.port), "--worker-interval", "0.2", "--workers", str(workers)]
        self.log = home.parent / "server.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited: " + self.log.read_text(errors="replace")[-2000:])
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        while workers > 1 and time.time() < deadline:  # the first worker answers before the others are up
            if self.log.read_text(errors="replace").count('"worker_process_serving"') >= workers:
                break
            time.sleep(0.2)

    def cpu(self) -> tuple[float, float]:
        """(user, system) CPU seconds used so far by the server process and its children (uvicorn's workers)."""
        return tree_cpu(self.proc.pid)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(60)


def issue_cpu(journal_url: str | None, n: int = 60) -> float:
    """CPU seconds of one ``Issuer.issue`` of the sample in this process (signing, paper twin, journal commits):
    the signing path's share of a request, the rest being the service's own work."""
    record = cc.load_record(cc.sample_record_path("household-matsudo.json"))
    with tempfile.TemporaryDirectory(prefix="civiccert-bench-") as folder:
        home = Path(folder) / "home"
        cc.Issuer.init(home, municipality_code="122076", municipality_name="松戸市", passphrase=PASSPHRASE).close()
        issuer = cc.Issuer.open(home, passphrase=PASSPHRASE, journal_url=journal_url)
        try:
            issuer.issue(record)
            start = time.process_time()
            for _ in range(n):
                issuer.issue(record)
            return (time.process_time() - start) / n
        finally:
            issuer.close()


def bench(backend: str, journal_url: str | None, workers: int, args: argparse.Namespace, es256: float, *,
          db_pid: int | None = None) -> None:  # fmt: skip
    budget = (os.cpu_count() or 1) / args.target  # CPU seconds per issue that the target leaves on this host
    sign_cpu = issue_cpu(journal_url)
    record = json.loads(cc.sample_record_path("household-matsudo.json").read_text(encoding="utf-8"))
    body = json.dumps({"records": [record] * args.batch} if args.batch else {"record": record}).encode()
    path = "/v1/credentials/batch" if args.batch else "/v1/credentials"
    with tempfile.TemporaryDirectory(prefix="civiccert-bench-") as folder:
        home = Path(folder) / "home"
        cc.Issuer.init(home, municipality_code="122076", municipality_name="松戸市", passphrase=PASSPHRASE).close()
        clients = Clients(Path(folder))
        token = clients.token("clerk", lifetime=300)
        server = BenchServer(home, clients, journal_url=journal_url, workers=workers, profile=args.profile)
        try:
            post_many("127.0.0.1", server.port, path, body, token, requests=max(8, args.concurrency * 2),
                      concurrency=args.concurrency, key_prefix="warm")  # connections, first publication
            if args.profile:
                os.kill(server.proc.pid, signal.SIGUSR1)  # count the measured requests only
                time.sleep(0.2)
            before = server.cpu()
            db_before = sum(tree_cpu(db_pid)) if db_pid else 0.0
            result = post_many("127.0.0.1", server.port, path, body, token, requests=args.requests,
                               concurrency=args.concurrency, key_prefix="bench")  # fmt: skip
            after = server.cpu()
            db_cpu = sum(tree_cpu(db_pid)) - db_before if db_pid else None
            server_user, server_system = after[0] - before[0], after[1] - before[1]
            server_cpu = server_user + server_system
        finally:
            server.stop()
    issues = args.requests * max(1, args.batch)
    rate = issues / result.wall
    ordered = sorted(result.latencies) or [float("nan")]
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(f"| {backend} | {workers} | {args.requests} | {args.batch or 1} | {args.concurrency} | {rate:,.0f} "
          f"| {statistics.median(ordered) * 1000:.1f} ms | {p99 * 1000:.1f} ms | {result.errors} "
          f"| {server_cpu / issues * 1000:.2f} ms | {server_system / issues * 1000:.2f} ms "
          f"| {sign_cpu * 1000:.2f} ms | {'—' if db_cpu is None else f'{db_cpu / issues * 1000:.2f} ms'} "
          f"| {result.client_cpu / issues * 1000:.2f} ms "
          f"| {(server_cpu + (db_cpu or 0.0) + result.client_cpu) / issues * 1000:.2f} ms | {budget * 1000:.2f} ms "
          f"| {es256:,.0f} | {rate / es256:.3f} |", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--batch", type=int, default=0, help="records per request, on the batch endpoint")
    parser.add_argument("--workers", default="1", help="server processes (serve --workers), e.g. 1,2")
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--pg-only", action="store_true")
    parser.add_argument("--target", type=float, default=1000.0, help="issues/s the CPU budget column is for")
    parser.add_argument("--profile", help="save a yappi pstats file of the (single) server process here")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    if args.profile and counts != [1]:
        parser.error("--profile needs --workers 1")
    es256, _ = es256_limits(n=1000)
    print("| journal | server processes | requests | records each | concurrent clients | issues/s | p50 | p99 "
          "| errors | server CPU / issue | of which kernel | of which Issuer.issue | database CPU / issue "
          "| client CPU / issue "
          "| server + database + client CPU / issue "
          f"| CPU budget / issue ({os.cpu_count()} cores ÷ {args.target:,.0f}/s) | ES256 signs/s (1 core) | fraction |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    if not args.pg_only:
        for workers in counts:
            bench("SQLite (home file)", None, workers, args, es256)
    if args.sqlite_only:
        return
    bin_dir = find_pg_bin()
    if bin_dir is None:
        print("| PostgreSQL | — | — | — | — | not installed | | | | | | | | | | | | |")
        return
    pg = PostgresServer(bin_dir).start()
    try:
        for workers in counts:
            bench("PostgreSQL 15 (127.0.0.1)", pg.new_database(), workers, args, es256, db_pid=pg.pid)
    finally:
        pg.stop()


if __name__ == "__main__":
    main()
