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

This module holds what every backend shares without SQL: the entries, records and states, the ``Journal``
interface (state transitions, no storage details), the checks of what callers hand in and the decoding of
rows into records. The SQL is written once in :mod:`~civiccert.issuance.journal_sql`;
:mod:`~civiccert.issuance.journal_sqlite` (``SqliteJournal``: one host) and :mod:`~civiccert.issuance.journal_pg`
(``PgJournal``: several hosts) add only their connection, transaction and dialect. Every transition is a
compare-and-set on the expected state, so two workers racing on the same batch cannot both win: the loser
gets ``JournalError(JOURNAL_CONFLICT)``.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from civiccert.credentials._native import sdissue
from civiccert.errors import ReasonCode

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
    "new_credential_id",
    "new_credential_ids",
]

_HASH_SIZE = 32
_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{8,64}")


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
    exactly the unpadded encoding of the 16 bytes. The compiled helper writes the same text in one C pass.
    """
    raw = secrets.token_bytes(16 * count)
    if sdissue is not None:
        return sdissue.b32_ids(raw)
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
        **_tx_fields(row, 5),
        block_number=_opt_int(row[11]),
        block_hash=_opt_bytes(row[12]),
        anchored_at=_opt_int(row[13]),
    )


def _revocation(row: Sequence[Any], items: Sequence[Sequence[Any]]) -> RevocationRecord:
    """A revocations row and its (credential id, credential hash) items in position order."""
    return RevocationRecord(
        revocation_id=int(row[0]),
        credential_ids=tuple(str(item[0]) for item in items),
        credential_hashes=tuple(bytes(item[1]) for item in items),
        reason=int(row[1]),
        state=RevocationState(row[2]),
        created_at=float(row[3]),
        **_tx_fields(row, 4),
        block_number=_opt_int(row[10]),
        confirmed_at=_opt_int(row[11]),
    )


def _tx_fields(row: Sequence[Any], at: int) -> dict[str, Any]:
    """The signed transaction and retry columns batches and revocations share, in the same order from ``at``."""
    raw_tx, tx_hash, nonce, attempts, next_attempt_at, last_error = row[at : at + 6]
    return {
        "raw_tx": _opt_bytes(raw_tx),
        "tx_hash": _opt_bytes(tx_hash),
        "nonce": _opt_int(nonce),
        "attempts": int(attempts),
        "next_attempt_at": None if next_attempt_at is None else float(next_attempt_at),
        "last_error": None if last_error is None else ReasonCode(last_error),
    }


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _opt_bytes(value: Any) -> bytes | None:
    return None if value is None else bytes(value)


_KINDS = frozenset(CredentialKind)


def _check_entry(entry: CredentialEntry, position: int) -> None:
    if not isinstance(entry.credential_id, str) or not _ID_PATTERN.fullmatch(entry.credential_id):
        raise ValueError(f"entries[{position}].credential_id must be 8-64 characters of [A-Za-z0-9_-]")
    if not isinstance(entry.credential_hash, bytes) or len(entry.credential_hash) != _HASH_SIZE:
        raise ValueError(f"entries[{position}].credential_hash must be 32 bytes")
    if entry.kind not in _KINDS:  # the set first: the enum's call costs more than the whole rest of the check
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
