"""The service's own tables, in the journal's database: idempotency records and the audit log (交付記録).

``idempotency``: per client and Idempotency-Key, the SHA-256 of the request and, once done, the response.
A key is reserved (``begin``) in its own committed transaction before the work starts, so two servers
receiving the same retried request never both do it; the stored response is returned to every retry. A
reservation names its owner (host, process id). While the owner runs, retries get 409
IDEMPOTENCY_IN_PROGRESS. A reservation whose owner is dead (same host: the process is gone) or that is older
than ``stale_after_seconds`` (owner on another host, or hung) is taken over by the next retry, with a
compare-and-set so only one retry wins, and the request runs again. We chose this over writing the response
in the journal's transaction (the journal and this store are separate connections, and the Issuer must not
know about HTTP): the cost is that a server killed after journaling but before answering leaves that
credential's hashes in the journal, never delivered to anyone (no personal data: hashes only; anchored like
any other). The client still receives exactly one credential for its key. Stored responses of issue requests hold the
credential (personal data), so they are deleted after ``retention_seconds`` (default one day).

``audit``: append-only (the service never updates or deletes it): when, which client and role, what action,
which credential ids, and the outcome's reason code. No personal data.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from civiccert.dbtx import Db
from civiccert.service.database import ServiceDatabase

__all__ = ["DEFAULT_STALE_AFTER_SECONDS", "AuditEntry", "AuditNote", "Finished", "ServiceStore", "StoredResponse"]

DEFAULT_STALE_AFTER_SECONDS = 120.0  # far beyond any request (a 100-record batch takes well under a second)
_PURGE_EVERY = 60.0  # seconds between deletions of expired responses (not on every request)

_TABLES = """
CREATE TABLE IF NOT EXISTS service_idempotency (
    client_id    TEXT NOT NULL,
    idem_key     TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       INTEGER,
    response     TEXT,
    created_at   DOUBLE PRECISION NOT NULL,
    owner        TEXT,
    PRIMARY KEY (client_id, idem_key)
);
CREATE TABLE IF NOT EXISTS service_audit (
    seq            {serial},
    at             DOUBLE PRECISION NOT NULL,
    client_id      TEXT NOT NULL,
    role           TEXT NOT NULL,
    action         TEXT NOT NULL,
    credential_ids TEXT NOT NULL,
    outcome        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS service_idempotency_created ON service_idempotency (created_at)
"""

# A stored issue response is ~9 KB of mostly base64 JSON, so it is TOASTed: PostgreSQL's default pglz spends
# ~0.15 ms per row trying to compress it and then keeps it uncompressed (it saves < 25 %), two thirds of the
# database's CPU per issue; lz4 takes a third of that and stores it ~10 % smaller. Only when the server was
# built with lz4 (PostgreSQL 14+), and only when the column is not lz4 yet (ALTER TABLE locks the table).
_PGLZ_RESPONSES = """SELECT 1 FROM pg_attribute a, pg_settings s
    WHERE a.attrelid = 'service_idempotency'::regclass AND a.attname = 'response' AND a.attcompression <> 'l'
    AND s.name = 'default_toast_compression' AND 'lz4' = ANY(s.enumvals)"""


@dataclass(frozen=True)
class StoredResponse:
    """What an earlier request with the same key answered (``status`` None while it runs)."""

    request_hash: str
    status: int | None
    body: Any


@dataclass(frozen=True)
class AuditNote:
    """An audit entry still to be written (with a stored response: :meth:`ServiceStore.finish`)."""

    client_id: str
    role: str
    action: str
    credential_ids: tuple[str, ...]
    outcome: str


@dataclass(frozen=True)
class Finished:
    """A request's outcome to store (:meth:`ServiceStore.finish_many`); ``text`` is ``body`` already as JSON."""

    client_id: str
    key: str
    status: int
    body: Any
    audit: AuditNote | None = None
    text: str | None = None


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: float
    client_id: str
    role: str
    action: str
    credential_ids: list[str]
    outcome: str

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "at": self.at, "client_id": self.client_id, "role": self.role,
                "action": self.action, "credential_ids": self.credential_ids, "outcome": self.outcome}  # fmt: skip


