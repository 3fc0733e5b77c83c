"""The journal's queries and row logic, written once for SQLite and PostgreSQL.

:class:`SqlJournal` implements every :class:`~civiccert.issuance.journal_types.Journal` method in SQL both
databases run (``%s`` placeholders through :class:`civiccert.dbtx.Db`, ``INSERT … ON CONFLICT DO NOTHING``,
``RETURNING``), each in one committed transaction (:func:`civiccert.dbtx.transaction`: ``BEGIN IMMEDIATE`` on
SQLite, ``conn.transaction()`` on PostgreSQL). A backend adds only its connection, a list-membership test and
how a batch's leaves are assigned (:mod:`~civiccert.issuance.journal_sqlite`, :mod:`~civiccert.issuance.journal_pg`).

Every transition is a conditional ``UPDATE … WHERE state IN (…)`` (compare-and-set): SQLite holds the file's
write lock for the whole transaction; PostgreSQL locks the row and re-checks the condition under READ
COMMITTED, so two racing workers cannot both win.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Generic, Self, TypeVar

from civiccert.dbtx import Db, session
from civiccert.errors import JournalError, ReasonCode
from civiccert.issuance.journal import (
    _HASH_SIZE,
    BatchRecord,
    BatchState,
    CredentialEntry,
    CredentialKind,
    CredentialRecord,
    ReceiptInputs,
    RevocationRecord,
    RevocationState,
    _batch,
    _check_entry,
    _check_tx,
    _credential,
    _revocation,
    new_credential_id,
)

__all__ = ["SCHEMA", "SqlJournal"]

_T = TypeVar("_T")

# {serial} {int64} {real} {blob}: the column types each backend names differently; ";" separates statements;
# {tx_columns}: the signed transaction and its retry state, which batches and revocations both have
_TX_COLUMNS = """raw_tx          {blob},
    tx_hash         {blob},
    nonce           {int64},
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at {real},
    last_error      TEXT,"""
SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    batch_id        {serial},
    root            {blob} NOT NULL UNIQUE CHECK (length(root) = 32),
    size            INTEGER NOT NULL CHECK (size > 0),
    state           TEXT NOT NULL CHECK (state IN ('built', 'sent', 'anchored')),
    created_at      {real} NOT NULL,
    {tx_columns}
    block_number    {int64},
    block_hash      {blob},
    anchored_at     {int64}
);
CREATE INDEX IF NOT EXISTS batches_state ON batches (state, batch_id);
CREATE TABLE IF NOT EXISTS credentials (
    seq             {serial},
    credential_id   TEXT NOT NULL UNIQUE,
    credential_hash {blob} NOT NULL UNIQUE CHECK (length(credential_hash) = 32),
    kind            TEXT NOT NULL CHECK (kind IN ('digital', 'paper')),
    twin_id         TEXT,
    created_at      {real} NOT NULL,
    batch_id        {int64} REFERENCES batches (batch_id),
    leaf_index      INTEGER
);
CREATE INDEX IF NOT EXISTS credentials_pending ON credentials (seq) WHERE batch_id IS NULL;
CREATE UNIQUE INDEX IF NOT EXISTS credentials_leaf ON credentials (batch_id, leaf_index)
    WHERE batch_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS revocations (
    revocation_id   {serial},
    reason          INTEGER NOT NULL CHECK (reason BETWEEN 0 AND 255),
    state           TEXT NOT NULL CHECK (state IN ('requested', 'sent', 'confirmed')),
    created_at      {real} NOT NULL,
    {tx_columns}
    block_number    {int64},
    confirmed_at    {int64}
);
CREATE TABLE IF NOT EXISTS revocation_items (
    revocation_id   {int64} NOT NULL REFERENCES revocations (revocation_id),
    credential_id   TEXT NOT NULL UNIQUE REFERENCES credentials (credential_id),
    position        INTEGER NOT NULL,
    PRIMARY KEY (revocation_id, position)
)
"""

