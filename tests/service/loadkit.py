"""Cheap load clients and fault probes for tests/service/test_load_fault.py.

The clients share 2 cores with the servers, so they keep one keep-alive ``httpx.Client`` per thread and server
(never a new connection per request) and sign one bearer token a minute instead of one per request.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from civiccert.issuance.journal_pg import ANCHOR_LOCK_KEY

from servicekit import Clients, Server

TOKEN_REFRESH_SECONDS = 60.0  # well inside the token lifetime the servers accept
KEEP_ALIVE_SECONDS = 3.0  # below uvicorn's 5 s keep-alive timeout


class Connections:
    """Per thread, one keep-alive connection per server; a broken one is dropped and reopened on next use.

    The standard library's ``http.client`` costs the client a fraction of httpx's CPU per request, which the
    servers get instead.
    """

    def __init__(self, clients: Clients, role: str = "clerk") -> None:
        self._clients = clients
        self._role = role
        self._local = threading.local()
        self._lock = threading.Lock()
        self._token = ""
        self._token_at = -TOKEN_REFRESH_SECONDS
        self._all: list[http.client.HTTPConnection] = []

    def _bearer(self) -> str:
        with self._lock:
            if time.monotonic() - self._token_at > TOKEN_REFRESH_SECONDS:
                self._token = self._clients.token(self._role, lifetime=240)
                self._token_at = time.monotonic()
            return self._token

    def post(self, server: Server, path: str, body: bytes, idempotency_key: str) -> tuple[int, Any]:
        """(status, parsed JSON body); ``TransportError`` when the server cannot be reached or hangs up.

        A connection idle for longer than the server keeps it (uvicorn closes it after 5 s) is reopened before
        use, as HTTP client pools do, so that a hang-up means the server failed, not a keep-alive race.
        """
        pool: dict[int, tuple[http.client.HTTPConnection, float]] = self._local.__dict__.setdefault("pool", {})
        conn, used_at = pool.get(server.port, (None, 0.0))
        if conn is not None and time.monotonic() - used_at > KEEP_ALIVE_SECONDS:
            conn.close()
            conn = None
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
            with self._lock:
                self._all.append(conn)
        headers = {"Authorization": f"Bearer {self._bearer()}", "Idempotency-Key": idempotency_key,
                   "Content-Type": "application/json"}  # fmt: skip
        try:
            conn.request("POST", path, body, headers)
            response = conn.getresponse()
            answer = response.status, json.loads(response.read())
        except (OSError, http.client.HTTPException) as exc:
            pool.pop(server.port, None)
            conn.close()
            raise TransportError(f"{server.url}: {type(exc).__name__}") from exc
        pool[server.port] = (conn, time.monotonic())
        return answer

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()


class TransportError(Exception):
    """No HTTP answer from a server (refused, reset, closed mid-response)."""


@dataclass
class Tally:
    """What the clients saw, shared between their threads (mutated under ``lock``)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    accepted: dict[str, dict[str, Any]] = field(default_factory=dict)  # idempotency key -> credential
    accepted_at: list[float] = field(default_factory=list)  # monotonic time of each first 201
    replays: int = 0  # retries of an accepted key (on another server) that returned the same credential
    conflicts: int = 0  # 409 IDEMPOTENCY_IN_PROGRESS answers (retried)
    transport_errors: list[tuple[str, str, float]] = field(default_factory=list)  # (URL, error, monotonic time)
    server_errors: list[tuple[int, str]] = field(default_factory=list)  # any 5xx: (status, reason code)
    other: list[tuple[int, str]] = field(default_factory=list)  # any other unexpected answer

    def count(self) -> int:
        with self.lock:
            return len(self.accepted)


def anchoring_lease_holder(journal_url: str, servers: Sequence[Server], timeout: float = 5.0) -> Server | None:
    """The server holding the anchoring advisory lock right now (None if nobody took it within ``timeout``).

    PostgreSQL names the holder's client port; the server process owning that socket is found in /proc.
    """
    deadline = time.monotonic() + timeout
    with psycopg.connect(journal_url, autocommit=True) as db:
        while time.monotonic() < deadline:
            row = db.execute(
                "SELECT a.client_port FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s",
                (ANCHOR_LOCK_KEY >> 32, ANCHOR_LOCK_KEY & 0xFFFFFFFF),
            ).fetchone()
            if row is not None and row[0] is not None:
                inode = _socket_inode(int(row[0]))
                owner = next((s for s in servers if inode is not None and _owns(s.proc.pid, inode)), None)
                if owner is not None:
                    return owner
            time.sleep(0.01)
    return None


def _socket_inode(local_port: int) -> str | None:
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            parts = line.split()
            if int(parts[1].rsplit(":", 1)[1], 16) == local_port:
                return parts[9]
    return None


def _owns(pid: int, inode: str) -> bool:
    target = f"socket:[{inode}]"
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                return True
        except OSError:
            continue
    return False
