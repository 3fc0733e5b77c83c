"""A request killed between reserving its Idempotency-Key and storing its answer does not block retries for ever:
a reservation whose owner died (or that is older than ``stale_after_seconds``) is taken over by one retry."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from civiccert.service.store import ServiceStore


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
