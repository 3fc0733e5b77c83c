"""Structured logs: one JSON object per line on stderr, with event names, ids and reason codes only.

Nothing personal is ever passed to these loggers (no claim values, names, addresses, tokens or URLs with
query strings), so a log shipper may keep them as they are.

Every request logs a line, so :func:`log_event` writes it straight to the stream of the handler
:func:`configure_logging` installed (the same JSON, under the handler's lock) when that handler is the logger's
only one: a ``LogRecord``, the caller look-up and the handler chain cost more than the line itself. With any
other set-up (handlers added by an embedding application, pytest's capture) it goes through ``logging``.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

__all__ = ["configure_logging", "log_event"]

LOGGER = logging.getLogger("civiccert.service")


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", {})  # "ts" is the event's own time, as on the direct path (not the
        # record's, taken a few µs later: the two could fall on either side of a millisecond)
        return _line(fields.get("at", record.created), record.levelname, record.getMessage(), fields)


def _line(created: float, level: str, event: str, fields: dict[str, Any]) -> str:
    data: dict[str, Any] = {"ts": round(created, 3), "level": level.lower(), "event": event}
    data.update(fields)
    return _ENCODER.encode(data)


_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)  # json.dumps with options builds one per call


def configure_logging(level: int = logging.INFO) -> None:
    """Send the service's logs to stderr as JSON lines (idempotent)."""
    if any(isinstance(h.formatter, _JsonFormatter) for h in LOGGER.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter())
    LOGGER.addHandler(handler)
    LOGGER.setLevel(level)
    LOGGER.propagate = False


def log_event(event: str, *, level: int = logging.INFO, **fields: object) -> None:
    """Log ``event`` with ``fields`` (ids, counts, reason codes: never personal data)."""
    now = time.time()
    handlers = LOGGER.handlers
    if len(handlers) == 1 and not LOGGER.propagate and not LOGGER.filters:
        handler = handlers[0]
        if (type(handler) is logging.StreamHandler and isinstance(handler.formatter, _JsonFormatter)
                and not handler.filters and LOGGER.isEnabledFor(level) and level >= handler.level):  # fmt: skip
            line = _line(now, logging.getLevelName(level), event, {"at": now, **fields})
            handler.acquire()
            try:
                handler.stream.write(line + "\n")
                handler.stream.flush()
            except (OSError, ValueError):  # stderr gone: as logging, a log line never fails the request
                pass
            finally:
                handler.release()
            return
    LOGGER.log(level, event, extra={"fields": {"at": now, **fields}})

