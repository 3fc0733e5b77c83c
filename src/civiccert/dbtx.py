"""One write transaction on either journal backend, for the stores that live beside the journal (the service's
idempotency/audit store, the status-list store): one place for BEGIN IMMEDIATE / COMMIT / ROLLBACK on SQLite,
``conn.transaction()`` on PostgreSQL, and driver errors turned into JournalError(JOURNAL_UNAVAILABLE)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from civiccert.errors import JournalError, ReasonCode

__all__ = ["driver_errors", "transaction"]


@contextmanager
def driver_errors(what: str) -> Iterator[None]:
    """A psycopg or sqlite3 error inside becomes JournalError(JOURNAL_UNAVAILABLE, ``what``); ours pass."""
    try:
        yield
    except JournalError:
        raise
    except Exception as exc:
        if type(exc).__module__.startswith(("psycopg", "sqlite3")):
            raise JournalError(ReasonCode.JOURNAL_UNAVAILABLE, what) from exc
        raise


@contextmanager
def transaction(conn: Any, *, pg: bool) -> Iterator[None]:
    """Commit what the block does on ``conn``, or roll it back when the block raises."""
    if pg:
        with conn.transaction():
            yield
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
