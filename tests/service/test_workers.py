"""``civiccert serve --workers 2`` on the SQLite home journal, through real HTTP.

Each process listens on its own socket of the port (the kernel picks one per connection), so concurrent requests
and their retries land on either: every accepted request must be journaled exactly once and anchored exactly once (by
the one process holding the worker role), a retry with the same Idempotency-Key must return the same
credential whichever process answers it, and SIGTERM must stop everything with exit code 0.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

import civiccert as cc
from civiccert.issuance.home import HomeConfig

from servicekit import Server, hand_over
from worldkit import PASSPHRASE, make_world

REQUESTS = 200  # every fourth one is retried with its key on a new connection


def _pending(db: sqlite3.Connection) -> int:
    row = db.execute("SELECT count(*) FROM credentials c LEFT JOIN batches b ON b.batch_id = c.batch_id"
                     " WHERE c.kind = 'digital' AND (b.state IS NULL OR b.state != 'anchored')").fetchone()
    return int(row[0])


@pytest.mark.slow
def test_two_worker_processes_issue_concurrently_and_one_anchors(tmp_path: Path, anvil_chain: cc.Chain) -> None:
    world = make_world(tmp_path, chain=anvil_chain)
    clients = hand_over(world, tmp_path, batch_age=1)
    server = Server(world.home, clients, passphrase=PASSPHRASE, extra_args=("--workers", "2"))
    record = json.loads(cc.sample_record_path("household-matsudo.json").read_text(encoding="utf-8"))
    token = clients.token("clerk", lifetime=300)

    def issue(n: int) -> tuple[str, str]:
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": f"workers-{n:05d}"}
        first = httpx.post(server.url + "/v1/credentials", json={"record": record}, headers=headers, timeout=60)
        assert first.status_code == 201, first.text
        if n % 4:
            return first.json()["credential"]["id"], first.json()["credential"]["id"]
        again = httpx.post(server.url + "/v1/credentials", json={"record": record}, headers=headers, timeout=60)
        assert again.status_code in (200, 201), again.text  # a new connection: either process answers
        return first.json()["credential"]["id"], again.json()["credential"]["id"]

    try:
        with ThreadPoolExecutor(16) as pool:
            pairs = list(pool.map(issue, range(REQUESTS)))
        with sqlite3.connect(HomeConfig.journal_path(world.home)) as db:
            deadline = time.time() + 30
            while _pending(db) and time.time() < deadline:
                time.sleep(0.3)
            ids = [first for first, _ in pairs]
            marks = ",".join("?" * len(ids))
            rows = db.execute(f"SELECT c.credential_id, b.state FROM credentials c LEFT JOIN batches b"
                              f" ON b.batch_id = c.batch_id WHERE c.credential_id IN ({marks})", ids).fetchall()
            batches = db.execute("SELECT tx_hash, state FROM batches").fetchall()
            digital = db.execute("SELECT count(*) FROM credentials WHERE kind = 'digital'").fetchone()[0]
    finally:
        code = server.stop()
    log = server.log.read_text(errors="replace")
    assert code == 0, log[-3000:]
    assert "Traceback" not in log
    assert all(first == again for first, again in pairs)  # idempotent retries: the same credential
    assert len(set(ids)) == REQUESTS
    assert digital == REQUESTS
    assert len(rows) == REQUESTS
    assert {state for _, state in rows} == {"anchored"}
    assert batches
    assert len({tx for tx, _ in batches}) == len(batches)
    events = [(e["event"], e.get("pid")) for e in map(json.loads, log.splitlines()) if "pid" in e]
    assert len({pid for event, pid in events if event == "worker_process_serving"}) == 2  # two processes served
    assert sum(event == "worker_process_stopped" for event, _ in events) == 2  # both stopped cleanly on SIGTERM
    holders = [pid for event, pid in events if event == "worker_role_acquired"]
    assert holders  # one process ran the anchoring worker (it anchored everything above) ...
    released = events.index(("worker_role_released", holders[0]))
    # ... and only it: the other may take the role over only once the holder let go of it (during shutdown)
    assert all(events.index(("worker_role_acquired", pid)) > released for pid in holders[1:])


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = fd.readlink().name
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def _listening(port: int) -> set[int]:
    """The inodes of the TCP sockets listening on ``port`` (IPv4)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":
            inodes.add(int(fields[9]))
    return inodes


async def _burst(port: int, count: int, pids: set[int]) -> dict[int, int]:
    """Open ``count`` keep-alive connections concurrently (as a gateway's pool or a load test does), each
    answered once; while they are all open, how many sockets each of ``pids`` gained."""
    before = {pid: len(_socket_inodes(pid)) for pid in pids}

    async def one() -> asyncio.StreamWriter:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        await writer.drain()
        assert (await reader.read(4096)).startswith(b"HTTP/1.1 200")
        return writer

    writers = await asyncio.gather(*(one() for _ in range(count)))
    gained = {pid: len(_socket_inodes(pid)) - before[pid] for pid in pids}
    for writer in writers:
        writer.close()
    return gained


def test_each_process_listens_on_its_own_socket_a_burst_is_spread_and_a_dead_one_replaced(tmp_path: Path) -> None:
    # uvicorn's one shared socket let one process accept 31-32 of the benchmark's 32 connections, opened at
    # once, in three runs of three (docs/benchmarks.md); with one SO_REUSEPORT socket each the kernel spreads them
    world = make_world(tmp_path)
    clients = hand_over(world, tmp_path)
    server = Server(world.home, clients, passphrase=PASSPHRASE, worker=False, extra_args=("--workers", "2"))
    try:
        deadline = time.time() + 60
        children: set[int] = set()
        while time.time() < deadline and len(children) < 2:
            time.sleep(0.1)
            events = map(json.loads, server.log.read_text(errors="replace").splitlines())
            children = {e["pid"] for e in events if e.get("event") == "worker_process_serving"}
        listening = _listening(server.port)
        owners = {pid: _socket_inodes(pid) & listening for pid in children}
        opened = asyncio.run(_burst(server.port, 24, children))
        killed = min(children)
        os.kill(killed, signal.SIGKILL)  # a process that dies is replaced
        serving = children
        while time.time() < deadline + 60 and len(serving) < 3:
            time.sleep(0.1)
            events = map(json.loads, server.log.read_text(errors="replace").splitlines())
            serving = {e["pid"] for e in events if e.get("event") == "worker_process_serving"}
        assert httpx.get(server.url + "/healthz", timeout=10).status_code == 200
    finally:
        code = server.stop()
    assert code == 0
    assert len(serving) == 3, "no new process after one was killed"
    log = server.log.read_text(errors="replace")
    assert '"event": "worker_process_died"' in log
    assert "Traceback" not in log
    assert len(listening) == 2
    assert sorted(len(inodes) for inodes in owners.values()) == [1, 1]
    assert len(set.union(*owners.values())) == 2  # not one shared socket
    assert min(opened.values()) >= 4, opened  # hashed by the kernel: fewer than 4 of 24 has p < 0.0003
