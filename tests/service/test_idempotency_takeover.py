"""A request killed between reserving its Idempotency-Key and storing its answer does not block retries for ever:
a reservation whose owner died (or that is older than ``stale_after_seconds``) is taken over by one retry."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from civiccert.service.store import AuditNote, Finished, ServiceStore, StoredResponse


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres").new_database())
    return str(tmp_path / "journal.sqlite3")


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_dead_owners_reservation_is_taken_over_once_and_a_live_one_is_not(target: str) -> None:
    killed = ServiceStore(target)
    killed.owner = f"{socket.gethostname()}:{_dead_pid()}"  # the server that was SIGKILLed mid-request
    assert killed.begin("clerk", "key-0001", "h1") is None
    alive = ServiceStore(target)
    assert alive.begin("clerk", "key-0002", "h2") is None  # this process: still running
    retries = [ServiceStore(target) for _ in range(4)]
    won: list[bool] = []
    barrier = threading.Barrier(len(retries))

    def retry(store: ServiceStore) -> None:
        barrier.wait()
        won.append(store.begin("clerk", "key-0001", "h1") is None)

    threads = [threading.Thread(target=retry, args=(s,)) for s in retries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(won) == [False, False, False, True]  # exactly one retry runs the request again
    in_progress = retries[0].begin("clerk", "key-0002", "h2")
    assert in_progress is not None
    assert in_progress.status is None  # a live owner: 409 in progress
    other_body = retries[0].begin("clerk", "key-0001", "another")
    assert other_body is not None
    assert other_body.request_hash == "h1"  # another body is never a takeover: 422 key reused
    for store in (killed, alive, *retries):
        store.close()


def test_a_reservation_older_than_the_limit_is_taken_over_and_a_finished_one_is_replayed(target: str) -> None:
    remote = ServiceStore(target)
    remote.owner = "another-host:4242"  # a dead host cannot be asked: only its age tells
    assert remote.begin("clerk", "key-0003", "h3") is None
    patient = ServiceStore(target, stale_after_seconds=3600)
    in_progress = patient.begin("clerk", "key-0003", "h3")
    assert in_progress is not None
    assert in_progress.status is None
    impatient = ServiceStore(target, stale_after_seconds=-1)
    assert impatient.begin("clerk", "key-0003", "h3") is None
    impatient.finish("clerk", "key-0003", 201, {"credential": "x"})
    late = ServiceStore(target, stale_after_seconds=-1)
    replay = late.begin("clerk", "key-0003", "h3")
    assert replay is not None
    assert (replay.status, replay.body) == (201, {"credential": "x"})  # done: replayed, never re-run
    for store in (remote, patient, impatient, late):
        store.close()


def test_a_group_reserves_new_keys_once_and_answers_known_ones_like_single_requests(target: str) -> None:
    store = ServiceStore(target)
    assert store.begin("clerk-system", "group-done-0001", "h-done") is None
    store.finish("clerk-system", "group-done-0001", 201, {"credential": {"id": "done"}})
    assert store.begin("clerk-system", "group-busy-0001", "h-busy") is None
    answers = store.begin_many([
        ("clerk-system", "group-new-0001", "h1"), ("clerk-system", "group-done-0001", "h-done"),
        ("clerk-system", "group-busy-0001", "h-busy"), ("clerk-system", "group-new-0002", "h2"),
        ("clerk-system", "group-new-0001", "h1"), ("clerk-system", "group-done-0001", "other"),
    ])  # fmt: skip
    assert answers[0] is None
    assert answers[3] is None
    assert answers[1] == StoredResponse("h-done", 201, {"credential": {"id": "done"}})  # replayed
    assert answers[2] == StoredResponse("h-busy", None, None)  # in progress
    assert answers[4] == StoredResponse("h1", None, None)  # the same key twice in a group: the second waits
    assert answers[5] is not None
    assert answers[5].request_hash == "h-done"  # another request under a used key: refused by the caller
    note = AuditNote("clerk-system", "clerk", "issue", ("c1",), "ok")
    store.finish_many([Finished("clerk-system", "group-new-0001", 201, {"n": 1}, note),
                       Finished("clerk-system", "group-new-0002", 201, {"n": 2}, None, '{"n":2}')])  # fmt: skip
    assert store.begin("clerk-system", "group-new-0002", "h2") == StoredResponse("h2", 201, {"n": 2})
    assert [e.credential_ids for e in store.audit_entries()] == [["c1"]]
    store.close()


def test_stored_responses_are_lz4_compressed_on_postgres_and_replay_unchanged(postgres: Any) -> None:
    """A stored issue response (~9 KB) is TOASTed: lz4, not pglz (PostgreSQL's default, which spent two thirds
    of the database's CPU per issue failing to compress it); a table made before keeps working and is switched."""
    import psycopg

    url = str(postgres.new_database())
    with psycopg.connect(url, autocommit=True) as conn:  # an older server's table: default compression
        conn.execute("CREATE TABLE service_idempotency (client_id TEXT NOT NULL, idem_key TEXT NOT NULL,"
                     " request_hash TEXT NOT NULL, status INTEGER, response TEXT,"
                     " created_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (client_id, idem_key))")  # fmt: skip
    store, again = ServiceStore(url), ServiceStore(url)  # a second server starting finds it done
    body = {"credential": {"sd_jwt": "~".join(f"WyJ{i:04d}" + "x" * 200 for i in range(42))}}
    assert store.begin("clerk-system", "lz4-0001", "h") is None
    store.finish("clerk-system", "lz4-0001", 201, body)
    assert again.begin("clerk-system", "lz4-0001", "h") == StoredResponse("h", 201, body)
    with psycopg.connect(url, autocommit=True) as conn:
        column = conn.execute("SELECT attcompression FROM pg_attribute WHERE attname = 'response'"
                              " AND attrelid = 'service_idempotency'::regclass").fetchone()  # fmt: skip
        stored = conn.execute("SELECT pg_column_compression(response) FROM service_idempotency").fetchone()
    assert column == ("l",)
    assert stored == ("lz4",)
    store.close()
    again.close()
