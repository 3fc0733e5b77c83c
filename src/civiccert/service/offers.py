"""OpenID4VCI issuance state: credential offers, their PINs, access tokens and c_nonces, over the flow store.

A clerk's offer holds the record document in the service database (civiccert.service.flowstore) and nowhere
else: the QR and the URL carry only random codes. An offer is single use (one token, then one credential
request), expires after ``offer_ttl`` seconds, and dies after ``MAX_TX_CODE_ATTEMPTS`` wrong PINs (a six-digit
PIN is then guessed with probability 3·10⁻⁶), counted by the database across every server process. PINs and
access tokens are kept only as SHA-256; PINs are compared in constant time. c_nonces are single use and expire.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from civiccert.errors import ReasonCode, ServiceError
from civiccert.service.flowstore import FlowStore, OfferRow

__all__ = ["MAX_TX_CODE_ATTEMPTS", "Offer", "OfferBook", "pin_matches"]

MAX_TX_CODE_ATTEMPTS = 3
TX_CODE_LENGTH = 6


@dataclass
class Offer:
    """One offer as the routes see it (``record``: the record document, None once issued or locked)."""

    offer_id: str
    pre_authorized_code: str
    configuration_id: str
    record: dict[str, Any] | None
    clerk: tuple[str, str]  # (client_id, role) for the audit log
    expires_at: float
    tx_code_hash: str
    attempts: int = 0
    access_token: str | None = None
    used: bool = False
    credential_ids: list[str] = field(default_factory=list)

    @property
    def dead(self) -> bool:
        return self.used or self.attempts >= MAX_TX_CODE_ATTEMPTS


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def pin_matches(pin: object, offer: Offer) -> bool:
    """Whether ``pin`` is the offer's PIN (constant time; a non-string never matches)."""
    return isinstance(pin, str) and hmac.compare_digest(_sha256(pin), offer.tx_code_hash)


def _offer(row: OfferRow) -> Offer:
    return Offer(offer_id=row.offer_id, pre_authorized_code=row.code, configuration_id=row.configuration_id,
                 record=None if row.record is None else json.loads(row.record), clerk=(row.clerk_id, row.clerk_role),
                 expires_at=row.expires_at, tx_code_hash=row.tx_code_hash, attempts=row.attempts, used=row.used,
                 credential_ids=row.credential_ids)  # fmt: skip


