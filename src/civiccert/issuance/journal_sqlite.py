"""The issuance journal in one SQLite file: the single-host backend of
:class:`~civiccert.issuance.journal_sql.SqlJournal`.

WAL with ``synchronous=FULL`` (each commit is on disk before the method returns) and ``BEGIN IMMEDIATE``
writes, so it is safe for several threads and several processes on one host.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from civiccert.dbtx import Db
from civiccert.errors import JournalError, ReasonCode
from civiccert.issuance.journal_sql import SqlJournal

__all__ = ["SqliteJournal"]

_SCHEMA_VERSION = 1
_TYPES = {"serial": "INTEGER PRIMARY KEY AUTOINCREMENT", "int64": "INTEGER", "real": "REAL", "blob": "BLOB"}


class SqliteJournal(SqlJournal):
    """The journal in one SQLite file (WAL, synchronous=FULL): durable before each method returns.

    One connection per instance, serialised by a lock, so an instance may be shared by threads; other
    processes open their own instance on the same file and are serialised by ``BEGIN IMMEDIATE``.
    """

    def __init__(self, path: str | Path, *, busy_timeout: float = 30.0) -> None:
        self._lock = threading.RLock()
        self.path = str(path)  # where the database lives (anchoring_lease locks a file next to it)
        try:
            conn = sqlite3.connect(str(path), timeout=busy_timeout, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise JournalError(ReasonCode.JOURNAL_UNAVAILABLE, "journal database cannot be opened") from exc
        self._conn = conn
        try:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal" and str(path) != ":memory:":
                raise JournalError(ReasonCode.JOURNAL_UNAVAILABLE, "journal database cannot use WAL mode")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            with self._write() as db:
                version = db.one("PRAGMA user_version")[0]
                if version not in (0, _SCHEMA_VERSION):
                    raise JournalError(ReasonCode.JOURNAL_UNAVAILABLE, "journal schema version is unsupported")
                if version == 0:
                    self._create_schema(db, _TYPES)
                    db.run(f"PRAGMA user_version={_SCHEMA_VERSION}")
        except sqlite3.Error as exc:
            conn.close()
            raise JournalError(ReasonCode.JOURNAL_UNAVAILABLE, "journal database cannot be initialised") from exc
        except JournalError:
            conn.close()
            raise

    def _connection(self) -> sqlite3.Connection:
        return self._conn

    def _in(self, column: str, values: Sequence[str]) -> tuple[str, object]:
        """``column IN`` a JSON array: one parameter, however many values."""
        return f"{column} IN (SELECT value FROM json_each(%s))", json.dumps(list(values))  # noqa: S608

    def _assign_batch(self, db: Db, batch_id: int, credential_ids: Sequence[str]) -> int:
        return db.many(
            "UPDATE credentials SET batch_id = %s, leaf_index = %s WHERE credential_id = %s AND batch_id IS NULL",
            [(batch_id, index, cid) for index, cid in enumerate(credential_ids)],
        )

    def close(self) -> None:
        """Close the connection (checkpointing the WAL when this is the last one)."""
        with self._lock:
            self._conn.close()
