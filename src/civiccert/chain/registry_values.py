"""What the registry client returns (transactions, anchors, statuses, municipalities, keys) and the RFC 7638
form in which public keys are registered and read back; no chain access here."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

#: the contract's MAX_KEY_BACKDATE: how far before its registration block a key's validity may start
MAX_KEY_BACKDATE_SECONDS = 400 * 24 * 3600

@dataclass(frozen=True)
class SignedTx:
    """A signed, not yet sent transaction: persist `raw` before sending to resend it after a crash."""

    raw: bytes
    hash: str  # 0x-prefixed hex
    nonce: int
    sender: str


@dataclass(frozen=True)
class TxOutcome:
    """A mined transaction. `success` is False when it reverted on chain."""

    tx_hash: str
    block_number: int
    block_hash: str
    block_timestamp: int
    gas_used: int
    success: bool


@dataclass(frozen=True)
class RootInfo:
    municipality: int  # the namespace it is anchored in
    anchored_at: int  # unix seconds (block time)
    block_number: int
    leaf_count: int


@dataclass(frozen=True)
class CredentialStatus:
    """`status(municipality, root, hash)`: anchor of `root` and revocation of `hash`, both in `municipality`."""

    municipality: int  # the namespace queried
    anchored_at: int  # 0 when the root is not anchored in this namespace
    block_number: int
    leaf_count: int  # 0 when not anchored (an anchor always has at least one leaf)
    revocation_reason: int
    revoked_at: int  # 0 when not revoked

    @property
    def anchored(self) -> bool:
        return self.leaf_count != 0

    @property
    def revoked(self) -> bool:
        return self.revoked_at != 0


@dataclass(frozen=True)
class MunicipalityInfo:
    code: int
    registered_at: int
    suspended: bool
    operators: tuple[str, ...]


@dataclass(frozen=True)
class KeyInfo:
    thumbprint: bytes
    municipality: int  # the namespace it is registered in
    valid_from: int
    retired_at: int  # 0 = not retired
    revoked_at: int  # 0 = not revoked

    def valid_at(self, t: int) -> bool:
        """The contract's `isKeyValidAt` rule, for offline use."""
        return (
            self.valid_from <= t
            and (self.retired_at == 0 or t < self.retired_at)
            and (self.revoked_at == 0 or t < self.revoked_at)
        )


# RFC 7638 §3.2: the required members of each public key type, the only ones hashed and published.
_JWK_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x"), "RSA": ("e", "kty", "n")}
_MAX_JWK = 2_048


def canonical_jwk(jwk: Mapping[str, str]) -> bytes:
    """The RFC 7638 thumbprint input of a public JWK: its required members, sorted, no whitespace, UTF-8.

    Other members (kid, alg, use) are dropped; their SHA-256 is the key's thumbprint. ValueError when a
    required member is missing or not a string (symmetric "oct" keys are never published).
    """
    members = _JWK_MEMBERS.get(jwk.get("kty", ""))
    if members is None:
        raise ValueError("public_jwk must be an EC, OKP or RSA public key")
    required: dict[str, str] = {}
    for name in members:
        value = jwk.get(name)
        if not isinstance(value, str) or not value:
            raise ValueError(f"public_jwk lacks the {name!r} member")
        required[name] = value
    return json.dumps(required, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _published_jwk(raw: bytes, thumbprint: bytes) -> dict[str, str] | None:
    """The JWK in a KeyRegistered log, when it is canonical and hashes to `thumbprint`; None otherwise."""
    if len(raw) > _MAX_JWK or hashlib.sha256(raw).digest() != thumbprint:
        return None

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        if len({k for k, _ in items}) != len(items):
            raise ValueError("duplicate member")
        return dict(items)

    try:
        jwk = json.loads(raw.decode("utf-8"), object_pairs_hook=pairs)
        if not isinstance(jwk, dict) or not all(isinstance(v, str) for v in jwk.values()):
            return None
        if canonical_jwk(jwk) != raw:  # exactly the required members, in canonical form
            return None
    except ValueError:  # also UnicodeDecodeError and JSONDecodeError
        return None
    return cast(dict[str, str], jwk)
