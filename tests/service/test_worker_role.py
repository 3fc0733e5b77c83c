"""The worker role of ``serve --workers``: one holder at a time, the others wait (no polling) and take over."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from civiccert.service.workers import worker_role

from pgkit import PostgresServer


def _one_holder_then_the_next(target: str) -> None:
    order: list[str] = []

    def second() -> None:
        with worker_role(target):  # its own lock file handle / database session: blocks like another process
            order.append("second acquired")

    with worker_role(target):
        order.append("first acquired")
        waiter = threading.Thread(target=second)
        waiter.start()
        time.sleep(0.3)
        assert waiter.is_alive()  # still waiting while the first holds the role
        order.append("first releasing")
    waiter.join(10)
    assert not waiter.is_alive()
    assert order == ["first acquired", "first releasing", "second acquired"]


def test_sqlite_role_has_one_holder_and_passes_on_when_released(tmp_path: Path) -> None:
    _one_holder_then_the_next(str(tmp_path / "journal.sqlite"))


@pytest.mark.slow
def test_postgres_role_has_one_holder_and_passes_on_when_released(postgres: PostgresServer) -> None:
    _one_holder_then_the_next(postgres.new_database())
