"""Where a municipality's status lists live between publications: one row per credential, in the journal file.

Tables are added beside the issuance journal's (``CREATE TABLE IF NOT EXISTS``: a journal made before status
lists keeps working and gains them on first open; the journal's own schema and version are untouched).

- ``status_entries``: credential id (the digital form; its paper twin shares the entry) -> (list uri, idx,
  status). The index is drawn at random (CSPRNG) among the free ones, so neighbours in a list say nothing
  about issuance order; the UNIQUE (uri, idx) constraint makes a collision a retry, never a shared index.
- ``status_publications``: each publication's manifest (the bytes whose SHA-256 is anchored), its root and,
  once on chain, the transaction and block.

A status change is committed (WAL, synchronous=FULL) before the method returns, like issuance.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from civiccert.errors import JournalError, ReasonCode
from civiccert.status.bits import Status, StatusList

__all__ = ["Publication", "StatusEntry", "StatusStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS status_entries (
    credential_id   TEXT PRIMARY KEY,
    list_uri        TEXT NOT NULL,
    idx             INTEGER NOT NULL CHECK (idx >= 0),
    status          INTEGER NOT NULL DEFAULT 0 CHECK (status BETWEEN 0 AND 3),
    changed_at      REAL NOT NULL,
    UNIQUE (list_uri, idx)
);
CREATE INDEX IF NOT EXISTS status_entries_set ON status_entries (list_uri) WHERE status != 0;
CREATE TABLE IF NOT EXISTS status_publications (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at      REAL NOT NULL,
    manifest        BLOB NOT NULL,
    root            BLOB NOT NULL CHECK (length(root) = 32),
    tx_hash         BLOB,
    block_number    INTEGER,
    last_error      TEXT
)
"""
_MAX_TRIES = 64


@dataclass(frozen=True, slots=True)
class StatusEntry:
    """A credential's place in a status list."""

    credential_id: str
    uri: str
    idx: int
    status: Status


@dataclass(frozen=True, slots=True)
class Publication:
    """One publication: the anchored manifest and where it stands on chain."""

    seq: int
    created_at: float
    manifest: bytes
    root: bytes
    tx_hash: bytes | None
    block_number: int | None
    last_error: ReasonCode | None


