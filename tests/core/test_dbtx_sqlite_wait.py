"""A SQLite writer waits for another process's write lock by short polls (dbtx.transaction), within its
connection's busy timeout, and gets "database is locked" after it; the timeout itself is left as it was."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from civiccert.dbtx import transaction


def _connect(path: Path, timeout: float) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    return conn


def _hold_lock(path: Path, seconds: float, held: threading.Event) -> None:
    other = _connect(path, 5)
    with transaction(other, pg=False):
        other.execute("INSERT INTO t VALUES (1)")
        held.set()
        time.sleep(seconds)
    other.close()


def _behind_a_writer(path: Path, timeout: float, hold: float) -> tuple[sqlite3.Connection, threading.Thread]:
    """A connection (busy timeout ``timeout``) to a database whose write lock another connection holds for
    ``hold`` seconds from now."""
    conn = _connect(path, timeout)
    conn.execute("CREATE TABLE t (x INTEGER)")
    held = threading.Event()
    holder = threading.Thread(target=_hold_lock, args=(path, hold, held))
    holder.start()
    assert held.wait(10)
    return conn, holder


def test_a_writer_gets_the_lock_once_it_is_free_and_keeps_its_busy_timeout(tmp_path: Path) -> None:
    conn, holder = _behind_a_writer(tmp_path / "db.sqlite", 5, 0.3)
    started = time.monotonic()
    with transaction(conn, pg=False):
        conn.execute("INSERT INTO t VALUES (2)")
    waited = time.monotonic() - started
    holder.join()
    assert 0.1 < waited < 4.5, waited  # it waited for the other writer, and not for its whole timeout
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 2
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000


def test_a_lock_held_past_the_busy_timeout_is_database_is_locked(tmp_path: Path) -> None:
    conn, holder = _behind_a_writer(tmp_path / "db.sqlite", 0.2, 1.5)
    started = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="locked"), transaction(conn, pg=False):
        conn.execute("INSERT INTO t VALUES (2)")
    assert time.monotonic() - started < 1.4  # gave up at its own deadline, before the lock was released
    holder.join()
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 200
    assert not conn.in_transaction
