"""The issuance journal: durability, compare-and-set transitions, twins, revocations, concurrency.

Every behaviour test runs on both backends: SQLite (a file) and a real PostgreSQL (``postgres`` fixture)."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from civiccert.errors import JournalError, ReasonCode
from civiccert.issuance.journal import (
    BatchState,
    CredentialEntry,
    CredentialKind,
    CredentialState,
    Journal,
    RevocationState,
    new_credential_id,
    new_credential_ids,
)
from civiccert.issuance.journal_sqlite import SqliteJournal
from civiccert.issuance.journal_url import anchoring_lease, open_journal


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a fresh journal lives: a SQLite file or a new PostgreSQL database."""
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres").new_database())
    return str(tmp_path / "journal.db")


@pytest.fixture
def journal(target: str) -> Iterator[Journal]:
    j = open_journal(target)
    yield j
    j.close()


def _h(n: int) -> bytes:
    return n.to_bytes(32, "big")


def test_journal_implements_the_protocol(journal: Journal) -> None:
    assert isinstance(journal, Journal)


def test_database_uses_wal_and_full_sync(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    SqliteJournal(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_new_credential_ids_are_128_bit_base32_and_distinct() -> None:
    ids = {new_credential_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == 26 and set(i) <= set("abcdefghijklmnopqrstuvwxyz234567") for i in ids)


def test_ids_made_in_a_batch_are_the_same_form(monkeypatch: pytest.MonkeyPatch) -> None:
    import base64
    import secrets

    assert new_credential_ids(0) == []
    batch = new_credential_ids(1000)
    assert len(set(batch)) == 1000
    assert all(len(i) == 26 and set(i) <= set("abcdefghijklmnopqrstuvwxyz234567") for i in batch)
    raw = bytes(range(48))  # what a CSPRNG read of three ids returns, fixed: each id is its 16 bytes
    monkeypatch.setattr(secrets, "token_bytes", lambda n: raw[:n])
    expected = [base64.b32encode(raw[i : i + 16]).decode().rstrip("=").lower() for i in (0, 16, 32)]
    assert new_credential_ids(3) == expected


@pytest.mark.parametrize("compiled", [True, False])
def test_ids_compiled_and_python_encoders_write_the_same_text(monkeypatch: pytest.MonkeyPatch, compiled: bool) -> None:
    import base64
    import secrets

    from civiccert.issuance import journal

    if compiled and journal.sdissue is None:
        pytest.skip("the compiled helper is not built here (or CIVICCERT_PURE_PYTHON=1)")
    if not compiled:
        monkeypatch.setattr(journal, "sdissue", None)
    raw = bytes(16) + b"\xff" * 16 + secrets.token_bytes(16 * 62)  # all-zero, all-one, and random blocks
    monkeypatch.setattr(secrets, "token_bytes", lambda n: raw[:n])
    expected = [base64.b32encode(raw[i : i + 16]).decode().rstrip("=").lower() for i in range(0, len(raw), 16)]
    assert journal.new_credential_ids(64) == expected


def test_credential_is_durable_once_add_returns(target: str) -> None:
    j = open_journal(target)
    cid = j.add_credential(_h(1), at=100.0)
    j.close()
    reopened = open_journal(target)
    record = reopened.credential(cid)
    assert record.credential_hash == _h(1)
    assert record.state is CredentialState.PENDING
    assert record.created_at == 100.0
    assert record.kind is CredentialKind.DIGITAL
    reopened.close()


def test_batch_lifecycle_moves_credentials_through_states(journal: Journal) -> None:
    ids = [journal.add_credential(_h(i), at=float(i)) for i in range(5)]
    assert [c.credential_id for c in journal.pending(3)] == ids[:3]
    assert journal.oldest_pending_at() == 0.0
    batch = journal.create_batch(ids[:3], _h(99), at=10.0)
    assert (batch.state, batch.size, batch.root) == (BatchState.BUILT, 3, _h(99))
    assert [c.credential_id for c in journal.pending(10)] == ids[3:]
    assert journal.batch_hashes(batch.batch_id) == [_h(0), _h(1), _h(2)]
    assert journal.batch_credential_ids(batch.batch_id) == ids[:3]
    assert journal.credential(ids[1]).leaf_index == 1
    assert journal.credential(ids[1]).state is CredentialState.BATCHED
    assert journal.status_counts()["batched"] == 3

    sent = journal.mark_sent(batch.batch_id, b"\x02raw", _h(7), 4)
    assert (sent.state, sent.raw_tx, sent.tx_hash, sent.nonce) == (BatchState.SENT, b"\x02raw", _h(7), 4)
    assert journal.status_counts()["sent"] == 3
    anchored = journal.mark_anchored(batch.batch_id, block_number=12, block_hash=_h(8), anchored_at=1234)
    assert (anchored.state, anchored.block_number, anchored.anchored_at) == (BatchState.ANCHORED, 12, 1234)
    assert journal.credential(ids[0]).state is CredentialState.ANCHORED
    inputs = journal.receipt_inputs(ids[2])
    assert inputs.batch is not None
    assert inputs.batch.root == _h(99)
    assert inputs.credential.leaf_index == 2
    assert journal.receipt_inputs(ids[4]).batch is None
    counts = journal.status_counts()
    assert (counts["pending"], counts["anchored"], counts["failed"]) == (2, 3, 0)


def test_transitions_are_compare_and_set(journal: Journal) -> None:
    ids = [journal.add_credential(_h(i)) for i in range(2)]
    batch = journal.create_batch(ids, _h(50))
    with pytest.raises(JournalError) as err:
        journal.mark_unanchored(batch.batch_id)
    assert err.value.code is ReasonCode.JOURNAL_CONFLICT
    journal.mark_sent(batch.batch_id, b"raw", _h(1), 0)
    with pytest.raises(JournalError) as err:
        journal.mark_sent(batch.batch_id, b"raw2", _h(2), 1)  # a second signer loses
    assert err.value.code is ReasonCode.JOURNAL_CONFLICT
    assert journal.batch(batch.batch_id).tx_hash == _h(1)
    with pytest.raises(JournalError) as err:
        journal.mark_unsent(batch.batch_id, _h(2))  # not the journaled tx
    assert err.value.code is ReasonCode.JOURNAL_CONFLICT
    rebuilt = journal.mark_unsent(batch.batch_id, _h(1))
    assert (rebuilt.state, rebuilt.raw_tx, rebuilt.nonce) == (BatchState.BUILT, None, None)
    with pytest.raises(JournalError) as err:
        journal.batch(999)
    assert err.value.code is ReasonCode.CREDENTIAL_UNKNOWN
    with pytest.raises(JournalError) as err:
        journal.mark_retry(999, ReasonCode.CHAIN_UNREACHABLE, 0.0)
    assert err.value.code is ReasonCode.CREDENTIAL_UNKNOWN


def test_reorg_moves_anchored_batch_back_to_sent_keeping_the_raw_tx(journal: Journal) -> None:
    cid = journal.add_credential(_h(1))
    batch = journal.create_batch([cid], _h(2))
    journal.mark_sent(batch.batch_id, b"raw", _h(3), 0)
    journal.mark_anchored(batch.batch_id, block_number=5, block_hash=_h(4), anchored_at=9)
    back = journal.mark_unanchored(batch.batch_id)
    assert (back.state, back.raw_tx, back.block_number, back.anchored_at) == (BatchState.SENT, b"raw", None, None)
    assert journal.credential(cid).state is CredentialState.BATCHED


def test_retry_records_code_attempts_and_backoff_then_success_clears_it(journal: Journal) -> None:
    cid = journal.add_credential(_h(1))
    batch = journal.create_batch([cid], _h(2))
    journal.mark_retry(batch.batch_id, ReasonCode.CHAIN_UNREACHABLE, 50.0)
    failed = journal.mark_retry(batch.batch_id, ReasonCode.CHAIN_UNREACHABLE, 70.0)
    assert (failed.attempts, failed.last_error, failed.next_attempt_at) == (2, ReasonCode.CHAIN_UNREACHABLE, 70.0)
    assert failed.state is BatchState.BUILT
    assert journal.status_counts()["failed"] == 1
    journal.mark_sent(batch.batch_id, b"raw", _h(3), 0)
    done = journal.mark_anchored(batch.batch_id, block_number=1, block_hash=_h(4), anchored_at=2)
    assert (done.last_error, done.next_attempt_at, done.attempts) == (None, None, 2)
    assert journal.status_counts()["failed"] == 0


def test_create_batch_is_atomic_and_rejects_already_batched_or_unknown(journal: Journal) -> None:
    ids = [journal.add_credential(_h(i)) for i in range(3)]
    journal.create_batch(ids[:2], _h(90))
    with pytest.raises(JournalError) as err:
        journal.create_batch([ids[2], ids[1]], _h(91))
    assert err.value.code is ReasonCode.JOURNAL_CONFLICT
    assert journal.credential(ids[2]).state is CredentialState.PENDING  # rolled back
    assert [b.root for b in journal.batches()] == [_h(90)]
    with pytest.raises(JournalError) as err:
        journal.create_batch([ids[2], "unknown-credential"], _h(92))
    assert err.value.code is ReasonCode.CREDENTIAL_UNKNOWN
    with pytest.raises(JournalError) as err:
        journal.create_batch([ids[2]], _h(90))  # a root is journaled once
    assert err.value.code is ReasonCode.JOURNAL_CONFLICT


def test_duplicate_hash_or_id_conflicts_but_identical_retry_is_a_no_op(journal: Journal) -> None:
    cid = journal.add_credential(_h(1), credential_id="credential-1")
    assert journal.add_credential(_h(1), credential_id=cid) == cid  # a retried call
    with pytest.raises(JournalError) as err:
        journal.add_credential(_h(1))
    assert err.value.code is ReasonCode.JOURNAL_CONFLICT
    with pytest.raises(JournalError) as err:
        journal.add_credential(_h(2), credential_id=cid)
    assert err.value.code is ReasonCode.JOURNAL_CONFLICT
    with pytest.raises(JournalError) as err:
        journal.add_credentials([CredentialEntry("credential-2", _h(3)), CredentialEntry("credential-3", _h(3))])
    assert err.value.code is ReasonCode.JOURNAL_CONFLICT
    assert journal.status_counts()["pending"] == 1
    # a retried add of a credential whose twin was linked meanwhile is still the same credential
    journal.add_credential(_h(4), CredentialKind.PAPER, twin_id=cid, credential_id="credential-4")
    assert journal.add_credential(_h(1), credential_id=cid) == cid
    assert journal.credential(cid).twin_id == "credential-4"


def test_input_validation_is_misuse_not_journal_error(journal: Journal) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        journal.add_credential(b"short")
    with pytest.raises(ValueError, match="credential_id"):
        journal.add_credential(_h(1), credential_id="bad id with spaces")
    with pytest.raises(ValueError, match="root"):
        journal.create_batch(["x" * 10], b"short")
    with pytest.raises(ValueError, match="at least one"):
        journal.create_batch([], _h(1))


def test_twins_link_both_ways_and_are_revoked_together(journal: Journal) -> None:
    digital, paper = new_credential_id(), new_credential_id()
    journal.add_credentials(
        [
            CredentialEntry(digital, _h(1), CredentialKind.DIGITAL, twin_id=paper),
            CredentialEntry(paper, _h(2), CredentialKind.PAPER, twin_id=digital),
        ]
    )
    later_paper = journal.add_credential(_h(3), CredentialKind.PAPER, twin_id=journal.add_credential(_h(4)))
    twin_of_later = journal.credential(later_paper).twin_id
    assert twin_of_later is not None
    assert journal.credential(twin_of_later).twin_id == later_paper
    assert journal.credential(paper).twin_id == digital

    revocation = journal.add_revocation([paper], reason=3, at=5.0)
    assert revocation is not None
    assert revocation.credential_ids == (paper, digital)
    assert set(revocation.credential_hashes) == {_h(1), _h(2)}
    assert (revocation.state, revocation.reason) == (RevocationState.REQUESTED, 3)
    assert journal.add_revocation([digital], reason=3) is None  # already requested
    assert journal.status_counts()["revocations_open"] == 1
    sent = journal.mark_revocation_sent(revocation.revocation_id, b"raw", _h(9), 2)
    assert sent.state is RevocationState.SENT
    retry = journal.mark_revocation_retry(revocation.revocation_id, ReasonCode.CHAIN_UNREACHABLE, 30.0)
    assert (retry.attempts, retry.last_error) == (1, ReasonCode.CHAIN_UNREACHABLE)
    done = journal.mark_revocation_confirmed(revocation.revocation_id, block_number=3, at=40)
    assert done.state is RevocationState.CONFIRMED
    assert journal.revocations(RevocationState.REQUESTED, RevocationState.SENT) == []
    assert journal.status_counts()["revocations_open"] == 0


def test_a_chunk_is_one_insert_and_twins_journaled_together_need_no_back_link(
    journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both backends: a chunk's rows go in one statement (SQLite: one executemany; PostgreSQL: one INSERT of
    arrays), every row counted, and a twin pair journaled in the same call is written linked, so only a twin
    journaled earlier gets its back link UPDATE."""
    from civiccert.dbtx import Db

    calls: list[tuple[str, int]] = []
    many, run = Db.many, Db.run

    def spy(method: Any) -> Any:
        def spied(self: Db, sql: str, params: Any = ()) -> int:
            changed = int(method(self, sql, params))
            if sql.startswith(("INSERT", "UPDATE")):
                calls.append((sql.split(maxsplit=1)[0], changed))
            return changed

        return spied

    monkeypatch.setattr(Db, "many", spy(many))
    monkeypatch.setattr(Db, "run", spy(run))
    ids = new_credential_ids(6)
    pairs = [(ids[i], ids[i + 1]) for i in range(0, 6, 2)]
    journal.add_credentials(
        [
            entry
            for n, (digital, paper) in enumerate(pairs)
            for entry in (
                CredentialEntry(digital, _h(10 + n), CredentialKind.DIGITAL, twin_id=paper),
                CredentialEntry(paper, _h(20 + n), CredentialKind.PAPER, twin_id=digital),
            )
        ]
    )
    assert calls == [("INSERT", 6)]
    assert [r.credential_id for r in journal.pending(10)] == [cid for pair in pairs for cid in pair]  # call order
    assert all(journal.credential(p).twin_id == d and journal.credential(d).twin_id == p for d, p in pairs)

    calls.clear()
    earlier = journal.add_credential(_h(30))
    calls.clear()
    later = journal.add_credential(_h(31), CredentialKind.PAPER, twin_id=earlier)
    assert calls == [("INSERT", 1), ("UPDATE", 1)]
    assert journal.credential(earlier).twin_id == later


def test_twin_rules(journal: Journal) -> None:
    digital = journal.add_credential(_h(1))
    with pytest.raises(ValueError, match="twin"):
        journal.add_credential(_h(2), CredentialKind.DIGITAL, twin_id=digital)
    with pytest.raises(JournalError) as err:
        journal.add_credential(_h(2), CredentialKind.PAPER, twin_id="not-journaled")
    assert err.value.code is ReasonCode.CREDENTIAL_UNKNOWN
    journal.add_credential(_h(3), CredentialKind.PAPER, twin_id=digital)
    with pytest.raises(JournalError) as err:
        journal.add_credential(_h(4), CredentialKind.PAPER, twin_id=digital)  # digital already has a twin
    assert err.value.code is ReasonCode.JOURNAL_CONFLICT
    with pytest.raises(JournalError) as err:
        journal.add_revocation(["not-journaled"], reason=1)
    assert err.value.code is ReasonCode.CREDENTIAL_UNKNOWN


def test_journal_stores_only_ids_hashes_states_and_times(journal: Journal, target: str) -> None:
    tables = ("credentials", "batches", "revocations", "revocation_items")
    if target.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(target) as pg:
            rows = pg.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ANY(%s)", (list(tables),)
            ).fetchall()
        columns = {row[0] for row in rows}
    else:
        conn = sqlite3.connect(target)
        columns = {row[1] for table in tables for row in conn.execute(f"PRAGMA table_info({table})")}
        conn.close()
    allowed = {
        "seq", "credential_id", "credential_hash", "kind", "twin_id", "created_at", "batch_id", "leaf_index",
        "root", "size", "state", "raw_tx", "tx_hash", "nonce", "attempts", "next_attempt_at", "last_error",
        "block_number", "block_hash", "anchored_at", "revocation_id", "reason", "confirmed_at", "position",
    }  # fmt: skip
    assert columns == allowed


def test_unwritable_location_raises_journal_unavailable(tmp_path: Path) -> None:
    with pytest.raises(JournalError) as err:
        SqliteJournal(tmp_path / "missing-dir" / "j.db")
    assert err.value.code is ReasonCode.JOURNAL_UNAVAILABLE


def test_threads_share_one_journal_without_losing_credentials(journal: Journal) -> None:
    def issue(worker: int) -> None:
        for i in range(50):
            journal.add_credential(_h(worker * 1000 + i))

    threads = [threading.Thread(target=issue, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert journal.status_counts()["pending"] == 200


def _claim_worker(path: str, worker: int, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    j = open_journal(path)
    won = 0
    for _ in range(20):
        batch_ids = [c.credential_id for c in j.pending(5)]
        if not batch_ids:
            break
        try:
            j.create_batch(batch_ids, os.urandom(32))
            won += len(batch_ids)
        except JournalError as exc:
            if exc.code is not ReasonCode.JOURNAL_CONFLICT:
                results.put(-1_000_000)  # fails the sum check in the parent
    j.close()
    results.put(won)


def test_processes_racing_for_pending_credentials_never_batch_one_twice(target: str) -> None:
    path = target
    j = open_journal(path)
    j.add_credentials([CredentialEntry(f"credential-{i:04d}", _h(i)) for i in range(60)])
    ctx = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue = ctx.Queue()  # type: ignore[type-arg]
    workers = [ctx.Process(target=_claim_worker, args=(str(path), w, results)) for w in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(30)
    assert all(w.exitcode == 0 for w in workers)
    assert sum(results.get(timeout=5) for _ in workers) == 60
    sizes = sum(b.size for b in j.batches())
    assert sizes == 60
    assert j.status_counts()["pending"] == 0
    j.close()


def test_only_one_process_holds_the_anchoring_lease(target: str) -> None:
    first, second = open_journal(target), open_journal(target)
    with anchoring_lease(first) as held:
        assert held
        with anchoring_lease(second) as other:
            assert not other  # another journal instance (another process, another host) must wait
    with anchoring_lease(second) as held_after:
        assert held_after  # released when the holder finished
    first.close()
    second.close()