class ServiceStore:
    """Idempotency records and the audit log in the SQLite file or PostgreSQL database of the journal."""

    def __init__(self, target: str, *, retention_seconds: float = 24 * 3600,
                 stale_after_seconds: float = DEFAULT_STALE_AFTER_SECONDS) -> None:
        self._db = ServiceDatabase(target)
        self._pg = self._db.pg
        self._tx = self._db.tx
        self._retention = retention_seconds
        self._stale_after = stale_after_seconds
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self._purged_at = 0.0
        serial = "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY" if self._pg else "INTEGER PRIMARY KEY"
        with self._tx() as cur:
            if self._pg:
                cur.run("SELECT pg_advisory_xact_lock(7361)")  # several servers creating the tables at once
            for statement in _TABLES.format(serial=serial).split(";"):
                cur.run(statement)
            if self._pg:  # tables made before reservations named their owner
                cur.run("ALTER TABLE service_idempotency ADD COLUMN IF NOT EXISTS owner TEXT")
                if int(cur.one("SHOW server_version_num")[0]) >= 140000 and cur.one(_PGLZ_RESPONSES) is not None:
                    cur.run("ALTER TABLE service_idempotency ALTER COLUMN response SET COMPRESSION lz4")
            elif "owner" not in {r[1] for r in cur.all("PRAGMA table_info(service_idempotency)", ())}:
                cur.run("ALTER TABLE service_idempotency ADD COLUMN owner TEXT")

    # --- plumbing --------------------------------------------------------------------------------------
    @property
    def target(self) -> str:
        """The database URL or SQLite path (other service tables live beside these: service.flowstore)."""
        return self._db.target

    def close(self) -> None:
        self._db.close()

    # --- idempotency -----------------------------------------------------------------------------------
    def begin(self, client_id: str, key: str, request_hash: str) -> StoredResponse | None:
        """Reserve ``key`` for this request (None: go ahead) or return what the earlier request stored."""
        return self.begin_many([(client_id, key, request_hash)])[0]

    def begin_many(self, requests: Sequence[tuple[str, str, str]]) -> list[StoredResponse | None]:
        """:meth:`begin` for several ``(client_id, key, request_hash)`` in one committed transaction (group
        commit of concurrent requests: one durable write instead of one each). A key given twice is in
        progress for its second request."""
        now = time.time()
        with self._tx(durable=False) as cur:  # promises nothing: the response's durable commit covers it
            if now - self._purged_at >= _PURGE_EVERY:
                cur.run("DELETE FROM service_idempotency WHERE created_at < %s", (now - self._retention,))
                self._purged_at = now
            if len(requests) > 1:
                return self._reserve_many(cur, requests, now)
            return [self._reserve(cur, client_id, key, request_hash, now) for client_id, key, request_hash in requests]

    def _reserve_many(self, cur: Db, requests: Sequence[tuple[str, str, str]],
                      now: float) -> list[StoredResponse | None]:  # fmt: skip
        """One multi-row INSERT for the group (one round trip); only keys already there take :meth:`_reserve`."""
        values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(requests))
        params = [value for client_id, key, digest in requests for value in (client_id, key, digest, now, self.owner)]
        inserted = {(str(r[0]), str(r[1])) for r in cur.all(
            "INSERT INTO service_idempotency (client_id, idem_key, request_hash, created_at, owner) VALUES "  # noqa: S608 - placeholders only
            + values + " ON CONFLICT DO NOTHING RETURNING client_id, idem_key", params)}  # fmt: skip
        answers: list[StoredResponse | None] = []
        for client_id, key, digest in requests:
            if (client_id, key) in inserted:
                inserted.discard((client_id, key))  # a key given twice: its second request finds it reserved
                answers.append(None)
            else:
                answers.append(self._reserve(cur, client_id, key, digest, now))
        return answers

    def _reserve(self, cur: Db, client_id: str, key: str, request_hash: str, now: float) -> StoredResponse | None:
        changed = cur.run(
            "INSERT INTO service_idempotency (client_id, idem_key, request_hash, created_at, owner)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (client_id, key, request_hash, now, self.owner),
        )
        if changed == 1:
            return None
        row = cur.one(
            "SELECT request_hash, status, response, created_at, owner FROM service_idempotency"
            " WHERE client_id = %s AND idem_key = %s",
            (client_id, key),
        )
        if row is None:  # expired between the two statements: treat as new next time
            return StoredResponse(request_hash, None, None)
        if row[1] is None and str(row[0]) == request_hash and self._abandoned(row[4], float(row[3]), now):
            changed = cur.run(  # compare-and-set: of several retries, one takes the reservation over
                "UPDATE service_idempotency SET owner = %s, created_at = %s WHERE client_id = %s"
                " AND idem_key = %s AND status IS NULL AND created_at = %s AND owner IS NOT DISTINCT FROM %s",
                (self.owner, now, client_id, key, row[3], row[4]),
            )
            if changed == 1:
                return None
        return StoredResponse(str(row[0]), row[1], None if row[2] is None else json.loads(row[2]))

    def _abandoned(self, owner: str | None, created_at: float, now: float) -> bool:
        """Whether a running reservation's owner is gone: a dead process on this host, or too old."""
        if now - created_at > self._stale_after:
            return True
        host, _, pid = (owner or "").rpartition(":")
        if host != socket.gethostname() or not pid.isdigit() or owner == self.owner:
            return False
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # alive, another user's
            return False
        return False

    def finish(self, client_id: str, key: str, status: int, body: Any, audit: AuditNote | None = None,
               *, text: str | None = None) -> None:  # fmt: skip
        """Store the response every retry with this key gets, and ``audit``'s entry in the same transaction
        (one durable commit for both: the entry exists exactly when the response does). ``text``: ``body``
        already serialized as JSON (the caller sends the same bytes)."""
        self.finish_many([Finished(client_id, key, status, body, audit, text)])

    def finish_many(self, done: Sequence[Finished]) -> None:
        """:meth:`finish` for several requests in one committed transaction (group commit)."""
        if not done:
            return
        rows = [(item.status, json.dumps(item.body, ensure_ascii=False) if item.text is None else item.text,
                 item.client_id, item.key) for item in done]  # fmt: skip
        now = time.time()
        notes = [_audit_row(item.audit, now) for item in done if item.audit is not None]
        with self._tx() as cur:  # one statement each for all rows (one round trip each on PostgreSQL)
            cur.many(
                "UPDATE service_idempotency SET status = %s, response = %s WHERE client_id = %s AND idem_key = %s", rows
            )
            if notes:
                cur.many(_AUDIT_INSERT, notes)

    def abandon_many(self, keys: Sequence[tuple[str, str]]) -> None:
        """:meth:`abandon` for several ``(client_id, key)`` in one transaction."""
        with self._tx() as cur:
            for client_id, key in keys:
                cur.run(
                    "DELETE FROM service_idempotency WHERE client_id = %s AND idem_key = %s AND status IS NULL",
                    (client_id, key),
                )

    def abandon(self, client_id: str, key: str) -> None:
        """Release a key whose request failed before doing anything (so a retry may try again)."""
        with self._tx() as cur:
            cur.run(
                "DELETE FROM service_idempotency WHERE client_id = %s AND idem_key = %s AND status IS NULL",
                (client_id, key),
            )

    # --- audit log -------------------------------------------------------------------------------------
    def audit(self, client_id: str, role: str, action: str, credential_ids: Sequence[str], outcome: str) -> None:
        """Append one entry (ids and codes only)."""
        with self._tx() as cur:
            self._append(cur, AuditNote(client_id, role, action, tuple(credential_ids), outcome))

    @staticmethod
    def _append(cur: Db, note: AuditNote) -> None:
        cur.run(_AUDIT_INSERT, _audit_row(note, time.time()))

    def audit_entries(self, *, after: int = 0, limit: int = 1000) -> list[AuditEntry]:
        """Entries with ``seq`` > ``after``, oldest first (page with the last seq seen)."""
        with self._tx() as cur:
            rows = cur.all(
                "SELECT seq, at, client_id, role, action, credential_ids, outcome FROM service_audit"
                " WHERE seq > %s ORDER BY seq LIMIT %s",
                (after, limit),
            )
        return [AuditEntry(int(r[0]), float(r[1]), str(r[2]), str(r[3]), str(r[4]), json.loads(r[5]), str(r[6]))
                for r in rows]  # fmt: skip


_AUDIT_INSERT = ("INSERT INTO service_audit (at, client_id, role, action, credential_ids, outcome)"
                 " VALUES (%s, %s, %s, %s, %s, %s)")  # fmt: skip


def _audit_row(note: AuditNote, at: float) -> tuple[object, ...]:
    return (at, note.client_id, note.role, note.action, json.dumps(list(note.credential_ids)), note.outcome)

