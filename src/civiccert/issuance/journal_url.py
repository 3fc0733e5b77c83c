"""Choose the journal by where it lives: a file path (SQLite, the embedded default) or a PostgreSQL URL.

Also :func:`anchoring_lease`: anchoring is done by one process at a time, whichever journal it is. On
PostgreSQL that is a session advisory lock (several hosts); on SQLite an exclusive ``flock`` on a file next
to the database (several processes on one host). Both are released by the kernel/server if the holder dies.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from civiccert.errors import JournalError, ReasonCode
from civiccert.issuance.journal import Journal
from civiccert.issuance.journal_sqlite import SqliteJournal

__all__ = ["anchoring_lease", "is_postgres_url", "open_journal"]


def is_postgres_url(target: str | Path) -> bool:
    """Whether ``target`` names a PostgreSQL database (``postgresql://`` or ``postgres://``)."""
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def open_journal(target: str | Path) -> Journal:
    """Open the journal at ``target``: a ``postgresql://`` URL, a ``sqlite:///path`` URL, or a file path."""
    if is_postgres_url(target):
        try:
            from civiccert.issuance.journal_pg import PgJournal
        except ImportError as exc:  # psycopg is in the ``server`` extra
            raise JournalError(ReasonCode.JOURNAL_UNAVAILABLE, "PostgreSQL support needs civiccert[server]") from exc
        return PgJournal(str(target))
    text = str(target)
    if text.startswith("sqlite:///"):
        text = text.removeprefix("sqlite://")
    elif "://" in text:
        raise JournalError(ReasonCode.JOURNAL_UNAVAILABLE, "unsupported journal URL scheme", field="journal_url")
    return SqliteJournal(text)


@contextmanager
def anchoring_lease(journal: Journal) -> Iterator[bool]:
    """Yield True while this process is the only one anchoring through ``journal``, False when another is."""
    pg_lease = getattr(journal, "anchoring_lease", None)
    if pg_lease is not None:
        with pg_lease() as held:
            yield bool(held)
        return
    path = getattr(journal, "path", None)
    if path is None:  # an in-memory or foreign journal: nothing to share with
        yield True
        return
    with open(f"{path}.anchor-lock", "a+b") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
