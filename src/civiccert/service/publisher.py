"""Status-list publication inside the service: on a schedule, soon after a status change, and anchored.

A publication is due when there is none yet, when a status changed after the latest one (on any server: the
change is in the shared database), when the latest one failed to anchor, or when it is ``every`` seconds old
(well before its ``exp``, so verifiers never see an expired list). Only the process holding the anchoring
lease publishes, so two servers never anchor two publications for the same change.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from civiccert.errors import ReasonCode
from civiccert.issuance.issuer import DEFAULT_STATUS_TTL_SECONDS, DEFAULT_STATUS_VALID_SECONDS, Issuer
from civiccert.issuance.journal_url import anchoring_lease
from civiccert.service.logs import log_event

__all__ = ["StatusPublisher"]


@dataclass
class StatusPublisher:
    """Publishes ``issuer``'s status lists when due (see the module docstring)."""

    issuer: Issuer
    every: float = DEFAULT_STATUS_VALID_SECONDS / 4  # a day's lists are republished every 6 hours
    valid_seconds: int = DEFAULT_STATUS_VALID_SECONDS
    ttl: int = DEFAULT_STATUS_TTL_SECONDS
    clock: Callable[[], float] = time.time
    published: int = 0

    def due(self) -> bool:
        store = self.issuer.status_store
        latest = store.latest_publication()
        if latest is None:
            return True
        changed = store.last_change_at()
        unanchored = self.issuer.has_chain and latest.tx_hash is None
        return (changed is not None and changed >= latest.created_at) or unanchored or (
            self.clock() - latest.created_at >= self.every)

    def run_once(self) -> ReasonCode | None:
        """Publish if due and this process holds the lease; the chain error code if anchoring failed."""
        if not self.due():
            return None
        with anchoring_lease(self.issuer.journal) as held:
            if not held or not self.due():  # another server publishes, or just did
                return None
            publication, error = self.issuer.publish_status(None, valid_seconds=self.valid_seconds, ttl=self.ttl)
        self.published += 1
        log_event("status_published", lists=len(publication.files) // 3, anchored=error is None and
                  self.issuer.has_chain, code=None if error is None else error.value)  # fmt: skip
        return error