_SELECT_CREDENTIAL = """SELECT c.credential_id, c.credential_hash, c.kind, c.twin_id, c.created_at, c.batch_id,
    c.leaf_index, b.state FROM credentials c LEFT JOIN batches b ON b.batch_id = c.batch_id"""
_SELECT_BATCH = """SELECT batch_id, root, size, state, created_at, raw_tx, tx_hash, nonce, attempts,
    next_attempt_at, last_error, block_number, block_hash, anchored_at FROM batches"""
_SELECT_REVOCATION = """SELECT revocation_id, reason, state, created_at, raw_tx, tx_hash, nonce, attempts,
    next_attempt_at, last_error, block_number, confirmed_at FROM revocations"""
_UNKNOWN = "credential is not journaled"


class SqlJournal:
    """Every journal method over a backend's connection; durable when each method returns."""

    _pg = False  # which SQL dialect :class:`Db` and :func:`transaction` speak
    _lock: threading.RLock

    # --- what a backend provides -----------------------------------------------------------------------

    def _connection(self) -> Any:
        """The open connection (a backend may replace a broken one here)."""
        raise NotImplementedError

    def _in(self, column: str, values: Sequence[str]) -> tuple[str, object]:
        """A condition that ``column`` is one of ``values`` (any number of them) and its one parameter."""
        raise NotImplementedError

    def _assign_batch(self, db: Db, batch_id: int, credential_ids: Sequence[str]) -> int:
        """Put the pending ones of ``credential_ids`` into ``batch_id`` (leaf = position); how many were."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the store."""
        raise NotImplementedError

    def _insert_credentials(self, db: Db, entries: Sequence[CredentialEntry], created_at: float) -> int:
        """Insert ``entries`` in order, skipping any already there (``ON CONFLICT DO NOTHING``); how many were."""
        return db.many(
            "INSERT INTO credentials (credential_id, credential_hash, kind, twin_id, created_at)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            [(e.credential_id, e.credential_hash, e.kind.value, e.twin_id, created_at) for e in entries],
        )

    # --- plumbing --------------------------------------------------------------------------------------

    def _write(self) -> AbstractContextManager[Db]:
        """One committed write transaction; database failures become JOURNAL_UNAVAILABLE, duplicates CONFLICT."""
        return session(self._lock, self._connection, pg=self._pg, what="journal write failed",
                       conflict="journal entry already exists")  # fmt: skip

    def _read(self) -> AbstractContextManager[Db]:
        """A consistent snapshot for multi-statement reads (takes no write lock)."""
        return session(self._lock, self._connection, pg=self._pg, what="journal read failed", write=False)

    def _create_schema(self, db: Db, types: dict[str, str]) -> None:
        for statement in SCHEMA.format(tx_columns=_TX_COLUMNS.format(**types), **types).split(";"):
            if statement.strip():
                db.run(statement)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- credentials -----------------------------------------------------------------------------------

    def add_credentials(self, entries: Sequence[CredentialEntry], *, at: float | None = None) -> None:
        """Journal credentials atomically; returns only once they are durable.

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
        if not entries:
            return
        with self._write() as db:
            for entry in entries:
                if entry.twin_id is not None:
                    _check_twin(db, entry, ids_in_call.get(entry.twin_id))
            inserted = self._insert_credentials(db, entries, created_at)
            if inserted != len(entries):
                _check_repeats(db, entries)
            # twins point at each other: complete the back link of an already journaled twin (a twin in
            # this call that names this entry is written with that link already: no statement for it)
            back_links = [
                (e.credential_id, e.twin_id) for e in entries
                if e.twin_id is not None and getattr(ids_in_call.get(e.twin_id), "twin_id", None) != e.credential_id
            ]  # fmt: skip
            if back_links:
                db.many("UPDATE credentials SET twin_id = %s WHERE credential_id = %s AND twin_id IS NULL", back_links)

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
        with self._read() as db:
            row = db.one(f"{_SELECT_CREDENTIAL} WHERE c.credential_id = %s", (credential_id,))
        if row is None:
            raise JournalError(ReasonCode.CREDENTIAL_UNKNOWN, _UNKNOWN, field="credential_id")
        return _credential(row)

    def pending(self, limit: int, kind: CredentialKind | None = None) -> list[CredentialRecord]:
        """Up to ``limit`` credentials (of ``kind``, when given) in no batch, in journal order."""
        if limit <= 0:
            raise ValueError("limit must be positive")
        kinds, param = self._in("c.kind", _kinds(kind))
        with self._read() as db:
            rows = db.all(
                f"{_SELECT_CREDENTIAL} WHERE c.batch_id IS NULL AND {kinds} ORDER BY c.seq LIMIT %s", (param, limit)
            )
        return [_credential(row) for row in rows]

    def oldest_pending_at(self, kind: CredentialKind | None = None) -> float | None:
        """``created_at`` of the oldest credential (of ``kind``, when given) in no batch."""
        kinds, param = self._in("kind", _kinds(kind))
        with self._read() as db:
            row = db.one(
                f"SELECT created_at FROM credentials WHERE batch_id IS NULL AND {kinds} ORDER BY seq LIMIT 1",  # noqa: S608
                (param,),
            )
        return None if row is None else float(row[0])

    # --- batches ---------------------------------------------------------------------------------------

    def create_batch(self, credential_ids: Sequence[str], root: bytes, *, at: float | None = None) -> BatchRecord:
        """Atomically put pending credentials into a new BUILT batch under ``root``.

        Raises ``JOURNAL_CONFLICT`` when any of them is already in a batch (another worker was first) or the
        root is journaled already, ``CREDENTIAL_UNKNOWN`` when one is not journaled; then nothing changes.
        """
        if not credential_ids:
            raise ValueError("a batch needs at least one credential")
        if not isinstance(root, bytes) or len(root) != _HASH_SIZE:
            raise ValueError("root must be 32 bytes")
        created_at = time.time() if at is None else float(at)
        with self._write() as db:
            rows = db.all(
                "INSERT INTO batches (root, size, state, created_at) VALUES (%s, %s, 'built', %s) RETURNING batch_id",
                (root, len(credential_ids), created_at),
            )
            batch_id = int(rows[0][0])
            if self._assign_batch(db, batch_id, credential_ids) != len(credential_ids):
                ids, param = self._in("credential_id", list(credential_ids))
                known = db.one(f"SELECT count(*) FROM credentials WHERE {ids}", (param,))  # noqa: S608
                if known is None or int(known[0]) != len(set(credential_ids)):
                    raise JournalError(ReasonCode.CREDENTIAL_UNKNOWN, _UNKNOWN, field="credential_id")
                raise JournalError(ReasonCode.JOURNAL_CONFLICT, "credential is already in a batch")
            return _load_batch(db, batch_id)

    def batch(self, batch_id: int) -> BatchRecord:
        """One batch; ``CREDENTIAL_UNKNOWN`` (field ``batch_id``) when there is none."""
        with self._read() as db:
            return _load_batch(db, batch_id)

    def batches(self, *states: BatchState, anchored_since_block: int | None = None) -> list[BatchRecord]:
        """Batches in ``states`` (all when none), oldest first; optionally anchored at/after a block."""
        clauses: list[str] = []
        params: list[object] = []
        if states:
            clause, param = self._in("state", [BatchState(s).value for s in states])
            clauses.append(clause)
            params.append(param)
        if anchored_since_block is not None:
            clauses.append("(block_number IS NULL OR block_number >= %s)")
            params.append(anchored_since_block)
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        with self._read() as db:
            rows = db.all(f"{_SELECT_BATCH}{where} ORDER BY batch_id", params)
        return [_batch(row) for row in rows]

    def batch_hashes(self, batch_id: int) -> list[bytes]:
        """Credential hashes of a batch in leaf order."""
        with self._read() as db:
            rows = db.all(
                "SELECT credential_hash FROM credentials WHERE batch_id = %s ORDER BY leaf_index", (batch_id,)
            )
        return [bytes(row[0]) for row in rows]

    def batch_credential_ids(self, batch_id: int) -> list[str]:
        """Credential ids of a batch in leaf order."""
        with self._read() as db:
            rows = db.all("SELECT credential_id FROM credentials WHERE batch_id = %s ORDER BY leaf_index", (batch_id,))
        return [str(row[0]) for row in rows]

    def mark_sent(self, batch_id: int, raw_tx: bytes, tx_hash: bytes, nonce: int) -> BatchRecord:
        """BUILT → SENT with the signed transaction; call BEFORE broadcasting it."""
        _check_tx(raw_tx, tx_hash, nonce)
        return self._transition(_BATCHES, batch_id, ("built",), _SEND, (raw_tx, tx_hash, nonce))

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
        return self._transition(
            _BATCHES, batch_id, ("built", "sent"),
            "state = 'anchored', block_number = %s, block_hash = %s, anchored_at = %s,"
            " tx_hash = coalesce(%s, tx_hash), next_attempt_at = NULL, last_error = NULL",
            (int(block_number), block_hash, int(anchored_at), tx_hash),
        )  # fmt: skip

    def mark_retry(self, batch_id: int, code: ReasonCode, next_attempt_at: float) -> BatchRecord:
        """Count a failed attempt, keep its reason code, and defer the batch until ``next_attempt_at``."""
        return self._transition(
            _BATCHES, batch_id, ("built", "sent"), _RETRY, (ReasonCode(code).value, float(next_attempt_at))
        )

    def mark_unsent(self, batch_id: int, expected_tx_hash: bytes) -> BatchRecord:
        """SENT → BUILT, dropping a signed transaction that can never be mined (only if still the journaled one)."""
        return self._transition(_BATCHES, batch_id, ("sent",), "state = 'built', " + _DROP_TX, (), expected_tx_hash)

    def mark_unanchored(self, batch_id: int) -> BatchRecord:
        """ANCHORED → SENT after a reorg removed the anchor; the journaled transaction is kept for re-sending."""
        return self._transition(
            _BATCHES, batch_id, ("anchored",),
            "state = 'sent', block_number = NULL, block_hash = NULL, anchored_at = NULL, next_attempt_at = NULL", (),
        )  # fmt: skip

    def receipt_inputs(self, credential_id: str) -> ReceiptInputs:
        """The credential and its batch; ``CREDENTIAL_UNKNOWN`` when not journaled."""
        with self._read() as db:
            row = db.one(f"{_SELECT_CREDENTIAL} WHERE c.credential_id = %s", (credential_id,))
            if row is None:
                raise JournalError(ReasonCode.CREDENTIAL_UNKNOWN, _UNKNOWN, field="credential_id")
            credential = _credential(row)
            if credential.batch_id is None:
                return ReceiptInputs(credential, None)
            return ReceiptInputs(credential, _load_batch(db, credential.batch_id))

    def status_counts(self) -> dict[str, int]:
        """Credential counts by state; ``failed`` counts those whose batch's last attempt failed."""
        with self._read() as db:
            pending = db.one("SELECT count(*) FROM credentials WHERE batch_id IS NULL")
            rows = db.all("SELECT state, last_error IS NOT NULL, sum(size) FROM batches GROUP BY 1, 2")
            revocations = db.one("SELECT count(*) FROM revocations WHERE state != 'confirmed'")
        counts = {"pending": int(pending[0]), "batched": 0, "sent": 0, "anchored": 0, "failed": 0}
        for state, failed, size in rows:
            key = "batched" if state == "built" else str(state)
            counts[key] += int(size)
            if failed and state != "anchored":
                counts["failed"] += int(size)
        counts["revocations_open"] = int(revocations[0])
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
        with self._write() as db:
            wanted: dict[str, None] = {}
            for cid in credential_ids:
                row = db.one("SELECT twin_id FROM credentials WHERE credential_id = %s", (cid,))
                if row is None:
                    raise JournalError(ReasonCode.CREDENTIAL_UNKNOWN, _UNKNOWN, field="credential_id")
                wanted[cid] = None
                if row[0] is not None:
                    wanted[str(row[0])] = None
            ids, param = self._in("credential_id", list(wanted))
            taken = {str(r[0]) for r in db.all(f"SELECT credential_id FROM revocation_items WHERE {ids}", (param,))}  # noqa: S608
            fresh = [cid for cid in wanted if cid not in taken]
            if not fresh:
                return None
            rows = db.all(
                "INSERT INTO revocations (reason, state, created_at) VALUES (%s, 'requested', %s)"
                " RETURNING revocation_id",
                (int(reason), created_at),
            )
            revocation_id = int(rows[0][0])
            db.many(
                "INSERT INTO revocation_items (revocation_id, credential_id, position) VALUES (%s, %s, %s)",
                [(revocation_id, cid, position) for position, cid in enumerate(fresh)],
            )
            return _load_revocation(db, revocation_id)

    def revocation(self, revocation_id: int) -> RevocationRecord:
        """One revocation request."""
        with self._read() as db:
            return _load_revocation(db, revocation_id)

    def revocations(self, *states: RevocationState) -> list[RevocationRecord]:
        """Revocation requests in ``states`` (all when none), oldest first."""
        wanted, param = self._in("state", [RevocationState(s).value for s in states or tuple(RevocationState)])
        with self._read() as db:
            ids = db.all(f"SELECT revocation_id FROM revocations WHERE {wanted} ORDER BY revocation_id", (param,))  # noqa: S608
            return [_load_revocation(db, int(row[0])) for row in ids]

    def mark_revocation_sent(self, revocation_id: int, raw_tx: bytes, tx_hash: bytes, nonce: int) -> RevocationRecord:
        """REQUESTED → SENT with the signed transaction; call BEFORE broadcasting it."""
        _check_tx(raw_tx, tx_hash, nonce)
        return self._transition(_REVOCATIONS, revocation_id, ("requested",), _SEND, (raw_tx, tx_hash, nonce))

    def mark_revocation_confirmed(
        self, revocation_id: int, *, block_number: int, at: int, tx_hash: bytes | None = None
    ) -> RevocationRecord:
        """REQUESTED/SENT → CONFIRMED; ``tx_hash`` replaces the journaled one if given."""
        return self._transition(
            _REVOCATIONS, revocation_id, ("requested", "sent"),
            "state = 'confirmed', block_number = %s, confirmed_at = %s, tx_hash = coalesce(%s, tx_hash),"
            " next_attempt_at = NULL, last_error = NULL",
            (int(block_number), int(at), tx_hash),
        )  # fmt: skip

    def mark_revocation_retry(self, revocation_id: int, code: ReasonCode, next_attempt_at: float) -> RevocationRecord:
        """Count a failed attempt, keep its reason code, defer until ``next_attempt_at``."""
        params = (ReasonCode(code).value, float(next_attempt_at))
        return self._transition(_REVOCATIONS, revocation_id, ("requested", "sent"), _RETRY, params)

    def mark_revocation_unsent(self, revocation_id: int, expected_tx_hash: bytes) -> RevocationRecord:
        """SENT → REQUESTED, dropping a signed transaction that can never be mined."""
        return self._transition(
            _REVOCATIONS, revocation_id, ("sent",), "state = 'requested', " + _DROP_TX, (), expected_tx_hash
        )

    # --- compare-and-set -------------------------------------------------------------------------------

    def _transition(  # noqa: PLR0917 - private helper behind the typed transitions above
        self,
        table: _Table[_T],
        row_id: int,
        from_states: tuple[str, ...],
        assignments: str,
        params: tuple[object, ...] = (),
        expected_tx_hash: bytes | None = None,
    ) -> _T:
        """Compare-and-set: update the row only while it is in one of ``from_states`` (and holds that tx)."""
        key = table.key
        states, states_param = self._in("state", list(from_states))
        where = f"{key} = %s AND {states}"
        where_params: list[object] = [row_id, states_param]
        if expected_tx_hash is not None:
            where += " AND tx_hash = %s"
            where_params.append(expected_tx_hash)
        with self._write() as db:
            if db.run(f"UPDATE {table.name} SET {assignments} WHERE {where}", [*params, *where_params]) != 1:  # noqa: S608
                if db.one(f"SELECT 1 FROM {table.name} WHERE {key} = %s", (row_id,)) is None:  # noqa: S608
                    raise JournalError(ReasonCode.CREDENTIAL_UNKNOWN, "no such journal entry", field=key)
                raise JournalError(ReasonCode.JOURNAL_CONFLICT, "journal entry is not in the expected state")
            return table.load(db, row_id)


