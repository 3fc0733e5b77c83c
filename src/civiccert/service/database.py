"""The connection the service's own tables use (idempotency and audit: service.store; wallet flows:
service.flowstore), in the SQLite file or PostgreSQL database of the journal: opened on first use, opened
again after PostgreSQL dropped it, one transaction at a time (civiccert.dbtx.session) with one SQL text for
both databases (civiccert.dbtx.Db)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from civiccert.dbtx import Db, session
from civiccert.issuance.journal_url import is_postgres_url

__all__ = ["ServiceDatabase"]


class ServiceDatabase:
    """``target``: a postgresql:// URL or a SQLite path (``sqlite://`` prefix allowed)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.pg = is_postgres_url(target)
        self._lock = threading.RLock()
        self._conn: Any = None

    def _connect(self) -> Any:
        if self.pg:
            import psycopg

            if self._conn is None or self._conn.closed or self._conn.broken:
                self._conn = psycopg.connect(self.target, autocommit=True, connect_timeout=10)
        elif self._conn is None:
            path = self.target.removeprefix("sqlite://")
            self._conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")  # the journal's file is: non-durable commits rely on it
            self._conn.execute("PRAGMA synchronous=FULL")
        return self._conn

    @contextmanager
    def tx(self, *, durable: bool = True) -> Iterator[Db]:
        """One committed transaction; driver errors become JournalError(JOURNAL_UNAVAILABLE). ``durable=False``:
        see :func:`civiccert.dbtx.transaction` (rows a later durable commit here makes durable)."""
        with session(self._lock, self._connect, pg=self.pg, what="service database failed", durable=durable) as db:
            yield db

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
