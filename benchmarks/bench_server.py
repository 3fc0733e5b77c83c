"""Issue requests per second through the HTTP API (``civiccert serve`` on 127.0.0.1), SQLite and PostgreSQL.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_server.py [--requests 400] [--concurrency 8] [--batch 0]
        [--workers 1]

One server (uvicorn, ``--workers`` processes, default 1; the anchoring worker on in one of them, no chain:
only status-list publication runs beside requests), clients in threads of this process on the same machine
(they share its cores). Each request issues the shipped 4-member 住民票 sample (SD-JWT + paper twin,
journaled durably before the answer); with ``--batch N`` each request posts N of them to /v1/credentials/batch instead.
Prints a Markdown table (copied into docs/benchmarks.md). PostgreSQL is skipped when it is not
installed (scripts/setup installs it).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

import civiccert as cc

_TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path[:0] = [str(_TESTS), str(_TESTS / "service")]  # the tests' PostgreSQL and server kits
from pgkit import PostgresServer, find_pg_bin  # noqa: E402
from servicekit import Clients, Server  # noqa: E402

PASSPHRASE = b"bench passphrase"


def run(server: Server, clients: Clients, requests: int, concurrency: int,
        batch: int = 0) -> tuple[float, float, float, int]:  # fmt: skip
    """(issues/s, p50 ms, p99 ms, errors) of ``requests`` requests (each of ``batch`` records if > 0)."""
    record = json.loads(cc.sample_record_path("household-matsudo.json").read_text(encoding="utf-8"))
    body = json.dumps({"records": [record] * batch} if batch else {"record": record}).encode()
    path = "/v1/credentials/batch" if batch else "/v1/credentials"
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    counter = iter(range(requests))

    def client(n: int) -> None:
        token = clients.token("clerk", lifetime=300)
        with httpx.Client(base_url=server.url, timeout=60) as http:
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": f"bench-{n}-{i}-{time.time_ns()}",
                           "Content-Type": "application/json"}
                start = time.perf_counter()
                response = http.post(path, content=body, headers=headers)
                elapsed = time.perf_counter() - start
                with lock:
                    latencies.append(elapsed)
                    errors[0] += response.status_code != 201

    threads = [threading.Thread(target=client, args=(n,)) for n in range(concurrency)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return requests * max(1, batch) / wall, statistics.median(ordered) * 1000, p99 * 1000, errors[0]


def _wait_for_processes(server: Server, workers: int) -> None:
    """Until every worker process has started (the first one answers /healthz before the others are up)."""
    deadline = time.time() + 60
    while workers > 1 and time.time() < deadline:
        if server.log.read_text(errors="replace").count('"worker_process_serving"') >= workers:
            return
        time.sleep(0.2)


def bench(backend: str, journal_url: str | None, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="civiccert-bench-") as folder:
        home = Path(folder) / "home"
        cc.Issuer.init(home, municipality_code="122076", municipality_name="松戸市", passphrase=PASSPHRASE).close()
        clients = Clients(Path(folder))
        server = Server(home, clients, passphrase=PASSPHRASE, journal_url=journal_url,
                        extra_args=("--workers", str(args.workers)))
        try:
            _wait_for_processes(server, args.workers)
            run(server, clients, 20, 2)  # warm-up: connections, first publication
            rate, p50, p99, errors = run(server, clients, args.requests, args.concurrency, args.batch)
        finally:
            server.stop()
    print(f"| {backend} | {args.workers} | {args.requests} | {args.batch or 1} | {args.concurrency} | {rate:,.0f} "
          f"| {p50:.1f} ms | {p99:.1f} ms | {errors} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--batch", type=int, default=0, help="records per request, on the batch endpoint")
    parser.add_argument("--workers", type=int, default=1, help="server processes (serve --workers)")
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()
    print("| journal | server processes | requests | records each | concurrent clients | issues/s | p50 | p99 "
          "| errors |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    bench("SQLite (home file)", None, args)
    if args.sqlite_only:
        return
    bin_dir = find_pg_bin()
    if bin_dir is None:
        print("| PostgreSQL | — | — | — | — | not installed | | | |")
        return
    pg = PostgresServer(bin_dir).start()
    try:
        bench("PostgreSQL 15 (127.0.0.1)", pg.new_database(), args)
    finally:
        pg.stop()


if __name__ == "__main__":
    main()
