"""``durable=False`` transactions (dbtx.transaction): committed and visible at once, without waiting for the disk,
scoped to that one transaction (the connection is back to synchronous=FULL after it, also when it fails), and
used only where a later durable commit on the same database covers the rows (reservations, index allocations)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from civiccert.dbtx import transaction
from civiccert.service.store import ServiceStore
from civiccert.status.bits import Status
from civiccert.status.store import open_status_store

from pgkit import PostgresServer

_NORMAL, _FULL = 1, 2


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
    return conn


def _synchronous(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA synchronous").fetchone()[0])


def test_sqlite_non_durable_commit_is_visible_and_scoped(tmp_path: Path) -> None:
    conn = _connect(tmp_path / "db.sqlite")
    with transaction(conn, pg=False, durable=False):
        conn.execute("INSERT INTO t VALUES (1)")
        inside = _synchronous(conn)
    assert inside == _NORMAL
    assert _synchronous(conn) == _FULL
    other = sqlite3.connect(tmp_path / "db.sqlite")
    assert other.execute("SELECT x FROM t").fetchall() == [(1,)]

    def failing_block() -> None:
        with transaction(conn, pg=False, durable=False):
            conn.execute("INSERT INTO t VALUES (2)")
            raise RuntimeError("the block fails")

    with pytest.raises(RuntimeError):
        failing_block()
    assert _synchronous(conn) == _FULL
    assert other.execute("SELECT x FROM t").fetchall() == [(1,)]  # rolled back
    with transaction(conn, pg=False):
        assert _synchronous(conn) == _FULL  # the default stays durable


def test_postgres_non_durable_commit_is_scoped_to_its_transaction(postgres: PostgresServer) -> None:
    import psycopg

    with psycopg.connect(postgres.new_database(), autocommit=True) as conn:
        conn.execute("CREATE TABLE t (x INTEGER)")
        with transaction(conn, pg=True, durable=False):
            conn.execute("INSERT INTO t VALUES (1)")
            inside = conn.execute("SHOW synchronous_commit").fetchone()
        assert inside == ("off",)
        assert conn.execute("SHOW synchronous_commit").fetchone() == ("on",)
        assert conn.execute("SELECT x FROM t").fetchall() == [(1,)]


def _statements(conn: sqlite3.Connection) -> list[str]:
    seen: list[str] = []
    conn.set_trace_callback(seen.append)
    return seen


def test_service_store_reserves_without_fsync_and_answers_durably(tmp_path: Path) -> None:
    store = ServiceStore(str(tmp_path / "journal.sqlite"))
    seen = _statements(store._db._connect())  # watching what reaches SQLite
    assert store.begin_many([("clerk", "key-1", "digest"), ("clerk", "key-2", "digest")]) == [None, None]
    reserve, seen[:] = list(seen), []
    store.finish_many([])
    store.finish("clerk", "key-1", 201, {"ok": True})
    assert "PRAGMA synchronous=NORMAL" in reserve
    assert reserve.index("PRAGMA synchronous=NORMAL") < reserve.index("BEGIN IMMEDIATE")
    assert "COMMIT" in seen
    assert "PRAGMA synchronous=NORMAL" not in seen  # the response waits for the disk
    replay = store.begin("clerk", "key-1", "digest")
    assert replay is not None
    assert replay.status == 201


class _ElsewhereJournal:
    """A journal that does not say where it lives: the status store cannot rely on its commits."""


def test_status_allocations_skip_the_fsync_only_in_the_journals_own_database(tmp_path: Path) -> None:
    class _Journal:
        path = tmp_path / "journal.sqlite"

    shared = open_status_store(_Journal(), tmp_path / "default.sqlite", list_size=1024)
    alone = open_status_store(_ElsewhereJournal(), tmp_path / "default.sqlite", list_size=1024)
    for store, expected in ((shared, True), (alone, False)):
        seen = _statements(store._connection())
        store.allocate_many(["c1", "c2"], "https://example.jp/status/1")
        assert ("PRAGMA synchronous=NORMAL" in seen) is expected
        seen.clear()
        store.set_status("c1", Status.INVALID, allowed_from=(Status.VALID,))
        assert "COMMIT" in seen
        assert "PRAGMA synchronous=NORMAL" not in seen  # a revocation waits for the disk
        store.close()
