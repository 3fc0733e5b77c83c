"""Durable issuance outbox: every issued credential is journaled before ``issue`` returns.

Nothing issued may ever be lost, and nothing may be anchored twice, so the journal is the single source
of truth for where each credential stands, and every step towards the chain is written here BEFORE it is
taken (the outbox pattern):

    credential:  pending ──create_batch──▶ batched ──(its batch anchored)──▶ anchored
    batch:       built ──mark_sent──▶ sent ──mark_anchored──▶ anchored
                   ▲                    │ ▲                      │
                   └────mark_unsent─────┘ └────mark_unanchored───┘   (nonce taken / chain reorg)
    revocation:  requested ──mark_revocation_sent──▶ sent ──mark_revocation_confirmed──▶ confirmed
                   └───────────────mark_revocation_confirmed────────────▶ (a repeat is a no-op on chain)

A credential's state is derived from its batch (no second copy that could disagree). ``sent`` means "the
signed raw transaction is durable here and may or may not have reached a node": after a crash it is
re-broadcast byte for byte, never re-signed while it could still be mined. A failed attempt leaves the
state as it is and records ``attempts``, ``next_attempt_at`` (backoff) and ``last_error`` (a ReasonCode,
never a message), shown as ``failed`` in :meth:`Journal.status_counts`.

The journal holds no personal data: only random ids, 32-byte hashes, states, transactions and times.

``Journal`` is the interface (state transitions, no SQL); ``SqliteJournal`` the single-host
implementation (WAL, ``synchronous=FULL``, ``BEGIN IMMEDIATE``; safe for several threads and processes on
one host). Every transition is a compare-and-set on the expected state, so two workers racing on the same
batch cannot both win: the loser gets ``JournalError(JOURNAL_CONFLICT)``. A PostgreSQL implementation for
several hosts keeps the same Protocol with ``SELECT … FOR UPDATE`` / conditional ``UPDATE``.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

from civiccert.errors import JournalError, ReasonCode

__all__ = [
    "BatchRecord",
    "BatchState",
    "CredentialEntry",
    "CredentialKind",
    "CredentialRecord",
    "CredentialState",
    "Journal",
    "ReceiptInputs",
    "RevocationRecord",
    "RevocationState",
    "SqliteJournal",
    "new_credential_id",
    "new_credential_ids",
]

_HASH_SIZE = 32
_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{8,64}")
_SCHEMA_VERSION = 1
_T = TypeVar("_T")


class CredentialKind(StrEnum):
    """Which form of a certificate a journaled hash belongs to."""

    DIGITAL = "digital"  # the SD-JWT VC; hash of the issuer-signed JWT
    PAPER = "paper"  # the compact signed QR form; hash of its COSE Sig_structure


class CredentialState(StrEnum):
    """Where a credential stands; derived from its batch."""

    PENDING = "pending"  # journaled, in no batch yet
    BATCHED = "batched"  # in a batch whose root is not anchored (yet, or any more after a reorg)
    ANCHORED = "anchored"  # its batch root is anchored on chain


class BatchState(StrEnum):
    """Where a batch stands on its way to the chain."""

    BUILT = "built"  # root journaled, no transaction signed yet
    SENT = "sent"  # signed raw transaction journaled; it may or may not have reached a node
    ANCHORED = "anchored"  # receipt seen (with the configured confirmations)


class RevocationState(StrEnum):
    """Where a revocation request stands."""

    REQUESTED = "requested"  # journaled, no transaction signed yet
    SENT = "sent"  # signed raw transaction journaled
    CONFIRMED = "confirmed"  # receipt seen


def new_credential_id() -> str:
    """A fresh credential id: 128 random bits, lowercase base32 without padding (26 characters)."""
    return base64.b32encode(secrets.token_bytes(16)).decode("ascii").rstrip("=").lower()


def new_credential_ids(count: int) -> list[str]:
    """``count`` fresh ids as ``new_credential_id`` makes them, from one CSPRNG read and one base32 call.

    Each 16 random bytes get 4 zero bytes (20 bytes: whole base32 groups), so their first 26 characters are
    exactly the unpadded encoding of the 16 bytes.
    """
    raw = secrets.token_bytes(16 * count)
    text = base64.b32encode(b"".join(raw[i : i + 16] + b"\0\0\0\0" for i in range(0, 16 * count, 16)))
    lowered = text.decode("ascii").lower()
    return [lowered[i : i + 26] for i in range(0, 32 * count, 32)]


@dataclass(frozen=True, slots=True)
class CredentialEntry:
    """What the issuer journals for one credential. ``twin_id`` links a paper form and its digital form."""

    credential_id: str
    credential_hash: bytes
    kind: CredentialKind = CredentialKind.DIGITAL
    twin_id: str | None = None


@dataclass(frozen=True, slots=True)
class CredentialRecord:
    """A journaled credential and where it stands."""

    credential_id: str
    credential_hash: bytes
    kind: CredentialKind
    twin_id: str | None
    created_at: float
    state: CredentialState
    batch_id: int | None
    leaf_index: int | None


@dataclass(frozen=True, slots=True)
class BatchRecord:
    """A batch of credentials under one Merkle root, and its anchoring transaction."""

    batch_id: int
    root: bytes
    size: int
    state: BatchState
    created_at: float
    raw_tx: bytes | None
    tx_hash: bytes | None
    nonce: int | None
    attempts: int
    next_attempt_at: float | None
    last_error: ReasonCode | None
    block_number: int | None
    block_hash: bytes | None
    anchored_at: int | None


@dataclass(frozen=True, slots=True)
class ReceiptInputs:
    """What a receipt needs from the journal: the credential and its batch."""

    credential: CredentialRecord
    batch: BatchRecord | None  # None while the credential is pending


@dataclass(frozen=True, slots=True)
class RevocationRecord:
    """A revocation request: credential ids (twins included) and their hashes, revoked with one reason."""

    revocation_id: int
    credential_ids: tuple[str, ...]
    credential_hashes: tuple[bytes, ...]
    reason: int
    state: RevocationState
    created_at: float
    raw_tx: bytes | None
    tx_hash: bytes | None
    nonce: int | None
    attempts: int
    next_attempt_at: float | None
    last_error: ReasonCode | None
    block_number: int | None
    confirmed_at: int | None


@runtime_checkable
class Journal(Protocol):
    """The durable outbox the Anchorer and the Issuer work against: state transitions, no storage details.

    Every method either completes durably or raises ``JournalError`` (``JOURNAL_UNAVAILABLE`` when the
    store fails, ``CREDENTIAL_UNKNOWN`` for an unknown id, ``JOURNAL_CONFLICT`` when the expected state
    no longer holds or an entry would be duplicated).
    """

    def add_credentials(self, entries: Sequence[CredentialEntry], *, at: float | None = None) -> None:
        """Journal credentials atomically and durably; a twin may be in the same call or already journaled."""
        ...

    def credential(self, credential_id: str) -> CredentialRecord:
        """One credential."""
        ...

    def pending(self, limit: int, kind: CredentialKind | None = None) -> list[CredentialRecord]:
        """Up to ``limit`` credentials (of ``kind``, when given) in no batch, oldest first."""
        ...

    def oldest_pending_at(self, kind: CredentialKind | None = None) -> float | None:
        """``created_at`` of the oldest credential (of ``kind``) in no batch, None when there is none."""
        ...

    def create_batch(self, credential_ids: Sequence[str], root: bytes, *, at: float | None = None) -> BatchRecord:
        """Put pending credentials into a new BUILT batch, leaf index = position in ``credential_ids``."""
        ...

    def batch(self, batch_id: int) -> BatchRecord:
        """One batch."""
        ...

    def batches(self, *states: BatchState, anchored_since_block: int | None = None) -> list[BatchRecord]:
        """Batches in any of ``states`` (all when none given), oldest first."""
        ...

    def batch_hashes(self, batch_id: int) -> list[bytes]:
        """The credential hashes of a batch in leaf order (the Merkle tree's input)."""
        ...

    def batch_credential_ids(self, batch_id: int) -> list[str]:
        """The credential ids of a batch in leaf order."""
        ...

    def mark_sent(self, batch_id: int, raw_tx: bytes, tx_hash: bytes, nonce: int) -> BatchRecord:
        """BUILT → SENT: journal the signed transaction BEFORE it is broadcast."""
        ...

    def mark_anchored(
        self,
        batch_id: int,
        *,
        block_number: int,
        block_hash: bytes,
        anchored_at: int,
        tx_hash: bytes | None = None,
    ) -> BatchRecord:
        """BUILT/SENT → ANCHORED, with the block that holds the anchor (and its tx, when another one did it)."""
        ...

    def mark_retry(self, batch_id: int, code: ReasonCode, next_attempt_at: float) -> BatchRecord:
        """Record a failed attempt (code only) and when to try again; the state stays."""
        ...

    def mark_unsent(self, batch_id: int, expected_tx_hash: bytes) -> BatchRecord:
        """SENT → BUILT: the journaled transaction can never be mined (its nonce was used), re-sign it."""
        ...

    def mark_unanchored(self, batch_id: int) -> BatchRecord:
        """ANCHORED → SENT: the anchor disappeared in a reorg; the journaled transaction is sent again."""
        ...

    def receipt_inputs(self, credential_id: str) -> ReceiptInputs:
        """The credential and its batch (None while pending), for building a receipt."""
        ...

    def status_counts(self) -> dict[str, int]:
        """Credential counts: pending, batched, sent, anchored, failed (in a batch whose last attempt failed)."""
        ...

    def add_revocation(
        self, credential_ids: Sequence[str], reason: int, *, at: float | None = None
    ) -> RevocationRecord | None:
        """Journal a revocation of the credentials and their twins; None when all were requested already."""
        ...

    def revocation(self, revocation_id: int) -> RevocationRecord:
        """One revocation request."""
        ...

    def revocations(self, *states: RevocationState) -> list[RevocationRecord]:
        """Revocation requests in any of ``states`` (all when none given), oldest first."""
        ...

    def mark_revocation_sent(self, revocation_id: int, raw_tx: bytes, tx_hash: bytes, nonce: int) -> RevocationRecord:
        """REQUESTED → SENT: journal the signed transaction BEFORE it is broadcast."""
        ...

    def mark_revocation_confirmed(
        self, revocation_id: int, *, block_number: int, at: int, tx_hash: bytes | None = None
    ) -> RevocationRecord:
        """REQUESTED/SENT → CONFIRMED (a revocation is idempotent on chain, so it may be sent directly)."""
        ...

    def mark_revocation_retry(self, revocation_id: int, code: ReasonCode, next_attempt_at: float) -> RevocationRecord:
        """Record a failed attempt (code only) and when to try again; the state stays."""
        ...

    def mark_revocation_unsent(self, revocation_id: int, expected_tx_hash: bytes) -> RevocationRecord:
        """SENT → REQUESTED: the journaled transaction can never be mined, re-sign it."""
        ...

    def close(self) -> None:
        """Release the store."""
        ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    batch_id        INTEGER PRIMARY KEY AUTOINCREMENT,
    root            BLOB NOT NULL UNIQUE CHECK (length(root) = 32),
    size            INTEGER NOT NULL CHECK (size > 0),
    state           TEXT NOT NULL CHECK (state IN ('built', 'sent', 'anchored')),
    created_at      REAL NOT NULL,
    raw_tx          BLOB,
    tx_hash         BLOB,
    nonce           INTEGER,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL,
    last_error      TEXT,
    block_number    INTEGER,
    block_hash      BLOB,
    anchored_at     INTEGER
);
CREATE INDEX IF NOT EXISTS batches_state ON batches (state, batch_id);
CREATE TABLE IF NOT EXISTS credentials (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    credential_id   TEXT NOT NULL UNIQUE,
    credential_hash BLOB NOT NULL UNIQUE CHECK (length(credential_hash) = 32),
    kind            TEXT NOT NULL CHECK (kind IN ('digital', 'paper')),
    twin_id         TEXT,
    created_at      REAL NOT NULL,
    batch_id        INTEGER REFERENCES batches (batch_id),
    leaf_index      INTEGER
);
CREATE INDEX IF NOT EXISTS credentials_pending ON credentials (seq) WHERE batch_id IS NULL;
CREATE UNIQUE INDEX IF NOT EXISTS credentials_leaf ON credentials (batch_id, leaf_index)
    WHERE batch_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS revocations (
    revocation_id   INTEGER PRIMARY KEY AUTOINCREMENT,
    reason          INTEGER NOT NULL CHECK (reason BETWEEN 0 AND 255),
    state           TEXT NOT NULL CHECK (state IN ('requested', 'sent', 'confirmed')),
    created_at      REAL NOT NULL,
    raw_tx          BLOB,
    tx_hash         BLOB,
    nonce           INTEGER,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL,
    last_error      TEXT,
    block_number    INTEGER,
    confirmed_at    INTEGER
);
CREATE TABLE IF NOT EXISTS revocation_items (
    revocation_id   INTEGER NOT NULL REFERENCES revocations (revocation_id),
    credential_id   TEXT NOT NULL UNIQUE REFERENCES credentials (credential_id),
    position        INTEGER NOT NULL,
    PRIMARY KEY (revocation_id, position)
);
"""

_CREDENTIAL_COLUMNS = """c.credential_id, c.credential_hash, c.kind, c.twin_id, c.created_at, c.batch_id,
    c.leaf_index, b.state"""
_BATCH_COLUMNS = """batch_id, root, size, state, created_at, raw_tx, tx_hash, nonce, attempts, next_attempt_at,
    last_error, block_number, block_hash, anchored_at"""
_REVOCATION_COLUMNS = """revocation_id, reason, state, created_at, raw_tx, tx_hash, nonce, attempts,
    next_attempt_at, last_error, block_number, confirmed_at"""


class SqliteJournal:
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
            with self._write():
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version not in (0, _SCHEMA_VERSION):
                    raise JournalError(ReasonCode.JOURNAL_UNAVAILABLE, "journal schema version is unsupported")
                if version == 0:
                    for statement in _SCHEMA.split(";"):
                        if statement.strip():
                            conn.execute(statement)
                    conn.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
        except sqlite3.Error as exc:
            conn.close()
            raise JournalError(ReasonCode.JOURNAL_UNAVAILABLE, "journal database cannot be initialised") from exc
        except JournalError:
            conn.close()
            raise

    # --- plumbing --------------------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction: the write lock is taken up front, so read-then-write cannot race."""
        with self._lock:
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise JournalError(ReasonCode.JOURNAL_UNAVAILABLE, "journal database is not writable") from exc
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise JournalError(ReasonCode.JOURNAL_UNAVAILABLE, "journal commit failed") from exc

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for multi-statement reads."""
        with self._lock:
            conn = self._conn
            try:
                conn.execute("BEGIN")
                try:
                    yield conn
                finally:
                    if conn.in_transaction:
                        conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise JournalError(ReasonCode.JOURNAL_UNAVAILABLE, "journal database is not readable") from exc

    def close(self) -> None:
        """Close the connection (checkpointing the WAL when this is the last one)."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> SqliteJournal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- credentials -----------------------------------------------------------------------------------

    def add_credentials(self, entries: Sequence[CredentialEntry], *, at: float | None = None) -> None:
        """Journal credentials atomically; returns only once they are on disk.

        Re-adding an identical entry (same id and hash, e.g. a retried call) is a no-op; a hash or id
        already journaled with different data raises ``JOURNAL_CONFLICT``.
        """
        created_at = time.time() if at is None else float(at)
        ids_in_call = {entry.credential_id: entry for entry in entries}
        for position, entry in enumerate(entries):
            _check_entry(entry, position)
        if len(ids_in_call) != len(entries):
            raise JournalError(ReasonCode.JOURNAL_CONFLICT, "credential id repeated", field="credential_id")
        if len({entry.credential_hash for entry in entries}) != len(entries):
            raise JournalError(ReasonCode.JOURNAL_CONFLICT, "credential hash repeated", field="credential_hash")
        with self._write() as conn:
            try:
                for entry in entries:
                    if entry.twin_id is not None:
                        self._check_twin(conn, entry, ids_in_call.get(entry.twin_id))
                inserted = conn.executemany(
                    "INSERT OR IGNORE INTO credentials (credential_id, credential_hash, kind, twin_id, created_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    [(e.credential_id, e.credential_hash, e.kind.value, e.twin_id, created_at) for e in entries],
                ).rowcount
                if inserted != len(entries):
                    self._check_repeats(conn, entries)
                # twins point at each other: complete the back link of an already journaled twin (a twin in
                # this call that names this entry is on disk with that link already: no statement for it)
                back_links = [
                    (e.credential_id, e.twin_id) for e in entries
                    if e.twin_id is not None and getattr(ids_in_call.get(e.twin_id), "twin_id", None) != e.credential_id
                ]
                if back_links:
                    conn.executemany(
                        "UPDATE credentials SET twin_id = ? WHERE credential_id = ? AND twin_id IS NULL", back_links
                    )
            except sqlite3.Error as exc:
                raise JournalError(ReasonCode.JOURNAL_UNAVAILABLE, "journal write failed") from exc

    @staticmethod
    def _check_twin(conn: sqlite3.Connection, entry: CredentialEntry, twin: CredentialEntry | None) -> None:
        """A twin is the other form, journaled (or in the same call), and not linked to a third credential."""
        if twin is not None:
            twin_kind, twin_of_twin = twin.kind.value, twin.twin_id
        else:
            row = conn.execute(
                "SELECT kind, twin_id FROM credentials WHERE credential_id = ?", (entry.twin_id,)
            ).fetchone()
            if row is None:
                raise JournalError(ReasonCode.CREDENTIAL_UNKNOWN, "twin is not journaled", field="twin_id")
            twin_kind, twin_of_twin = row
        if twin_kind == entry.kind.value:
            raise ValueError("a twin must be the other form (digital <-> paper)")
        if twin_of_twin not in (None, entry.credential_id):
            raise JournalError(ReasonCode.JOURNAL_CONFLICT, "twin is linked to another credential", field="twin_id")

    @staticmethod
    def _check_repeats(conn: sqlite3.Connection, entries: Sequence[CredentialEntry]) -> None:
        """Some entries were already journaled: fine when identical (a retried call), else a conflict."""
        for entry in entries:
            rows = conn.execute(
                "SELECT credential_id, credential_hash, kind, twin_id FROM credentials"
                " WHERE credential_id = ? OR credential_hash = ?",
                (entry.credential_id, entry.credential_hash),
            ).fetchall()
            if len(rows) != 1:
                raise JournalError(ReasonCode.JOURNAL_CONFLICT, "credential id or hash already journaled")
            cid, chash, kind, twin_id = rows[0]
            same = (cid, bytes(chash), kind) == (entry.credential_id, entry.credential_hash, entry.kind.value)
            if not same or entry.twin_id not in (None, twin_id):
                raise JournalError(ReasonCode.JOURNAL_CONFLICT, "credential already journaled with other data")

    def add_credential(
        self,
        credential_hash: bytes,
        kind: CredentialKind = CredentialKind.DIGITAL,
        *,
        twin_id: str | None = None,
        credential_id: str | None = None,
        at: float | None = None,
    ) -> str:
        """Journal one credential and return its id (a new random one unless given)."""
        cid = new_credential_id() if credential_id is None else credential_id
        self.add_credentials([CredentialEntry(cid, credential_hash, CredentialKind(kind), twin_id)], at=at)
        return cid

    def credential(self, credential_id: str) -> CredentialRecord:
        """One credential; ``CREDENTIAL_UNKNOWN`` when not journaled."""
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {_CREDENTIAL_COLUMNS} FROM credentials c LEFT JOIN batches b USING (batch_id)"  # noqa: S608
                " WHERE c.credential_id = ?",
                (credential_id,),
            ).fetchone()
        if row is None:
            raise JournalError(ReasonCode.CREDENTIAL_UNKNOWN, "credential is not journaled", field="credential_id")
        return _credential(row)

    def pending(self, limit: int, kind: CredentialKind | None = None) -> list[CredentialRecord]:
        """Up to ``limit`` credentials (of ``kind``, when given) in no batch, in journal order."""
        if limit <= 0:
            raise ValueError("limit must be positive")
        kinds = [CredentialKind(kind).value] if kind is not None else [k.value for k in CredentialKind]
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {_CREDENTIAL_COLUMNS} FROM credentials c LEFT JOIN batches b USING (batch_id)"  # noqa: S608
                f" WHERE c.batch_id IS NULL AND c.kind IN ({','.join('?' * len(kinds))}) ORDER BY c.seq LIMIT ?",
                (*kinds, limit),
            ).fetchall()
        return [_credential(row) for row in rows]

    def oldest_pending_at(self, kind: CredentialKind | None = None) -> float | None:
        """``created_at`` of the oldest credential (of ``kind``, when given) in no batch."""
        kinds = [CredentialKind(kind).value] if kind is not None else [k.value for k in CredentialKind]
        with self._read() as conn:
            row = conn.execute(
                f"SELECT created_at FROM credentials WHERE batch_id IS NULL AND kind IN ({','.join('?' * len(kinds))})"  # noqa: S608
                " ORDER BY seq LIMIT 1",
                kinds,
            ).fetchone()
        return None if row is None else float(row[0])

    # --- batches ---------------------------------------------------------------------------------------

    def create_batch(self, credential_ids: Sequence[str], root: bytes, *, at: float | None = None) -> BatchRecord:
        """Atomically put pending credentials into a new BUILT batch under ``root``.

        Raises ``JOURNAL_CONFLICT`` when any of them is already in a batch (another worker was first) and
        ``CREDENTIAL_UNKNOWN`` when one is not journaled; then nothing changes.
        """
        if not credential_ids:
            raise ValueError("a batch needs at least one credential")
        if not isinstance(root, bytes) or len(root) != _HASH_SIZE:
            raise ValueError("root must be 32 bytes")
        created_at = time.time() if at is None else float(at)
        with self._write() as conn:
            try:
                cursor = conn.execute(
                    "INSERT INTO batches (root, size, state, created_at) VALUES (?, ?, 'built', ?)",
                    (root, len(credential_ids), created_at),
                )
                batch_id = int(cursor.lastrowid or 0)
                updated = conn.executemany(
                    "UPDATE credentials SET batch_id = ?, leaf_index = ? WHERE credential_id = ? AND batch_id IS NULL",
                    ((batch_id, index, cid) for index, cid in enumerate(credential_ids)),
                ).rowcount
                if updated != len(credential_ids):
                    known = conn.execute(
                        "SELECT count(*) FROM credentials WHERE credential_id IN (SELECT value FROM json_each(?))",
                        (_json_list(credential_ids),),
                    ).fetchone()[0]
                    if known != len(set(credential_ids)):
                        raise JournalError(
                            ReasonCode.CREDENTIAL_UNKNOWN, "credential is not journaled", field="credential_id"
                        )
                    raise JournalError(ReasonCode.JOURNAL_CONFLICT, "credential is already in a batch")
            except sqlite3.IntegrityError as exc:
                raise JournalError(ReasonCode.JOURNAL_CONFLICT, "batch root already journaled") from exc
            except sqlite3.Error as exc:
                raise JournalError(ReasonCode.JOURNAL_UNAVAILABLE, "journal write failed") from exc
            return self._batch(conn, batch_id)

    def batch(self, batch_id: int) -> BatchRecord:
        """One batch; ``CREDENTIAL_UNKNOWN`` (field ``batch_id``) when there is none."""
        with self._read() as conn:
            return self._batch(conn, batch_id)

    def batches(self, *states: BatchState, anchored_since_block: int | None = None) -> list[BatchRecord]:
        """Batches in ``states`` (all when none), oldest first; optionally anchored at/after a block."""
        query = f"SELECT {_BATCH_COLUMNS} FROM batches"  # noqa: S608
        clauses: list[str] = []
        params: list[object] = []
        if states:
            clauses.append(f"state IN ({', '.join('?' for _ in states)})")
            params.extend(BatchState(s).value for s in states)
        if anchored_since_block is not None:
            clauses.append("(block_number IS NULL OR block_number >= ?)")
            params.append(anchored_since_block)
        if clauses:
            query += " WHERE " + " AND ".join(clauses)
        with self._read() as conn:
            rows = conn.execute(query + " ORDER BY batch_id", params).fetchall()
        return [_batch(row) for row in rows]

    def batch_hashes(self, batch_id: int) -> list[bytes]:
        """Credential hashes of a batch in leaf order."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT credential_hash FROM credentials WHERE batch_id = ? ORDER BY leaf_index", (batch_id,)
            ).fetchall()
        return [bytes(row[0]) for row in rows]

    def batch_credential_ids(self, batch_id: int) -> list[str]:
        """Credential ids of a batch in leaf order."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT credential_id FROM credentials WHERE batch_id = ? ORDER BY leaf_index", (batch_id,)
            ).fetchall()
        return [str(row[0]) for row in rows]

    def mark_sent(self, batch_id: int, raw_tx: bytes, tx_hash: bytes, nonce: int) -> BatchRecord:
        """BUILT → SENT with the signed transaction; call BEFORE broadcasting it."""
        _check_tx(raw_tx, tx_hash, nonce)
        return self._batch_transition(
            batch_id,
            ("built",),
            "state = 'sent', raw_tx = ?, tx_hash = ?, nonce = ?, next_attempt_at = NULL",
            (raw_tx, tx_hash, nonce),
        )

    def mark_anchored(
        self,
        batch_id: int,
        *,
        block_number: int,
        block_hash: bytes,
        anchored_at: int,
        tx_hash: bytes | None = None,
    ) -> BatchRecord:
        """BUILT/SENT → ANCHORED (clears the retry fields); ``tx_hash`` replaces the journaled one if given."""
        if not isinstance(block_hash, bytes) or len(block_hash) != _HASH_SIZE:
            raise ValueError("block_hash must be 32 bytes")
        return self._batch_transition(
            batch_id,
            ("built", "sent"),
            "state = 'anchored', block_number = ?, block_hash = ?, anchored_at = ?,"
            " tx_hash = coalesce(?, tx_hash), next_attempt_at = NULL, last_error = NULL",
            (int(block_number), block_hash, int(anchored_at), tx_hash),
        )

    def mark_retry(self, batch_id: int, code: ReasonCode, next_attempt_at: float) -> BatchRecord:
        """Count a failed attempt, keep its reason code, and defer the batch until ``next_attempt_at``."""
        return self._batch_transition(
            batch_id,
            ("built", "sent"),
            "attempts = attempts + 1, last_error = ?, next_attempt_at = ?",
            (ReasonCode(code).value, float(next_attempt_at)),
        )

    def mark_unsent(self, batch_id: int, expected_tx_hash: bytes) -> BatchRecord:
        """SENT → BUILT, dropping a signed transaction that can never be mined (only if still the journaled one)."""
        return self._batch_transition(
            batch_id,
            ("sent",),
            "state = 'built', raw_tx = NULL, tx_hash = NULL, nonce = NULL",
            (),
            expected_tx_hash=expected_tx_hash,
        )

    def mark_unanchored(self, batch_id: int) -> BatchRecord:
        """ANCHORED → SENT after a reorg removed the anchor; the journaled transaction is kept for re-sending."""
        return self._batch_transition(
            batch_id,
            ("anchored",),
            "state = 'sent', block_number = NULL, block_hash = NULL, anchored_at = NULL, next_attempt_at = NULL",
            (),
        )

    def receipt_inputs(self, credential_id: str) -> ReceiptInputs:
        """The credential and its batch; ``CREDENTIAL_UNKNOWN`` when not journaled."""
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {_CREDENTIAL_COLUMNS} FROM credentials c LEFT JOIN batches b USING (batch_id)"  # noqa: S608
                " WHERE c.credential_id = ?",
                (credential_id,),
            ).fetchone()
            if row is None:
                raise JournalError(ReasonCode.CREDENTIAL_UNKNOWN, "credential is not journaled", field="credential_id")
            credential = _credential(row)
            if credential.batch_id is None:
                return ReceiptInputs(credential, None)
            return ReceiptInputs(credential, self._batch(conn, credential.batch_id))

    def status_counts(self) -> dict[str, int]:
        """Credential counts by state; ``failed`` counts those whose batch's last attempt failed."""
        with self._read() as conn:
            pending = conn.execute("SELECT count(*) FROM credentials WHERE batch_id IS NULL").fetchone()[0]
            rows = conn.execute("SELECT state, last_error IS NOT NULL, sum(size) FROM batches GROUP BY 1, 2").fetchall()
            revocations = conn.execute("SELECT count(*) FROM revocations WHERE state != 'confirmed'").fetchone()[0]
        counts = {"pending": int(pending), "batched": 0, "sent": 0, "anchored": 0, "failed": 0}
        for state, failed, size in rows:
            key = "batched" if state == "built" else str(state)
            counts[key] += int(size)
            if failed and state != "anchored":
                counts["failed"] += int(size)
        counts["revocations_open"] = int(revocations)
        return counts

    # --- revocations -----------------------------------------------------------------------------------

    def add_revocation(
        self, credential_ids: Sequence[str], reason: int, *, at: float | None = None
    ) -> RevocationRecord | None:
        """Journal a revocation of ``credential_ids`` and their twins in one request.

        Credentials already in a revocation request are skipped (a repeat is harmless, as on chain);
        returns None when nothing is left. ``CREDENTIAL_UNKNOWN`` when an id is not journaled.
        """
        if not 0 <= int(reason) <= 255:
            raise ValueError("reason must fit in a uint8")
        created_at = time.time() if at is None else float(at)
        with self._write() as conn:
            wanted: dict[str, None] = {}
            for cid in credential_ids:
                row = conn.execute("SELECT twin_id FROM credentials WHERE credential_id = ?", (cid,)).fetchone()
                if row is None:
                    raise JournalError(
                        ReasonCode.CREDENTIAL_UNKNOWN, "credential is not journaled", field="credential_id"
                    )
                wanted[cid] = None
                if row[0] is not None:
                    wanted[str(row[0])] = None
            fresh = [
                cid
                for cid in wanted
                if conn.execute("SELECT 1 FROM revocation_items WHERE credential_id = ?", (cid,)).fetchone() is None
            ]
            if not fresh:
                return None
            cursor = conn.execute(
                "INSERT INTO revocations (reason, state, created_at) VALUES (?, 'requested', ?)",
                (int(reason), created_at),
            )
            revocation_id = int(cursor.lastrowid or 0)
            conn.executemany(
                "INSERT INTO revocation_items (revocation_id, credential_id, position) VALUES (?, ?, ?)",
                [(revocation_id, cid, position) for position, cid in enumerate(fresh)],
            )
            return self._revocation(conn, revocation_id)

    def revocation(self, revocation_id: int) -> RevocationRecord:
        """One revocation request."""
        with self._read() as conn:
            return self._revocation(conn, revocation_id)

    def revocations(self, *states: RevocationState) -> list[RevocationRecord]:
        """Revocation requests in ``states`` (all when none), oldest first."""
        with self._read() as conn:
            if states:
                marks = ", ".join("?" for _ in states)
                ids = conn.execute(
                    f"SELECT revocation_id FROM revocations WHERE state IN ({marks}) ORDER BY revocation_id",  # noqa: S608
                    [RevocationState(s).value for s in states],
                ).fetchall()
            else:
                ids = conn.execute("SELECT revocation_id FROM revocations ORDER BY revocation_id").fetchall()
            return [self._revocation(conn, int(row[0])) for row in ids]

    def mark_revocation_sent(self, revocation_id: int, raw_tx: bytes, tx_hash: bytes, nonce: int) -> RevocationRecord:
        """REQUESTED → SENT with the signed transaction; call BEFORE broadcasting it."""
        _check_tx(raw_tx, tx_hash, nonce)
        return self._revocation_transition(
            revocation_id,
            ("requested",),
            "state = 'sent', raw_tx = ?, tx_hash = ?, nonce = ?, next_attempt_at = NULL",
            (raw_tx, tx_hash, nonce),
        )

    def mark_revocation_confirmed(
        self, revocation_id: int, *, block_number: int, at: int, tx_hash: bytes | None = None
    ) -> RevocationRecord:
        """REQUESTED/SENT → CONFIRMED; ``tx_hash`` replaces the journaled one if given."""
        return self._revocation_transition(
            revocation_id,
            ("requested", "sent"),
            "state = 'confirmed', block_number = ?, confirmed_at = ?, tx_hash = coalesce(?, tx_hash),"
            " next_attempt_at = NULL, last_error = NULL",
            (int(block_number), int(at), tx_hash),
        )

    def mark_revocation_retry(self, revocation_id: int, code: ReasonCode, next_attempt_at: float) -> RevocationRecord:
        """Count a failed attempt, keep its reason code, defer until ``next_attempt_at``."""
        return self._revocation_transition(
            revocation_id,
            ("requested", "sent"),
            "attempts = attempts + 1, last_error = ?, next_attempt_at = ?",
            (ReasonCode(code).value, float(next_attempt_at)),
        )

    def mark_revocation_unsent(self, revocation_id: int, expected_tx_hash: bytes) -> RevocationRecord:
        """SENT → REQUESTED, dropping a signed transaction that can never be mined."""
        return self._revocation_transition(
            revocation_id,
            ("sent",),
            "state = 'requested', raw_tx = NULL, tx_hash = NULL, nonce = NULL",
            (),
            expected_tx_hash=expected_tx_hash,
        )

    # --- helpers ---------------------------------------------------------------------------------------

    def _batch_transition(
        self,
        batch_id: int,
        from_states: tuple[str, ...],
        assignments: str,
        params: tuple[object, ...],
        *,
        expected_tx_hash: bytes | None = None,
    ) -> BatchRecord:
        return self._transition(
            "batches", "batch_id", batch_id, from_states, assignments, params, self._batch, expected_tx_hash
        )

    def _revocation_transition(
        self,
        revocation_id: int,
        from_states: tuple[str, ...],
        assignments: str,
        params: tuple[object, ...],
        *,
        expected_tx_hash: bytes | None = None,
    ) -> RevocationRecord:
        return self._transition(
            "revocations",
            "revocation_id",
            revocation_id,
            from_states,
            assignments,
            params,
            self._revocation,
            expected_tx_hash,
        )

    def _transition(  # noqa: PLR0917 - private helper behind the two typed wrappers above
        self,
        table: str,
        key: str,
        row_id: int,
        from_states: tuple[str, ...],
        assignments: str,
        params: tuple[object, ...],
        load: Callable[[sqlite3.Connection, int], _T],
        expected_tx_hash: bytes | None,
    ) -> _T:
        """Compare-and-set: update the row only while it is in one of ``from_states``."""
        marks = ", ".join("?" for _ in from_states)
        where = f"{key} = ? AND state IN ({marks})"
        where_params: list[object] = [row_id, *from_states]
        if expected_tx_hash is not None:
            where += " AND tx_hash = ?"
            where_params.append(expected_tx_hash)
        with self._write() as conn:
            try:
                changed = conn.execute(
                    f"UPDATE {table} SET {assignments} WHERE {where}",  # noqa: S608 - constant SQL, bound values
                    [*params, *where_params],
                ).rowcount
                if changed != 1:
                    query = f"SELECT 1 FROM {table} WHERE {key} = ?"  # noqa: S608 - constant SQL
                    exists = conn.execute(query, (row_id,)).fetchone()
                    if exists is None:
                        raise JournalError(ReasonCode.CREDENTIAL_UNKNOWN, "no such journal entry", field=key)
                    raise JournalError(ReasonCode.JOURNAL_CONFLICT, "journal entry is not in the expected state")
                return load(conn, row_id)
            except sqlite3.Error as exc:
                raise JournalError(ReasonCode.JOURNAL_UNAVAILABLE, "journal write failed") from exc

    @staticmethod
    def _batch(conn: sqlite3.Connection, batch_id: int) -> BatchRecord:
        row = conn.execute(f"SELECT {_BATCH_COLUMNS} FROM batches WHERE batch_id = ?", (batch_id,)).fetchone()  # noqa: S608
        if row is None:
            raise JournalError(ReasonCode.CREDENTIAL_UNKNOWN, "no such batch", field="batch_id")
        return _batch(row)

    @staticmethod
    def _revocation(conn: sqlite3.Connection, revocation_id: int) -> RevocationRecord:
        row = conn.execute(
            f"SELECT {_REVOCATION_COLUMNS} FROM revocations WHERE revocation_id = ?",  # noqa: S608
            (revocation_id,),
        ).fetchone()
        if row is None:
            raise JournalError(ReasonCode.CREDENTIAL_UNKNOWN, "no such revocation", field="revocation_id")
        items = conn.execute(
            "SELECT i.credential_id, c.credential_hash FROM revocation_items i"
            " JOIN credentials c USING (credential_id) WHERE i.revocation_id = ? ORDER BY i.position",
            (revocation_id,),
        ).fetchall()
        return RevocationRecord(
            revocation_id=int(row[0]),
            credential_ids=tuple(str(item[0]) for item in items),
            credential_hashes=tuple(bytes(item[1]) for item in items),
            reason=int(row[1]),
            state=RevocationState(row[2]),
            created_at=float(row[3]),
            raw_tx=_opt_bytes(row[4]),
            tx_hash=_opt_bytes(row[5]),
            nonce=row[6],
            attempts=int(row[7]),
            next_attempt_at=row[8],
            last_error=None if row[9] is None else ReasonCode(row[9]),
            block_number=row[10],
            confirmed_at=row[11],
        )


