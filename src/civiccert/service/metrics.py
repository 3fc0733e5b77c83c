"""Prometheus metrics in the text exposition format (no client library needed for a handful of series).

Counters live in the process (each server counts what it served); gauges are read from the journal, so every
server reports the same pending/anchored numbers and the pending age that an alert should watch.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

from civiccert.errors import JournalError
from civiccert.issuance.issuer import Issuer

__all__ = ["Metrics"]


class Metrics:
    """Request, issue and error counters plus journal gauges."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._issued = 0
        self._errors: Counter[str] = Counter()
        self._requests: Counter[tuple[str, int]] = Counter()
        self._groups = 0
        self._grouped = 0

    def issue_group(self, requests: int) -> None:
        """One group of concurrent issue requests ran with shared commits (service.issuing)."""
        with self._lock:
            self._groups += 1
            self._grouped += requests

    def issued(self, count: int) -> None:
        with self._lock:
            self._issued += count

    def error(self, code: str) -> None:
        with self._lock:
            self._errors[code] += 1

    def request(self, route: str, status: int) -> None:
        with self._lock:
            self._requests[(route, status)] += 1

    def render(self, issuer: Issuer, worker_errors: int = 0) -> str:
        """The exposition text; journal gauges are omitted (and counted as an error) when it is down."""
        lines = ["# TYPE civiccert_issued_total counter", f"civiccert_issued_total {self._issued}",
                 "# TYPE civiccert_errors_total counter"]  # fmt: skip
        with self._lock:
            lines += [f'civiccert_errors_total{{code="{code}"}} {n}' for code, n in sorted(self._errors.items())]
            lines.append("# TYPE civiccert_http_requests_total counter")
            lines += [f'civiccert_http_requests_total{{route="{route}",status="{status}"}} {n}'
                      for (route, status), n in sorted(self._requests.items())]  # fmt: skip
            lines += ["# TYPE civiccert_issue_groups_total counter", f"civiccert_issue_groups_total {self._groups}",
                      "# TYPE civiccert_issue_group_requests_total counter",
                      f"civiccert_issue_group_requests_total {self._grouped}"]  # fmt: skip
        lines += ["# TYPE civiccert_anchor_worker_errors_total counter",
                  f"civiccert_anchor_worker_errors_total {worker_errors}"]  # fmt: skip
        try:
            counts = issuer.journal.status_counts()
            oldest = issuer.journal.oldest_pending_at(None)
        except JournalError:  # a scrape must never fail because the database is down
            return "\n".join([*lines, "civiccert_journal_up 0", ""])
        lines += ["# TYPE civiccert_journal_up gauge", "civiccert_journal_up 1",
                  "# TYPE civiccert_credentials gauge"]  # fmt: skip
        lines += [f'civiccert_credentials{{state="{state}"}} {n}' for state, n in sorted(counts.items())]
        lines += ["# TYPE civiccert_anchored_total counter", f"civiccert_anchored_total {counts.get('anchored', 0)}"]
        age = 0.0 if oldest is None else max(0.0, time.time() - oldest)
        lines += ["# TYPE civiccert_pending_age_seconds gauge", f"civiccert_pending_age_seconds {age:.3f}"]
        return "\n".join([*lines, ""])
