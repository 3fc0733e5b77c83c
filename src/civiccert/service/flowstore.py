"""Wallet flow state in the journal's database, shared by every server process on it and kept over restarts.

Three tables beside the service store's (same SQLite file or PostgreSQL database, own connection):

``service_offer``: OpenID4VCI credential offers. The record document to issue is the only personal data; it is
set to NULL when the credential is issued or the offer is locked by wrong PINs, and the row is deleted at
``purge_at`` (expiry + token lifetime). PINs and access tokens are kept only as SHA-256; the pre-authorized
code is kept as is because the offer object (``GET /oid4vci/offers/{id}``) hands it to the wallet.

``service_nonce``: unused c_nonces; using one deletes it.

``service_presentation``: OpenID4VP transactions (request, state, then the verdict for the relying party).

Every single use is decided by the database, never by a read followed by a write: a conditional UPDATE or
DELETE whose WHERE clause states the rule (``attempts < max``, ``token_hash IS NULL``, ``used = 0``,
``done = 0``, not expired) and whose row count says who won. SQLite serialises writers (BEGIN IMMEDIATE);
PostgreSQL re-checks the WHERE clause of an UPDATE on the row it waited for, so concurrent servers agree.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from civiccert.dbtx import Db
from civiccert.service.database import ServiceDatabase

__all__ = ["FlowStore", "OfferRow", "PresentationRow"]

_PURGE_EVERY = 60.0  # seconds between deletions of expired rows (not on every request)

_TABLES = """
CREATE TABLE IF NOT EXISTS service_offer (
    offer_id         TEXT PRIMARY KEY,
    code             TEXT NOT NULL UNIQUE,
    configuration_id TEXT NOT NULL,
    record           TEXT,
    clerk_id         TEXT NOT NULL,
    clerk_role       TEXT NOT NULL,
    tx_code_hash     TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    token_hash       TEXT UNIQUE,
    token_expires_at DOUBLE PRECISION,
    used             INTEGER NOT NULL DEFAULT 0,
    credential_ids   TEXT,
    expires_at       DOUBLE PRECISION NOT NULL,
    purge_at         DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS service_offer_purge ON service_offer (purge_at);
CREATE TABLE IF NOT EXISTS service_nonce (
    nonce      TEXT PRIMARY KEY,
    expires_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS service_nonce_expires ON service_nonce (expires_at);
CREATE TABLE IF NOT EXISTS service_presentation (
    transaction_id TEXT PRIMARY KEY,
    state          TEXT NOT NULL UNIQUE,
    request        TEXT NOT NULL,
    expires_at     DOUBLE PRECISION NOT NULL,
    done           INTEGER NOT NULL DEFAULT 0,
    outcome        TEXT,
    error          TEXT,
    purge_at       DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS service_presentation_purge ON service_presentation (purge_at)
"""
_SELECT_OFFER = {
    "offer_id": "SELECT offer_id, code, configuration_id, record, clerk_id, clerk_role, tx_code_hash, attempts,"
    " token_hash, token_expires_at, used, credential_ids, expires_at, purge_at FROM service_offer WHERE offer_id = %s",
    "code": "SELECT offer_id, code, configuration_id, record, clerk_id, clerk_role, tx_code_hash, attempts,"
    " token_hash, token_expires_at, used, credential_ids, expires_at, purge_at FROM service_offer WHERE code = %s",
    "token_hash": "SELECT offer_id, code, configuration_id, record, clerk_id, clerk_role, tx_code_hash, attempts,"
    " token_hash, token_expires_at, used, credential_ids, expires_at, purge_at FROM service_offer"
    " WHERE token_hash = %s",
}
_SELECT_PRESENTATION = {
    "transaction_id": "SELECT transaction_id, state, request, expires_at, done, outcome, error"
    " FROM service_presentation WHERE transaction_id = %s",
    "state": "SELECT transaction_id, state, request, expires_at, done, outcome, error FROM service_presentation"
    " WHERE state = %s",
}
_PURGE = ("DELETE FROM service_offer WHERE purge_at < %s", "DELETE FROM service_nonce WHERE expires_at < %s",
          "DELETE FROM service_presentation WHERE purge_at < %s")  # fmt: skip


@dataclass(frozen=True)
class OfferRow:
    """One stored offer (``record``: the record document as JSON text, None once issued or locked)."""

    offer_id: str
    code: str
    configuration_id: str
    record: str | None
    clerk_id: str
    clerk_role: str
    tx_code_hash: str
    attempts: int
    token_hash: str | None
    token_expires_at: float | None
    used: bool
    credential_ids: list[str]
    expires_at: float
    purge_at: float


@dataclass(frozen=True)
class PresentationRow:
    """One stored presentation transaction (``request``: the authorization request as sent to the wallet)."""

    transaction_id: str
    state: str
    request: dict[str, Any]
    expires_at: float
    done: bool
    outcome: dict[str, Any] | None
    error: str | None


class FlowStore:
    """The wallet flows' tables in the SQLite file or PostgreSQL database ``target`` (the journal's)."""

    def __init__(self, target: str) -> None:
        self._db = ServiceDatabase(target)
        self._pg = self._db.pg
        self._tx = self._db.tx
        self._purged_at = 0.0
        with self._tx() as cur:
            if self._pg:
                cur.run("SELECT pg_advisory_xact_lock(7362)")  # several servers creating the tables at once
            for statement in _TABLES.split(";"):
                cur.run(statement)
            self._purge(cur, time.time())  # what expired while no server ran

    # --- plumbing --------------------------------------------------------------------------------------
    def close(self) -> None:
        self._db.close()

    def purge(self, now: float | None = None) -> int:
        """Delete every row past its purge time (expired offers with their record, nonces, verdicts)."""
        with self._tx() as cur:
            return self._purge(cur, time.time() if now is None else now)

    def _purge(self, cur: Db, now: float) -> int:
        self._purged_at = now
        deleted = 0
        for statement in _PURGE:
            deleted += cur.run(statement, (now,))
        return deleted

    def _maybe_purge(self, cur: Db, now: float) -> None:
        if now - self._purged_at >= _PURGE_EVERY:
            self._purge(cur, now)

    # --- OpenID4VCI offers -----------------------------------------------------------------------------
    def add_offer(self, row: OfferRow, *, now: float) -> None:
        with self._tx() as cur:
            self._maybe_purge(cur, now)
            cur.run(
                "INSERT INTO service_offer (offer_id, code, configuration_id, record, clerk_id, clerk_role,"
                " tx_code_hash, expires_at, purge_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (row.offer_id, row.code, row.configuration_id, row.record, row.clerk_id, row.clerk_role,
                 row.tx_code_hash, row.expires_at, row.purge_at),
            )  # fmt: skip

    def offer(self, *, offer_id: str | None = None, code: str | None = None,
              token_hash: str | None = None) -> OfferRow | None:  # fmt: skip
        """The offer with this id, pre-authorized code or access-token hash (exactly one given)."""
        column, value = next((c, v) for c, v in (("offer_id", offer_id), ("code", code),
                                                 ("token_hash", token_hash)) if v is not None)  # fmt: skip
        with self._tx() as cur:
            row = cur.one(_SELECT_OFFER[column], (value,))
        if row is None:
            return None
        return OfferRow(str(row[0]), str(row[1]), str(row[2]), row[3], str(row[4]), str(row[5]), str(row[6]),
                        int(row[7]), row[8], None if row[9] is None else float(row[9]), bool(row[10]),
                        json.loads(row[11]) if row[11] else [], float(row[12]), float(row[13]))  # fmt: skip

    def count_wrong_pin(self, offer_id: str, *, max_attempts: int, now: float) -> int | None:
        """Count one wrong PIN on a live offer: the attempts so far, or None when the offer was no longer live
        (locked, redeemed, used or expired). The attempt that reaches the limit drops the record."""
        with self._tx() as cur:
            changed = cur.run(
                "UPDATE service_offer SET attempts = attempts + 1,"
                " record = CASE WHEN attempts + 1 >= %s THEN NULL ELSE record END WHERE offer_id = %s"
                " AND attempts < %s AND token_hash IS NULL AND used = 0 AND expires_at >= %s",
                (max_attempts, offer_id, max_attempts, now),
            )
            if changed != 1:
                return None
            row = cur.one("SELECT attempts FROM service_offer WHERE offer_id = %s", (offer_id,))
        return int(row[0])

    def grant_token(self, offer_id: str, token_hash: str, token_expires_at: float, *, max_attempts: int,
                    now: float) -> bool:  # fmt: skip
        """Bind an access token to a live offer; False when another request redeemed it first (or it died)."""
        with self._tx() as cur:
            changed = cur.run(
                "UPDATE service_offer SET token_hash = %s, token_expires_at = %s WHERE offer_id = %s"
                " AND attempts < %s AND token_hash IS NULL AND used = 0 AND expires_at >= %s",
                (token_hash, token_expires_at, offer_id, max_attempts, now),
            )
            return changed == 1

    def claim_offer(self, offer_id: str, *, now: float) -> bool:
        """Take a redeemed offer for issuing; False when another request took it (or its token expired)."""
        with self._tx() as cur:
            changed = cur.run(
                "UPDATE service_offer SET used = 1 WHERE offer_id = %s AND used = 0 AND token_hash IS NOT NULL"
                " AND token_expires_at >= %s",
                (offer_id, now),
            )
            return changed == 1

    def release_offer(self, offer_id: str) -> None:
        """Give a claimed offer back when issuing failed before any credential existed."""
        with self._tx() as cur:
            cur.run("UPDATE service_offer SET used = 0 WHERE offer_id = %s AND credential_ids IS NULL",
                    (offer_id,))  # fmt: skip

    def finish_offer(self, offer_id: str, credential_ids: Sequence[str]) -> None:
        """The offer's credentials exist: drop the record (the personal data leaves with the credential)."""
        with self._tx() as cur:
            cur.run("UPDATE service_offer SET record = NULL, credential_ids = %s WHERE offer_id = %s",
                    (json.dumps(list(credential_ids)), offer_id))  # fmt: skip

    # --- OpenID4VCI c_nonces ---------------------------------------------------------------------------
    def add_nonce(self, nonce: str, expires_at: float, *, now: float) -> None:
        with self._tx() as cur:
            self._maybe_purge(cur, now)
            cur.run("INSERT INTO service_nonce (nonce, expires_at) VALUES (%s, %s)", (nonce, expires_at))

    def consume_nonce(self, nonce: str, *, now: float) -> bool:
        """Use a c_nonce up: True for exactly one caller, and only while it has not expired."""
        with self._tx() as cur:
            changed = cur.run("DELETE FROM service_nonce WHERE nonce = %s AND expires_at >= %s", (nonce, now))
            return changed == 1

    # --- OpenID4VP transactions ------------------------------------------------------------------------
    def add_presentation(self, transaction_id: str, state: str, request: dict[str, Any], expires_at: float,
                         purge_at: float, *, now: float) -> None:  # fmt: skip
        with self._tx() as cur:
            self._maybe_purge(cur, now)
            cur.run(
                "INSERT INTO service_presentation (transaction_id, state, request, expires_at, purge_at)"
                " VALUES (%s, %s, %s, %s, %s)",
                (transaction_id, state, json.dumps(request, ensure_ascii=False), expires_at, purge_at),
            )

    def presentation(self, *, transaction_id: str | None = None, state: str | None = None) -> PresentationRow | None:
        column, value = ("transaction_id", transaction_id) if transaction_id is not None else ("state", state)
        with self._tx() as cur:
            row = cur.one(_SELECT_PRESENTATION[column], (value,))
        if row is None:
            return None
        return PresentationRow(str(row[0]), str(row[1]), json.loads(row[2]), float(row[3]), bool(row[4]),
                               json.loads(row[5]) if row[5] else None, row[6])  # fmt: skip

    def claim_presentation(self, state: str, *, now: float) -> PresentationRow | None:
        """Close the open transaction of ``state`` for exactly one response (None: unknown, used or expired)."""
        with self._tx() as cur:
            changed = cur.run("UPDATE service_presentation SET done = 1 WHERE state = %s AND done = 0"
                              " AND expires_at >= %s", (state, now))  # fmt: skip
            if changed != 1:
                return None
        return self.presentation(state=state)

    def settle_presentation(self, transaction_id: str, *, outcome: dict[str, Any] | None = None,
                            error: str | None = None) -> None:  # fmt: skip
        """Store the verdict (or the wallet's error) the relying party polls for."""
        with self._tx() as cur:
            cur.run("UPDATE service_presentation SET outcome = %s, error = %s WHERE transaction_id = %s",
                    (None if outcome is None else json.dumps(outcome, ensure_ascii=False), error,
                         transaction_id))  # fmt: skip