def _credential(row: Sequence[Any]) -> CredentialRecord:
    batch_id = row[5]
    batch_state = row[7]
    if batch_id is None:
        state = CredentialState.PENDING
    elif batch_state == "anchored":
        state = CredentialState.ANCHORED
    else:
        state = CredentialState.BATCHED
    return CredentialRecord(
        credential_id=str(row[0]),
        credential_hash=bytes(row[1]),
        kind=CredentialKind(row[2]),
        twin_id=None if row[3] is None else str(row[3]),
        created_at=float(row[4]),
        state=state,
        batch_id=None if batch_id is None else int(batch_id),
        leaf_index=None if row[6] is None else int(row[6]),
    )


def _batch(row: Sequence[Any]) -> BatchRecord:
    return BatchRecord(
        batch_id=int(row[0]),
        root=bytes(row[1]),
        size=int(row[2]),
        state=BatchState(row[3]),
        created_at=float(row[4]),
        raw_tx=_opt_bytes(row[5]),
        tx_hash=_opt_bytes(row[6]),
        nonce=None if row[7] is None else int(row[7]),
        attempts=int(row[8]),
        next_attempt_at=None if row[9] is None else float(row[9]),
        last_error=None if row[10] is None else ReasonCode(row[10]),
        block_number=None if row[11] is None else int(row[11]),
        block_hash=_opt_bytes(row[12]),
        anchored_at=None if row[13] is None else int(row[13]),
    )


