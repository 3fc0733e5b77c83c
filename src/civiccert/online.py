"""The verifier's view of the registry: issuer keys, municipalities, anchors and revocations, in few calls.

Bulk verification asks the node once per chunk (a JSON-RPC batch of ``status`` calls); keys and
municipalities are read once per verifier, since a batch of credentials comes from few issuers.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from civiccert.chain.nodes import Chain
from civiccert.chain.registry import Registry, format_municipality_code, municipality_code
from civiccert.trust import TrustedKey, TrustedMunicipality

__all__ = ["ChainStatus", "OnlineRegistry", "RootStatus"]


@dataclass(frozen=True)
class RootStatus:
    municipality: str  # 6-digit code of the issuer, in whose namespace the root is anchored
    anchored_at: int
    block_number: int
    leaf_count: int


@dataclass(frozen=True)
class ChainStatus:
    """What the registry says about one credential, its root, its issuer and its key."""

    root: RootStatus | None
    revoked: bool  # by revocation time, not reason: a revocation with reason 0 is still a revocation
    revoked_reason: int
    key: TrustedKey | None
    municipality: TrustedMunicipality | None


class OnlineRegistry:
    """Read-only registry access for verifiers; connects on first use so a CLI call that needs no chain
    (an unreadable file) makes no network call at all."""

    def __init__(self, registry: Registry | None = None, *, connect: Callable[[], Chain] | None = None,
                 address: str | None = None) -> None:
        self._registry = registry
        self._connect = connect
        self._address = registry.address if registry else address or ""
        self._lock = threading.Lock()
        self._keys: dict[str, TrustedKey | None] = {}
        self._munis: dict[str, TrustedMunicipality | None] = {}
        self._jwks: dict[str, Mapping[str, str] | None] = {}
        self._txs: dict[tuple[str, bytes, int], str | None] = {}

    @classmethod
    def lazy(cls, connect: Callable[[], Chain], address: str) -> OnlineRegistry:
        return cls(connect=connect, address=address)

    @classmethod
    def of(cls, chain: Chain, address: str) -> OnlineRegistry:
        return cls(Registry(chain, address))

    @property
    def registry(self) -> Registry:
        with self._lock:
            if self._registry is None:
                assert self._connect is not None
                self._registry = Registry(self._connect(), self._address)
            return self._registry

    @property
    def address(self) -> str:
        return self.registry.address

    @property
    def chain_id(self) -> int:
        return self.registry.chain.chain_id

    def key(self, kid: str) -> TrustedKey | None:
        if kid not in self._keys:
            thumb = _kid_bytes(kid)
            info = self.registry.key(thumb) if thumb is not None else None
            self._keys[kid] = None if info is None else TrustedKey(
                kid=kid,
                municipality=format_municipality_code(info.municipality),
                valid_from=info.valid_from,
                retired_at=info.retired_at or None,
                revoked_at=info.revoked_at or None,
            )
        return self._keys[kid]

    def public_jwk(self, kid: str) -> Mapping[str, str] | None:
        """The key's public JWK as published on chain at registration (bound to the thumbprint there)."""
        if kid not in self._jwks:
            thumb = _kid_bytes(kid)
            self._jwks[kid] = self.registry.public_jwk(thumb) if thumb is not None else None
        return self._jwks[kid]

    def anchor_transaction(self, code: str, root: bytes, block_number: int) -> str | None:
        """The transaction that anchored ``root`` for ``code`` (read from the chain, once per root)."""
        key = (code, root, block_number)
        if key not in self._txs:
            self._txs[key] = self.registry.anchor_transaction(code, root, block_number)[0]
        return self._txs[key]

    def municipality(self, code: str) -> TrustedMunicipality | None:
        if code not in self._munis:
            info = self.registry.municipality(municipality_code(code))
            self._munis[code] = None if info is None else TrustedMunicipality(code=code, suspended=info.suspended)
        return self._munis[code]

    def statuses(self, queries: Sequence[tuple[str, str, bytes | None, bytes]]) -> list[ChainStatus]:
        """For each (issuer code, kid, receipt root or None, credential hash): anchor, revocation, trust.

        Anchor and revocation are read in the issuer's namespace (one ``status`` per credential, batched): a
        root anchored only by another municipality is not anchored for this issuer. Raises ChainError when
        the node cannot answer; the caller turns that into UNKNOWN checks.
        """
        registry = self.registry
        with_root = [(i, (q[0], q[2], q[3])) for i, q in enumerate(queries) if q[0] and q[2] is not None]
        batch = registry.statuses([t for _, t in with_root]) if with_root else []
        by_index = {i: s for (i, _), s in zip(with_root, batch, strict=True)}
        out: list[ChainStatus] = []
        for i, (code, kid, _root, credential_hash) in enumerate(queries):
            status = by_index.get(i)
            root: RootStatus | None = None
            reason = 0
            revoked = False
            if status is not None:
                revoked = status.revoked
                reason = status.revocation_reason if status.revoked else 0
                if status.anchored:
                    root = RootStatus(format_municipality_code(status.municipality), status.anchored_at,
                                      status.block_number, status.leaf_count)
            elif code:
                revocation = registry.revocation(code, credential_hash)
                revoked = revocation is not None
                reason = revocation[0] if revocation else 0
            out.append(ChainStatus(root=root, revoked=revoked, revoked_reason=reason,
                                   key=self.key(kid) if kid else None,
                                   municipality=self.municipality(code) if code else None))
        return out


def _kid_bytes(kid: str) -> bytes | None:
    try:
        raw = base64.urlsafe_b64decode(kid + "=" * (-len(kid) % 4))
    except (ValueError, TypeError):
        return None
    return raw if len(raw) == 32 else None

