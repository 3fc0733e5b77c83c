"""One transaction on either database backend, for the journal and the stores that live beside it (the
service's idempotency/audit store, the status-list store): one place for BEGIN IMMEDIATE / COMMIT / ROLLBACK
on SQLite, ``conn.transaction()`` on PostgreSQL, driver errors turned into JournalError, and :class:`Db`, one
SQL text for both (``%s`` placeholders, rewritten to ``?`` for SQLite)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from civiccert.errors import JournalError, ReasonCode

__all__ = ["Db", "driver_errors", "session", "transaction"]

_UNIQUE_VIOLATION = "23505"  # PostgreSQL's SQLSTATE for a duplicate key


@contextmanager
def driver_errors(what: str, *, conflict: str | None = None) -> Iterator[None]:
    """A psycopg or sqlite3 error inside becomes JournalError(JOURNAL_UNAVAILABLE, ``what``); ours pass.

    With ``conflict``, a duplicate key (an entry another writer journaled first) becomes JOURNAL_CONFLICT.
    """
    try:
        yield
    except JournalError:
        raise
    except Exception as exc:
        if conflict is not None and (
            isinstance(exc, sqlite3.IntegrityError) or getattr(exc, "sqlstate", None) == _UNIQUE_VIOLATION
        ):
            raise JournalError(ReasonCode.JOURNAL_CONFLICT, conflict) from exc
        if type(exc).__module__.startswith(("psycopg", "sqlite3")):
            raise JournalError(ReasonCode.JOURNAL_UNAVAILABLE, what) from exc
        raise


@contextmanager
def transaction(conn: Any, *, pg: bool, write: bool = True, durable: bool = True) -> Iterator[None]:
    """Commit what the block does on ``conn``, or roll it back when the block (or the commit) fails.

    On SQLite a write transaction takes the write lock up front (``BEGIN IMMEDIATE``), so read-then-write
    cannot race with another process; a read one (``write=False``) is a plain snapshot that blocks nobody.

    ``durable=False`` commits without waiting for the disk (SQLite, whose connection must be in WAL mode: no
    fsync; PostgreSQL: ``synchronous_commit`` off for this transaction). Only for rows that promise nothing to
    anyone until a later durable commit on the same database, which makes them durable too: both databases
    write their log in order and a sync covers everything before it (an idempotency reservation before its
    response, status indexes before the journal entries that hand the credentials out). A crash may forget
    such rows, never keep a later durable commit without them. The other writers then wait one fsync less
    for the lock.
    """
    if pg:
        with conn.transaction():
            if not durable:
                conn.execute("SET LOCAL synchronous_commit TO off")
            yield
        return
    if not durable:
        conn.execute("PRAGMA synchronous=NORMAL")  # per connection, outside a transaction; restored below
    busy_timeout_ms = None
    try:
        if write:
            busy_timeout_ms = _begin_immediate(conn)
        else:
            conn.execute("BEGIN")
        try:
            yield
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # a failed COMMIT may have rolled back already
                conn.execute("ROLLBACK")
            raise
    finally:  # after the lock is released: each statement under it may wait for the GIL
        if busy_timeout_ms is not None:
            conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
        if not durable:
            conn.execute("PRAGMA synchronous=FULL")


_FIRST_POLL = 0.0001
_LONGEST_POLL = 0.002


def _begin_immediate(conn: sqlite3.Connection) -> int:
    """``BEGIN IMMEDIATE``, waiting for another writer (another process on the same file) by short polls; the
    connection's busy timeout, set to 0 for it, which the caller restores once the transaction is over (a
    statement inside a write transaction never waits for a lock, and the restore then costs no GIL wait
    under the lock).

    SQLite's own busy handler sleeps 1, 2, 5, 10 … 100 ms between tries, so with two server processes on one
    file a writer often slept long after the lock was free (p99 in the hundreds of ms). Here the connection's
    busy timeout is the deadline, the waits are 0.1 ms doubling to 2 ms, and a lock that outlives the
    deadline still raises SQLite's "database is locked".
    """
    timeout_ms = int(conn.execute("PRAGMA busy_timeout").fetchone()[0])
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        deadline = time.monotonic() + timeout_ms / 1000
        delay = _FIRST_POLL
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return timeout_ms
            except sqlite3.OperationalError as exc:
                if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() >= deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, _LONGEST_POLL)
    except BaseException:
        conn.execute(f"PRAGMA busy_timeout = {timeout_ms}")
        raise


@contextmanager
def session(
    lock: Any,
    connect: Callable[[], Any],
    *,
    pg: bool,
    what: str,
    write: bool = True,
    durable: bool = True,
    conflict: str | None = None,
) -> Iterator[Db]:
    """Under ``lock``, one :func:`transaction` on ``connect()``'s connection, with :func:`driver_errors` around it."""
    with lock, driver_errors(what, conflict=conflict):
        conn = connect()
        with transaction(conn, pg=pg, write=write, durable=durable):
            yield Db(conn, pg=pg)


class Db:
    """A connection of either backend behind one SQL text: ``%s`` placeholders, rewritten to ``?`` for SQLite."""

    def __init__(self, conn: Any, *, pg: bool) -> None:
        self._conn = conn
        self._pg = pg

    def _sql(self, sql: str) -> str:
        return sql if self._pg else sql.replace("%s", "?")

    def _execute(self, sql: str, params: Sequence[object]) -> Any:
        return self._conn.execute(self._sql(sql), params)

    def run(self, sql: str, params: Sequence[object] = ()) -> int:
        """Execute; the number of rows changed."""
        return int(self._execute(sql, params).rowcount)

    def many(self, sql: str, rows: Iterable[Sequence[object]]) -> int:
        """Execute once per row (one round trip on PostgreSQL: psycopg pipelines it); the rows changed in all."""
        cursor = self._conn.cursor()
        try:
            cursor.executemany(self._sql(sql), rows)
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def one(self, sql: str, params: Sequence[object] = ()) -> Any:
        """The first row, or None."""
        return self._execute(sql, params).fetchone()

    def all(self, sql: str, params: Sequence[object] = ()) -> list[Any]:
        """All rows (the statement is run to its end: use it for ``INSERT … RETURNING`` on SQLite)."""
        return list(self._execute(sql, params).fetchall())