_SEND = "state = 'sent', raw_tx = %s, tx_hash = %s, nonce = %s, next_attempt_at = NULL"
_RETRY = "attempts = attempts + 1, last_error = %s, next_attempt_at = %s"
_DROP_TX = "raw_tx = NULL, tx_hash = NULL, nonce = NULL"


def _kinds(kind: CredentialKind | None) -> list[str]:
    return [CredentialKind(kind).value] if kind is not None else [k.value for k in CredentialKind]


def _check_twin(db: Db, entry: CredentialEntry, twin: CredentialEntry | None) -> None:
    """A twin is the other form, journaled (or in the same call), and not linked to a third credential."""
    if twin is not None:
        twin_kind, twin_of_twin = twin.kind, twin.twin_id  # a StrEnum: equal to its value, without .value
    else:
        row = db.one("SELECT kind, twin_id FROM credentials WHERE credential_id = %s", (entry.twin_id,))
        if row is None:
            raise JournalError(ReasonCode.CREDENTIAL_UNKNOWN, "twin is not journaled", field="twin_id")
        twin_kind, twin_of_twin = row
    if twin_kind == entry.kind:
        raise ValueError("a twin must be the other form (digital <-> paper)")
    if twin_of_twin not in (None, entry.credential_id):
        raise JournalError(ReasonCode.JOURNAL_CONFLICT, "twin is linked to another credential", field="twin_id")


