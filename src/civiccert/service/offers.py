"""Server-side state of OpenID4VCI issuance: credential offers, their PINs, access tokens and c_nonces.

A clerk's offer holds the parsed record here and nowhere else: the QR and the URL carry only random codes.
An offer is single use (one token, then one credential request), expires after ``offer_ttl`` seconds, and
dies after ``MAX_TX_CODE_ATTEMPTS`` wrong PINs (a six-digit PIN is then guessed with probability 3·10⁻⁶).
PINs are compared in constant time and kept only as SHA-256. c_nonces are single use and expire.

The state lives in the process (one server). Behind a load balancer, route ``/oid4vci/*`` of one offer to
one server (sticky by path) or keep one issuance server; the credentials themselves are journaled as usual.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from civiccert.errors import ReasonCode, ServiceError

__all__ = ["MAX_TX_CODE_ATTEMPTS", "Offer", "OfferBook"]

MAX_TX_CODE_ATTEMPTS = 3
TX_CODE_LENGTH = 6


@dataclass
class Offer:
    """One offer: the record to issue, who made it, and where its single use stands."""

    offer_id: str
    pre_authorized_code: str
    configuration_id: str
    record: Any
    clerk: tuple[str, str]  # (client_id, role) for the audit log
    expires_at: float
    tx_code_hash: bytes
    attempts: int = 0
    access_token: str | None = None
    token_expires_at: float = 0.0
    used: bool = False
    credential_ids: list[str] = field(default_factory=list)

    @property
    def dead(self) -> bool:
        return self.used or self.attempts >= MAX_TX_CODE_ATTEMPTS


class OfferBook:
    """Offers, tokens and nonces, thread-safe; every lookup checks expiry and single use."""

    def __init__(self, *, offer_ttl: float = 600, token_ttl: float = 300, nonce_ttl: float = 300,
                 clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        self.offer_ttl, self.token_ttl, self.nonce_ttl = offer_ttl, token_ttl, nonce_ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._offers: dict[str, Offer] = {}
        self._nonces: dict[str, float] = {}

    def create(self, record: Any, configuration_id: str, clerk: tuple[str, str]) -> tuple[Offer, str]:
        """A new offer and its PIN (returned once, stored only hashed)."""
        pin = "".join(secrets.choice("0123456789") for _ in range(TX_CODE_LENGTH))
        offer = Offer(offer_id=secrets.token_urlsafe(16), pre_authorized_code=secrets.token_urlsafe(32),
                      configuration_id=configuration_id, record=record, clerk=clerk,
                      expires_at=self._clock() + self.offer_ttl,
                      tx_code_hash=hashlib.sha256(pin.encode()).digest())  # fmt: skip
        with self._lock:
            self._sweep()
            self._offers[offer.offer_id] = offer
        return offer, pin

    def by_id(self, offer_id: str) -> Offer:
        """A live offer (NOT_FOUND, OFFER_EXPIRED)."""
        with self._lock:
            offer = self._offers.get(offer_id)
            if offer is None:
                raise ServiceError(ReasonCode.NOT_FOUND, "no such offer", field="offer")
            self._require_live(offer)
            return offer

    def redeem(self, pre_authorized_code: str, tx_code: str | None) -> Offer:
        """Exchange the pre-authorized code and PIN for an access token (set on the returned offer)."""
        with self._lock:
            offer = next((o for o in self._offers.values()
                          if hmac.compare_digest(o.pre_authorized_code, pre_authorized_code)), None)  # fmt: skip
            if offer is None:
                raise ServiceError(ReasonCode.OFFER_EXPIRED, "unknown pre-authorized code", field="pre-authorized_code")
            self._require_live(offer)
            if offer.access_token is not None:
                raise ServiceError(ReasonCode.OFFER_EXPIRED, "the pre-authorized code was already used",
                                   field="pre-authorized_code")  # fmt: skip
            given = hashlib.sha256((tx_code or "").encode()).digest()
            if not hmac.compare_digest(given, offer.tx_code_hash):
                offer.attempts += 1
                raise ServiceError(ReasonCode.TX_CODE_WRONG, f"wrong transaction code ({offer.attempts} of "
                                   f"{MAX_TX_CODE_ATTEMPTS} attempts)", field="tx_code")  # fmt: skip
            offer.access_token = secrets.token_urlsafe(32)
            offer.token_expires_at = self._clock() + self.token_ttl
            return offer

    def by_token(self, access_token: str) -> Offer:
        """The offer an access token was issued for (AUTH_INVALID, AUTH_EXPIRED, OFFER_EXPIRED)."""
        with self._lock:
            offer = next((o for o in self._offers.values() if o.access_token is not None
                          and hmac.compare_digest(o.access_token, access_token)), None)  # fmt: skip
            if offer is None:
                raise ServiceError(ReasonCode.AUTH_INVALID, "unknown access token", field="authorization")
            if self._clock() > offer.token_expires_at:
                raise ServiceError(ReasonCode.AUTH_EXPIRED, "the access token has expired", field="authorization")
            if offer.used:
                raise ServiceError(ReasonCode.OFFER_EXPIRED, "the offer was already used", field="authorization")
            return offer

    def mark_used(self, offer: Offer, credential_ids: list[str]) -> None:
        with self._lock:
            offer.used = True
            offer.credential_ids = credential_ids
            offer.record = None  # the personal data leaves memory with the credential

    def new_nonce(self) -> str:
        nonce = secrets.token_urlsafe(24)
        with self._lock:
            self._sweep()
            self._nonces[nonce] = self._clock() + self.nonce_ttl
        return nonce

    def consume_nonce(self, nonce: object) -> None:
        """Use a c_nonce once (NONCE_INVALID when unknown, used or expired)."""
        with self._lock:
            expires = self._nonces.pop(nonce, None) if isinstance(nonce, str) else None
            if expires is None or self._clock() > expires:
                raise ServiceError(ReasonCode.NONCE_INVALID, "the proof's nonce is not a fresh c_nonce",
                                   field="proofs.jwt.nonce")  # fmt: skip

    def _require_live(self, offer: Offer) -> None:
        if offer.dead or self._clock() > offer.expires_at:
            raise ServiceError(ReasonCode.OFFER_EXPIRED, "the offer has expired, was used or is locked",
                               field="offer")  # fmt: skip

    def _sweep(self) -> None:
        now = self._clock()
        for key in [k for k, o in self._offers.items() if now > o.expires_at + self.token_ttl]:
            del self._offers[key]
        for key in [k for k, t in self._nonces.items() if now > t]:
            del self._nonces[key]
