"""The verifier's policy: what a relying party asks for (kept apart so every verifier module can read it)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Policy"]


@dataclass(frozen=True)
class Policy:
    """What the relying party asks for. Defaults suit a bank checking a resident-record copy."""

    require_holder_binding: bool = False
    aud: str | None = None
    nonce: str | None = None
    skew_seconds: int = 120
    # oldest trust file accepted; None: the publisher's expires_at, else DEFAULT_MAX_TRUST_AGE (7 days)
    max_trust_age_seconds: int | None = None
    check_anchor: bool = True  # only meaningful online; offline reports the anchor as skipped
    algorithms: tuple[str, ...] = ("ES256", "EdDSA")
    kb_max_age_seconds: int = 300  # a key-binding JWT older than this is refused (with the nonce, no replay)
    # "was it valid then": validity window and status-list status judged at this time (POSIX seconds); the
    # status from the publication anchored as current then (civiccert.status.check), replacing the chain's
    # per-credential revocation, which says only "revoked now"
    at: int | None = None