def _check_repeats(db: Db, entries: Sequence[CredentialEntry]) -> None:
    """Some entries were already journaled: fine when identical (a retried call), else a conflict."""
    for entry in entries:
        rows = db.all(
            "SELECT credential_id, credential_hash, kind, twin_id FROM credentials"
            " WHERE credential_id = %s OR credential_hash = %s",
            (entry.credential_id, entry.credential_hash),
        )
        if len(rows) != 1:
            raise JournalError(ReasonCode.JOURNAL_CONFLICT, "credential id or hash already journaled")
        cid, chash, kind, twin_id = rows[0]
        same = (cid, bytes(chash), kind) == (entry.credential_id, entry.credential_hash, entry.kind.value)
        if not same or entry.twin_id not in (None, twin_id):
            raise JournalError(ReasonCode.JOURNAL_CONFLICT, "credential already journaled with other data")


def _load_batch(db: Db, batch_id: int) -> BatchRecord:
    row = db.one(f"{_SELECT_BATCH} WHERE batch_id = %s", (batch_id,))
    if row is None:
        raise JournalError(ReasonCode.CREDENTIAL_UNKNOWN, "no such batch", field="batch_id")
    return _batch(row)


def _load_revocation(db: Db, revocation_id: int) -> RevocationRecord:
    row = db.one(f"{_SELECT_REVOCATION} WHERE revocation_id = %s", (revocation_id,))
    if row is None:
        raise JournalError(ReasonCode.CREDENTIAL_UNKNOWN, "no such revocation", field="revocation_id")
    items = db.all(
        "SELECT i.credential_id, c.credential_hash FROM revocation_items i"
        " JOIN credentials c ON c.credential_id = i.credential_id WHERE i.revocation_id = %s ORDER BY i.position",
        (revocation_id,),
    )
    return _revocation(row, items)


@dataclass(frozen=True, slots=True)
class _Table(Generic[_T]):
    """A table with states that transitions change: its name, key column and how a row is loaded."""

    name: str
    key: str
    load: Callable[[Db, int], _T]


_BATCHES = _Table("batches", "batch_id", _load_batch)
_REVOCATIONS = _Table("revocations", "revocation_id", _load_revocation)