def _opt_bytes(value: Any) -> bytes | None:
    return None if value is None else bytes(value)


def _json_list(values: Sequence[str]) -> str:
    return json.dumps(list(values))


def _check_entry(entry: CredentialEntry, position: int) -> None:
    if not isinstance(entry.credential_id, str) or not _ID_PATTERN.fullmatch(entry.credential_id):
        raise ValueError(f"entries[{position}].credential_id must be 8-64 characters of [A-Za-z0-9_-]")
    if not isinstance(entry.credential_hash, bytes) or len(entry.credential_hash) != _HASH_SIZE:
        raise ValueError(f"entries[{position}].credential_hash must be 32 bytes")
    CredentialKind(entry.kind)
    if entry.twin_id is not None and entry.twin_id == entry.credential_id:
        raise ValueError(f"entries[{position}].twin_id must name another credential")


def _check_tx(raw_tx: bytes, tx_hash: bytes, nonce: int) -> None:
    if not isinstance(raw_tx, bytes) or not raw_tx:
        raise ValueError("raw_tx must be non-empty bytes")
    if not isinstance(tx_hash, bytes) or len(tx_hash) != _HASH_SIZE:
        raise ValueError("tx_hash must be 32 bytes")
    if isinstance(nonce, bool) or not isinstance(nonce, int) or nonce < 0:
        raise ValueError("nonce must be a non-negative int")
