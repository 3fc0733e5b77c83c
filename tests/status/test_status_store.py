"""The status store on both backends: the home's SQLite file and a shared PostgreSQL (``postgres`` fixture)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import psycopg
import pytest

import civiccert as cc
from civiccert.errors import JournalError, ReasonCode
from civiccert.issuance.home import HomeConfig
from civiccert.status import Status
from civiccert.status.store import StatusStore

from pgkit import PostgresServer
from worldkit import PASSPHRASE, World, make_world


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres").new_database())
    return str(tmp_path / "journal.sqlite3")


def test_indexes_are_random_unique_and_stable_on_retry(target: str) -> None:
    store = StatusStore(target, list_size=64)
    try:
        entries = [store.allocate(f"c{i}", "https://s.example/1") for i in range(40)]
        assert len({e.idx for e in entries}) == 40  # unique per list
        assert sorted(e.idx for e in entries) != [e.idx for e in entries]  # not issuance order
        assert store.allocate("c3", "https://s.example/1") == entries[3]  # a retry gets the same index
        for i in range(40, 48):
            store.allocate(f"c{i}", "https://s.example/1")
        with pytest.raises(JournalError) as info:
            store.allocate("c48", "https://s.example/1")
        assert info.value.code is ReasonCode.CONFIG_INVALID  # 75% full: roll over to a new list
    finally:
        store.close()


def test_a_batch_allocation_is_one_by_one_allocation_in_fewer_statements(target: str) -> None:
    # 90 draws from 128 indexes: indexes drawn twice in one batch are certain, and must go one by one
    store = StatusStore(target, list_size=128)
    try:
        before = store.allocate_many(["r0", "r1"], "https://s.example/1")
        ids = [f"c{i}" for i in range(90)]
        batch = store.allocate_many([*ids, "r1", "c5"], "https://s.example/1")  # a retry, an id twice
        assert [e.credential_id for e in batch] == [*ids, "r1", "c5"]
        assert batch[-2] == before[1]
        assert batch[-1] == batch[5]
        assert len({e.idx for e in (*before, *batch[:90])}) == 92  # all distinct, none lost to a collision
        assert [store.entry(i) for i in ids] == batch[:90]  # what was returned is what was stored
        assert {e.status for e in batch} == {Status.VALID}
        with pytest.raises(JournalError) as info:  # 92 + 5 > 96 (75%): the rows past it are refused
            store.allocate_many([f"d{i}" for i in range(5)], "https://s.example/1")
        assert info.value.code is ReasonCode.CONFIG_INVALID
    finally:
        store.close()


def test_changes_are_durable_for_another_connection_and_revocation_is_final(target: str) -> None:
    store = StatusStore(target, list_size=1024)
    other = StatusStore(target, list_size=1024)  # another server on the same database
    try:
        a, b = store.allocate("a", "https://s.example/1"), store.allocate("b", "https://s.example/1")
        store.set_status("a", Status.SUSPENDED, allowed_from=(Status.VALID,))
        store.set_status("b", Status.INVALID, allowed_from=(Status.VALID,))
        assert other.entry("a").status is Status.SUSPENDED
        built = other.build("https://s.example/1")
        assert (built[a.idx], built[b.idx]) == (Status.SUSPENDED, Status.INVALID)
        with pytest.raises(JournalError) as info:
            other.set_status("b", Status.VALID, allowed_from=(Status.SUSPENDED,))
        assert info.value.code is ReasonCode.JOURNAL_CONFLICT
        publication = other.add_publication(b"{}", bytes(32), at=5.0)
        assert store.next_seq() == publication.seq + 1
        marked = store.mark_publication(publication.seq, tx_hash=b"\x01" * 32, block_number=7)
        assert (marked.block_number, [p.seq for p in other.publications()]) == (7, [publication.seq])
        with pytest.raises(JournalError) as info:
            store.entry("nobody")
        assert info.value.code is ReasonCode.CREDENTIAL_UNKNOWN
    finally:
        store.close()
        other.close()


def test_racing_allocations_from_two_servers_never_share_an_index(target: str) -> None:
    stores = [StatusStore(target, list_size=4096) for _ in range(2)]
    got: list[int] = []

    def allocate(store: StatusStore, prefix: str) -> None:
        got.extend(store.allocate(f"{prefix}{i}", "https://s.example/1").idx for i in range(150))

    threads = [threading.Thread(target=allocate, args=(s, p)) for s, p in zip(stores, "xy", strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(got) == len(set(got)) == 300
    for store in stores:
        store.close()


def test_issuer_on_postgres_keeps_status_in_postgres(tmp_path: Path, postgres: PostgresServer) -> None:
    world: World = make_world(tmp_path)
    url = postgres.new_database()
    issuer = cc.Issuer.open(world.home, passphrase=PASSPHRASE, chain=world.chain, journal_url=url)
    try:
        cred = issuer.issue(world.seal())
        issuer.revoke_in_list(cred)
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT status FROM status_entries WHERE credential_id = %s", (cred.id,)).fetchone()
        assert row == (int(Status.INVALID),)
        journal_file = HomeConfig.journal_path(world.home)
        with sqlite3.connect(journal_file) as conn:
            rows = conn.execute("SELECT count(*) FROM status_entries WHERE credential_id = ?", (cred.id,)).fetchone()
        assert rows == (0,)  # nothing written to the home's SQLite file
        publication, _ = issuer.publish_status(tmp_path / "lists", anchor=False)
        verifier = cc.Verifier(trust=issuer.trust_export(),
                               status_lists=cc.status.StatusListSource(directory=tmp_path / "lists"))
        assert verifier.verify(cred).verdict is cc.Verdict.INVALID
        assert publication.root
    finally:
        issuer.close()
        world.issuer.close()


@pytest.mark.parametrize("size", [16, 100, 131_072, 131_073])
def test_random_indexes_cover_the_whole_list_and_nothing_past_it(size: int) -> None:
    from civiccert.status.store import random_indexes

    drawn = random_indexes(20_000, size)
    assert len(drawn) == 20_000
    assert all(0 <= idx < size for idx in drawn)
    assert len(set(drawn)) > min(size, 20_000) * 0.6  # uniform, not a few values repeated
    if size == 16:
        assert set(drawn) == set(range(16))
    assert random_indexes(0, size) == []


def test_the_fill_counter_starts_from_the_rows_of_an_older_journal_and_is_shared(target: str) -> None:
    # a journal written before the counter existed: 40 entries in the list, no counter row
    old = StatusStore(target, list_size=64)
    try:
        old.allocate_many([f"c{i}" for i in range(40)], "https://s.example/1")
        with old._write() as db:  # what an older release left behind
            db.run("DELETE FROM status_list_fill")
    finally:
        old.close()
    first, second = StatusStore(target, list_size=64), StatusStore(target, list_size=64)  # two servers
    try:
        first.allocate_many([f"d{i}" for i in range(4)], "https://s.example/1")  # counts the 40 once: 44
        second.allocate_many([f"e{i}" for i in range(4)], "https://s.example/1")  # 48 = 75 % of 64
        for store in (first, second):
            with pytest.raises(JournalError) as info:
                store.allocate("f", "https://s.example/1")
            assert info.value.code is ReasonCode.CONFIG_INVALID
        assert first.allocate("d1", "https://s.example/1") == second.entry("d1")  # a retry still answers
        assert first.allocate("g", "https://s.example/2").uri == "https://s.example/2"  # each list its own count
    finally:
        first.close()
        second.close()