class OfferBook:
    """Offers, tokens and nonces in ``store``; every lookup checks expiry, single use happens in the database."""

    def __init__(self, store: FlowStore, *, offer_ttl: float = 600, token_ttl: float = 300, nonce_ttl: float = 300,
                 clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        self.store = store
        self.offer_ttl, self.token_ttl, self.nonce_ttl = offer_ttl, token_ttl, nonce_ttl
        self._clock = clock

    def create(self, record: Mapping[str, Any], configuration_id: str, clerk: tuple[str, str]) -> tuple[Offer, str]:
        """A new offer for the (validated) record document, and its PIN (returned once, stored only hashed)."""
        pin = "".join(secrets.choice("0123456789") for _ in range(TX_CODE_LENGTH))
        now = self._clock()
        expires_at = now + self.offer_ttl
        row = OfferRow(offer_id=secrets.token_urlsafe(16), code=secrets.token_urlsafe(32),
                       configuration_id=configuration_id, record=json.dumps(record, ensure_ascii=False),
                       clerk_id=clerk[0], clerk_role=clerk[1], tx_code_hash=_sha256(pin), attempts=0,
                       token_hash=None, token_expires_at=None, used=False, credential_ids=[],
                       expires_at=expires_at, purge_at=expires_at + self.token_ttl)  # fmt: skip
        self.store.add_offer(row, now=now)
        return _offer(row), pin

    def by_id(self, offer_id: str) -> Offer:
        """A live offer (NOT_FOUND, OFFER_EXPIRED)."""
        row = self.store.offer(offer_id=offer_id)
        if row is None:
            raise ServiceError(ReasonCode.NOT_FOUND, "no such offer", field="offer")
        offer = _offer(row)
        self._require_live(offer)
        return offer

    def redeem(self, pre_authorized_code: str, tx_code: str | None) -> Offer:
        """Exchange the pre-authorized code and PIN for an access token (set on the returned offer)."""
        row = self.store.offer(code=pre_authorized_code)
        if row is None:
            raise ServiceError(ReasonCode.OFFER_EXPIRED, "unknown pre-authorized code", field="pre-authorized_code")
        offer = _offer(row)
        self._require_live(offer)
        if row.token_hash is not None:
            raise ServiceError(ReasonCode.OFFER_EXPIRED, "the pre-authorized code was already used",
                               field="pre-authorized_code")  # fmt: skip
        now = self._clock()
        if not pin_matches(tx_code or "", offer):
            attempts = self.store.count_wrong_pin(offer.offer_id, max_attempts=MAX_TX_CODE_ATTEMPTS, now=now)
            if attempts is None:  # another request locked, redeemed or used it meanwhile
                raise ServiceError(ReasonCode.OFFER_EXPIRED, "the offer has expired, was used or is locked",
                                   field="offer")  # fmt: skip
            raise ServiceError(ReasonCode.TX_CODE_WRONG, f"wrong transaction code ({attempts} of "
                               f"{MAX_TX_CODE_ATTEMPTS} attempts)", field="tx_code")  # fmt: skip
        token = secrets.token_urlsafe(32)
        if not self.store.grant_token(offer.offer_id, _sha256(token), now + self.token_ttl,
                                      max_attempts=MAX_TX_CODE_ATTEMPTS, now=now):  # fmt: skip
            raise ServiceError(ReasonCode.OFFER_EXPIRED, "the pre-authorized code was already used",
                               field="pre-authorized_code")  # fmt: skip
        offer.access_token = token
        return offer

    def by_token(self, access_token: str) -> Offer:
        """The offer an access token was issued for (AUTH_INVALID, AUTH_EXPIRED, OFFER_EXPIRED)."""
        row = self.store.offer(token_hash=_sha256(access_token))
        if row is None:
            raise ServiceError(ReasonCode.AUTH_INVALID, "unknown access token", field="authorization")
        if row.token_expires_at is None or self._clock() > row.token_expires_at:
            raise ServiceError(ReasonCode.AUTH_EXPIRED, "the access token has expired", field="authorization")
        if row.used:
            raise ServiceError(ReasonCode.OFFER_EXPIRED, "the offer was already used", field="authorization")
        offer = _offer(row)
        offer.access_token = access_token
        return offer

    def claim(self, offer: Offer) -> None:
        """Take the offer for issuing, once across every server (OFFER_EXPIRED when another request has)."""
        if not self.store.claim_offer(offer.offer_id, now=self._clock()):
            raise ServiceError(ReasonCode.OFFER_EXPIRED, "the offer was already used", field="authorization")

    def release(self, offer: Offer) -> None:
        """Give a claimed offer back: issuing failed and no credential exists."""
        self.store.release_offer(offer.offer_id)

    def mark_used(self, offer: Offer, credential_ids: list[str]) -> None:
        """The claimed offer's credentials exist; its record is deleted."""
        self.store.finish_offer(offer.offer_id, credential_ids)
        offer.used, offer.credential_ids, offer.record = True, credential_ids, None

    def new_nonce(self) -> str:
        nonce, now = secrets.token_urlsafe(24), self._clock()
        self.store.add_nonce(nonce, now + self.nonce_ttl, now=now)
        return nonce

    def consume_nonce(self, nonce: object) -> None:
        """Use a c_nonce once (NONCE_INVALID when unknown, used or expired)."""
        if not isinstance(nonce, str) or not self.store.consume_nonce(nonce, now=self._clock()):
            raise ServiceError(ReasonCode.NONCE_INVALID, "the proof's nonce is not a fresh c_nonce",
                               field="proofs.jwt.nonce")  # fmt: skip

    def _require_live(self, offer: Offer) -> None:
        if offer.dead or self._clock() > offer.expires_at:
            raise ServiceError(ReasonCode.OFFER_EXPIRED, "the offer has expired, was used or is locked",
                               field="offer")  # fmt: skip