class StatusStore:
    """Status entries and publications in the journal's SQLite file."""

    def __init__(self, path: str | Path, *, list_size: int) -> None:
        if list_size < 16:
            raise ValueError("list_size must be at least 16")
        self.list_size = list_size
        self._lock = threading.RLock()
        try:
            self._conn = sqlite3.connect(str(path), timeout=30.0, isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            with self._write() as conn:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
        except sqlite3.Error as exc:
            raise JournalError(ReasonCode.JOURNAL_UNAVAILABLE, "status tables cannot be initialised") from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise JournalError(ReasonCode.JOURNAL_UNAVAILABLE, "status journal write failed") from exc

    def allocate(self, credential_id: str, uri: str, *, at: float | None = None) -> StatusEntry:
        """A random free index in ``uri``'s list for ``credential_id`` (the same one again on a retry)."""
        with self._write() as conn:
            row = conn.execute("SELECT list_uri, idx, status FROM status_entries WHERE credential_id = ?",
                               (credential_id,)).fetchone()
            if row is not None:
                return StatusEntry(credential_id, str(row[0]), int(row[1]), Status(row[2]))
            used = conn.execute("SELECT count(*) FROM status_entries WHERE list_uri = ?", (uri,)).fetchone()[0]
            if used >= self.list_size * 3 // 4:  # random draws get slow and the list loses its herd: roll over
                raise JournalError(ReasonCode.CONFIG_INVALID, "status list is 75% full: configure a new list uri",
                                   field="status_list_uri")
            for _ in range(_MAX_TRIES):
                idx = secrets.randbelow(self.list_size)
                try:
                    conn.execute("INSERT INTO status_entries (credential_id, list_uri, idx, changed_at)"
                                 " VALUES (?, ?, ?, ?)", (credential_id, uri, idx, time.time() if at is None else at))
                except sqlite3.IntegrityError:
                    continue
                return StatusEntry(credential_id, uri, idx, Status.VALID)
        raise JournalError(ReasonCode.JOURNAL_CONFLICT, "no free status list index found")

    def entry(self, credential_id: str) -> StatusEntry:
        with self._lock:
            row = self._conn.execute("SELECT list_uri, idx, status FROM status_entries WHERE credential_id = ?",
                                     (credential_id,)).fetchone()
        if row is None:
            raise JournalError(ReasonCode.CREDENTIAL_UNKNOWN, "credential has no status list entry",
                               field="credential_id")
        return StatusEntry(credential_id, str(row[0]), int(row[1]), Status(row[2]))

    def set_status(self, credential_id: str, status: Status, *, allowed_from: tuple[Status, ...]) -> StatusEntry:
        """Change a credential's status durably; ``JOURNAL_CONFLICT`` when its current status is not allowed
        (an INVALID credential stays INVALID: revocation is final)."""
        with self._write() as conn:
            row = conn.execute("SELECT list_uri, idx, status FROM status_entries WHERE credential_id = ?",
                               (credential_id,)).fetchone()
            if row is None:
                raise JournalError(ReasonCode.CREDENTIAL_UNKNOWN, "credential has no status list entry",
                                   field="credential_id")
            current = Status(row[2])
            if current is not status:
                if current not in allowed_from:
                    raise JournalError(ReasonCode.JOURNAL_CONFLICT, f"status {current.name} cannot become "
                                       f"{status.name}", field="status")
                conn.execute("UPDATE status_entries SET status = ?, changed_at = ? WHERE credential_id = ?",
                             (int(status), time.time(), credential_id))
        return StatusEntry(credential_id, str(row[0]), int(row[1]), status)

    def uris(self) -> list[str]:
        with self._lock:
            return [str(r[0]) for r in self._conn.execute(
                "SELECT DISTINCT list_uri FROM status_entries ORDER BY list_uri").fetchall()]

    def build(self, uri: str) -> StatusList:
        """The list for ``uri`` as it stands now (2 bits, ``list_size`` entries)."""
        statuses = StatusList(self.list_size, 2)
        with self._lock:
            for idx, status in self._conn.execute(
                    "SELECT idx, status FROM status_entries WHERE list_uri = ? AND status != 0", (uri,)):
                statuses[int(idx)] = int(status)
        return statuses

    def add_publication(self, manifest: bytes, root: bytes, *, at: float | None = None) -> Publication:
        with self._write() as conn:
            cursor = conn.execute("INSERT INTO status_publications (created_at, manifest, root) VALUES (?, ?, ?)",
                                  (time.time() if at is None else at, manifest, root))
            seq = int(cursor.lastrowid or 0)
        return self.publication(seq)

    def mark_publication(self, seq: int, *, tx_hash: bytes | None = None, block_number: int | None = None,
                         error: ReasonCode | None = None) -> Publication:
        with self._write() as conn:
            conn.execute("UPDATE status_publications SET tx_hash = coalesce(?, tx_hash), block_number = ?,"
                         " last_error = ? WHERE seq = ?",
                         (tx_hash, block_number, None if error is None else error.value, seq))
        return self.publication(seq)

    def next_seq(self) -> int:
        with self._lock:
            row = self._conn.execute("SELECT max(seq) FROM status_publications").fetchone()
        return int(row[0] or 0) + 1

    def publication(self, seq: int) -> Publication:
        with self._lock:
            row = self._conn.execute("SELECT seq, created_at, manifest, root, tx_hash, block_number, last_error"
                                     " FROM status_publications WHERE seq = ?", (seq,)).fetchone()
        if row is None:
            raise JournalError(ReasonCode.CREDENTIAL_UNKNOWN, "no such publication", field="seq")
        return Publication(int(row[0]), float(row[1]), bytes(row[2]), bytes(row[3]),
                           None if row[4] is None else bytes(row[4]), row[5],
                           None if row[6] is None else ReasonCode(row[6]))

    def close(self) -> None:
        with self._lock:
            self._conn.close()
