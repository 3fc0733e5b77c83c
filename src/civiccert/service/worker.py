"""The anchoring worker: anchors on its own when a batch is full or ``max_batch_age_seconds`` has passed, and
publishes status lists when due (:class:`~civiccert.service.publisher.StatusPublisher`).

It calls :meth:`civiccert.Issuer.anchor` (``force=False``) every ``interval`` seconds, so the batching
policy stays the Issuer's. Among several processes on one journal only the lease holder anchors (the others'
calls return at once). A failure (node down, database down) never ends the loop: it waits with capped
exponential backoff and tries again. :meth:`AnchorWorker.stop` (or SIGTERM via :func:`run_until_signalled`)
ends it between two attempts; the journal's outbox order makes stopping at any point safe anyway.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass
from types import FrameType

from civiccert.errors import CivicCertError, ReasonCode
from civiccert.issuance.issuer import Issuer
from civiccert.service.logs import log_event
from civiccert.service.publisher import StatusPublisher

__all__ = ["AnchorWorker", "WorkerStats", "run_until_signalled"]


@dataclass
class WorkerStats:
    """What the worker did so far (read by /metrics and /readyz)."""

    rounds: int = 0
    batches: int = 0
    errors: int = 0
    consecutive_failures: int = 0
    last_error: str | None = None
    last_success_at: float | None = None


class AnchorWorker:
    """Anchors through ``issuer`` in a loop until stopped; safe to run in a thread next to request handlers."""

    def __init__(
        self, issuer: Issuer, *, interval: float = 1.0, backoff_base: float = 1.0, backoff_cap: float = 60.0,
        publisher: StatusPublisher | None = None,
    ) -> None:
        if interval <= 0 or backoff_base <= 0 or backoff_cap < backoff_base:
            raise ValueError("interval and backoff must be positive, the cap at least the base")
        self._issuer = issuer
        self._interval = interval
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._stop = threading.Event()
        self._wake = threading.Event()
        self.publisher = publisher
        self._thread: threading.Thread | None = None
        self.stats = WorkerStats()

    def run_once(self) -> float:
        """One attempt; returns how long to wait before the next one."""
        self.stats.rounds += 1
        try:
            outcomes = self._issuer.anchor(force=False) if self._issuer.has_chain else []
            published = self.publisher.run_once() if self.publisher is not None else None
        except CivicCertError as exc:  # node or database unreachable, misconfiguration: retry later
            return self._failed(exc.code)
        if published is not None:
            return self._failed(published)
        failed = [o.error for o in outcomes if o.error is not None]
        self.stats.batches += sum(1 for o in outcomes if o.error is None)
        if failed:
            return self._failed(failed[0])
        if outcomes:
            log_event("anchored", batches=len(outcomes))
        self.stats.consecutive_failures = 0
        self.stats.last_error = None
        self.stats.last_success_at = time.time()
        return self._interval

    def _failed(self, code: ReasonCode) -> float:
        self.stats.errors += 1
        self.stats.consecutive_failures += 1
        self.stats.last_error = code.value
        delay: float = min(self._backoff_cap, self._backoff_base * 2.0 ** (self.stats.consecutive_failures - 1))
        log_event("anchor_failed", level=logging.WARNING, code=code.value, retry_in=delay)
        return delay

    def run(self) -> None:
        """Loop until :meth:`stop`."""
        log_event("worker_started", interval=self._interval)
        while not self._stop.is_set():
            delay = self.run_once()
            self._wake.wait(delay)
            self._wake.clear()
        log_event("worker_stopped")

    def start(self) -> None:
        """Run the loop in a daemon thread."""
        self._thread = threading.Thread(target=self.run, name="civiccert-anchor-worker", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Run the next round now (a status changed: publish it without waiting for the interval)."""
        self._wake.set()

    def request_stop(self) -> None:
        """Ask the loop to end after the attempt in progress (returns at once)."""
        self._stop.set()
        self._wake.set()

    def stop(self, timeout: float | None = 30.0) -> None:
        """Ask the loop to end and wait for the attempt in progress (if any) to finish."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)


def run_until_signalled(worker: AnchorWorker) -> None:
    """Run ``worker`` in this (main) thread until SIGTERM or SIGINT asks it to stop."""

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log_event("signal", signal=signal.Signals(signum).name)
        worker.request_stop()  # a signal handler must not block on join

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        worker.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
