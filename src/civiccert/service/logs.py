"""Structured logs: one JSON object per line on stderr, with event names, ids and reason codes only.

Nothing personal is ever passed to these loggers (no claim values, names, addresses, tokens or URLs with
query strings), so a log shipper may keep them as they are.
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
        data: dict[str, Any] = {"ts": round(record.created, 3), "level": record.levelname.lower(),
                                "event": record.getMessage()}  # fmt: skip
        data.update(getattr(record, "fields", {}))
        return json.dumps(data, ensure_ascii=False, default=str)


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
    LOGGER.log(level, event, extra={"fields": {"at": time.time(), **fields}})
