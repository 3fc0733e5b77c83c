"""The service's log lines: the direct write (one handler, ours) and the ``logging`` path give the same JSON,
and any other set-up (pytest's capture, an application's handler) still receives every event."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from civiccert.service import logs


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    saved = (list(logs.LOGGER.handlers), logs.LOGGER.level, logs.LOGGER.propagate)
    logs.LOGGER.handlers.clear()
    logs.configure_logging()
    buffer = io.StringIO()
    handler = logs.LOGGER.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.stream = buffer
    yield buffer
    logs.LOGGER.handlers[:], logs.LOGGER.level, logs.LOGGER.propagate = saved


def test_direct_and_logging_paths_write_the_same_line(stream: io.StringIO) -> None:
    logs.log_event("request", method="POST", route="/v1/credentials", status=201, ms=1.5)
    keep = logging.Filter()  # a filter on the logger: the line goes through logging
    logs.LOGGER.addFilter(keep)
    try:
        logs.log_event("request", method="POST", route="/v1/credentials", status=201, ms=1.5)
    finally:
        logs.LOGGER.removeFilter(keep)
    direct, through = (json.loads(line) for line in stream.getvalue().splitlines())
    for line in (direct, through):
        assert line.keys() == {"ts", "level", "event", "at", "method", "route", "status", "ms"}
        assert (line["level"], line["event"], line["status"]) == ("info", "request", 201)
        assert line["ts"] == round(line["at"], 3)


def test_levels_below_the_logger_level_are_dropped(stream: io.StringIO) -> None:
    logs.LOGGER.setLevel(logging.WARNING)
    logs.log_event("request", status=201)
    logs.log_event("abandon_failed", level=logging.WARNING, requests=2)
    assert [json.loads(line)["event"] for line in stream.getvalue().splitlines()] == ["abandon_failed"]
    assert json.loads(stream.getvalue())["level"] == "warning"


def test_another_handler_receives_every_event(stream: io.StringIO) -> None:
    extra = logging.Handler()
    seen: list[logging.LogRecord] = []
    extra.emit = seen.append  # type: ignore[method-assign]
    logs.LOGGER.addHandler(extra)
    try:
        logs.log_event("request", status=404)
    finally:
        logs.LOGGER.removeHandler(extra)
    assert [r.getMessage() for r in seen] == ["request"]
    assert json.loads(stream.getvalue())["status"] == 404
