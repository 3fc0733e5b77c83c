"""The verifier's view of the registry: issuer keys, municipalities, anchors and revocations, in few calls.

Bulk verification asks the node once per chunk (a JSON-RPC batch of ``status`` calls); keys and
municipalities are read once per verifier, since a batch of credentials comes from few issuers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from civiccert.chain.codes import format_municipality_code, municipality_code
from civiccert.credentials.keys import thumbprint_of
from civiccert.errors import ChainError, ReasonCode
from civiccert.verification.trust import TrustedKey, TrustedMunicipality

if TYPE_CHECKING:  # the chain client (web3) loads on first use: an offline verifier never needs it
    from civiccert.chain.nodes import Chain
    from civiccert.chain.registry import KeyInfo, Registry

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
                 address: str | None = None, max_state_age: float = 60.0) -> None:
        self._registry = registry
        self._connect = connect
        self._address = registry.address if registry else address or ""
        self._lock = threading.Lock()
        self._keys: dict[tuple[str, str], TrustedKey | None] = {}  # (issuer code, kid): keys are per municipality
        self._munis: dict[str, TrustedMunicipality | None] = {}
        # key and municipality state can change (a key revoked after a compromise, a city suspended): a
        # long-running verifier re-reads it after ``max_state_age`` seconds; JWKs and anchor txs never change
        self._max_state_age = max_state_age
        self._fresh_until = time.monotonic() + max_state_age
        self._jwks: dict[tuple[str, str], Mapping[str, str] | None] = {}
        self._txs: dict[tuple[str, bytes, int, str], str | None] = {}
        self._operators: dict[str, tuple[str, ...]] = {}
        self._certs: set[tuple[str, str, bytes]] = set()  # (code, kid, certificate hash) the registry records

    @classmethod
    def lazy(cls, connect: Callable[[], Chain], address: str) -> OnlineRegistry:
        return cls(connect=connect, address=address)

    @classmethod
    def of(cls, chain: Chain, address: str) -> OnlineRegistry:
        from civiccert.chain.registry import Registry

        return cls(Registry(chain, address))

    @property
    def registry(self) -> Registry:
        with self._lock:
            if self._registry is None:
                from civiccert.chain.registry import Registry

                assert self._connect is not None
                self._registry = Registry(self._connect(), self._address)
            return self._registry

    @property
    def address(self) -> str:
        return self.registry.address

    @property
    def configured_address(self) -> str:
        """The registry address this verifier was pointed at, known without connecting."""
        return self._registry.address if self._registry is not None else self._address

    @property
    def chain_id(self) -> int:
        return self.registry.chain.chain_id

    def _expire(self) -> None:
        if time.monotonic() > self._fresh_until:
            self._keys.clear()
            self._munis.clear()
            self._operators.clear()
            self._fresh_until = time.monotonic() + self._max_state_age

    def key(self, code: str, kid: str) -> TrustedKey | None:
        """Key ``kid`` in issuer ``code``'s namespace (another municipality registering it changes nothing)."""
        self._expire()
        if (code, kid) not in self._keys:
            thumb = thumbprint_of(kid)
            info = self.registry.key(municipality_code(code), thumb) if thumb is not None else None
            self._keys[(code, kid)] = None if info is None else _trusted_key(kid, info)
        return self._keys[(code, kid)]

    def public_jwk(self, code: str, kid: str) -> Mapping[str, str] | None:
        """The key's public JWK as issuer ``code`` published it on chain at registration (bound to the
        thumbprint there)."""
        if (code, kid) not in self._jwks:
            thumb = thumbprint_of(kid)
            if thumb is None:
                return None
            try:
                jwk = self.registry.public_jwk(municipality_code(code), thumb)
            except ChainError as exc:
                if exc.code is not ReasonCode.KEY_UNKNOWN:
                    raise
                raise ChainError(ReasonCode.NODE_UNRELIABLE, "the node lists the key but not its publication") from exc
            if jwk is None:
                self._check_no_key(code, thumb)
            self._jwks[(code, kid)] = jwk
        return self._jwks[(code, kid)]

    def _check_no_key(self, code: str, thumb: bytes) -> None:
        """Before "issuer ``code`` has no key ``thumb``" may fail a credential: the node must know the registry
        (a node zeroing every call does not) and its own logs must not publish that key (keys are never
        unregistered, so an honest node never shows both)."""
        registry = self.registry
        if registry.deployed_block() == 0:
            raise ChainError(ReasonCode.NODE_UNRELIABLE, "the node says the registry was deployed in no block")
        if registry.logged_jwk(municipality_code(code), thumb) is not None:
            raise ChainError(ReasonCode.NODE_UNRELIABLE, "the node's logs publish a key its state denies")

    def certificate_recorded(self, code: str, kid: str, cert_hash: bytes) -> bool:
        """Whether issuer ``code`` recorded the certificate ``cert_hash`` (SHA-256 of the leaf's DER) for key
        ``kid``. A record never changes, so a positive answer is cached for good."""
        thumb = thumbprint_of(kid)
        if thumb is None:
            return False
        if (code, kid, cert_hash) not in self._certs:
            if self.registry.certificate_key(municipality_code(code), cert_hash) != thumb:
                return False
            self._certs.add((code, kid, cert_hash))
        return True

    def confirmed_anchor_transaction(self, code: str, root: bytes, block_number: int, claimed: object) -> str | None:
        """The receipt's transaction hash if the chain confirms it anchored ``root`` for ``code`` (else None)."""
        if not isinstance(claimed, str) or len(claimed) != 66 or not claimed.startswith("0x"):
            return None
        key = (code, root, block_number, claimed)
        if key not in self._txs:
            try:
                ok = self.registry.is_anchor_transaction(code, root, block_number, claimed,
                                                         operators=self._operators.get(code, ()))
            except ValueError:
                ok = False
            self._txs[key] = claimed if ok else None
        return self._txs[key]

    def municipality(self, code: str) -> TrustedMunicipality | None:
        self._expire()
        if code not in self._munis:
            info = self.registry.municipality(municipality_code(code))
            self._munis[code] = None if info is None else TrustedMunicipality(code=code, suspended=info.suspended)
            self._operators[code] = info.operators if info else ()
        return self._munis[code]

    def statuses(self, queries: Sequence[tuple[str, str, bytes | None, bytes]]) -> list[ChainStatus | ChainError]:
        """For each (issuer code, kid, receipt root or None, credential hash): anchor, revocation, trust.

        One JSON-RPC batch reads every ``status`` (in the issuer's namespace: a root anchored only by another
        municipality is not anchored for this issuer; without a receipt the zero root reads the revocation
        alone) together with the keys and municipalities not yet cached. Raises ChainError when the node
        cannot answer; the caller turns that into UNKNOWN checks. An answer that contradicts itself (see
        ``_contradiction``) is ChainError(NODE_UNRELIABLE) in place of that query's status.
        """
        registry = self.registry
        self._expire()
        calls: list[tuple[str, tuple[object, ...]]] = []
        for code, _kid, root, credential_hash in queries:
            if code:
                calls.append(("status", (municipality_code(code), root or _ZERO, credential_hash)))
        new_keys = sorted({(code, kid) for code, kid, _, _ in queries
                           if code and kid and (code, kid) not in self._keys})
        new_codes = sorted({code for code, _, _, _ in queries if code and code not in self._munis})
        thumbs = {kid: thumbprint_of(kid) for _, kid in new_keys}
        calls += [("keyInfo", (municipality_code(code), thumbs[kid])) for code, kid in new_keys
                  if thumbs[kid] is not None]
        calls += [("municipalityInfo", (municipality_code(code),)) for code in new_codes]
        calls.append(("deployedBlock", ()))  # a fact every honest node knows: a node zeroing calls fails it
        answers = registry.read_many(calls)
        if int(answers[-1][0]) == 0:
            raise ChainError(ReasonCode.NODE_UNRELIABLE, "the node says the registry was deployed in no block")
        outs = iter(answers[:-1])
        statuses = [next(outs) if code else None for code, _, _, _ in queries]
        for code, kid in new_keys:
            thumb = thumbs[kid]
            info = registry.key_from(code, thumb, next(outs)) if thumb is not None else None
            self._keys[(code, kid)] = None if info is None else _trusted_key(kid, info)
        for code in new_codes:
            m = registry.municipality_from(code, next(outs))
            self._munis[code] = None if m is None else TrustedMunicipality(code=code, suspended=m.suspended)
            self._operators[code] = m.operators if m else ()
        out: list[ChainStatus | ChainError] = []
        for (code, kid, _root, _hash), status in zip(queries, statuses, strict=True):
            root_status: RootStatus | None = None
            revoked, reason = False, 0
            if status is not None:
                anchored_at, block_number, leaf_count, reason, revoked_at = (int(v) for v in status)
                revoked = revoked_at != 0
                if leaf_count:
                    root_status = RootStatus(code, anchored_at, block_number, leaf_count)
            answer = ChainStatus(root=root_status, revoked=revoked, revoked_reason=reason if revoked else 0,
                                 key=self._keys.get((code, kid)) if code and kid else None,
                                 municipality=self._munis.get(code) if code else None)
            why = _contradiction(answer)
            out.append(answer if why is None else ChainError(ReasonCode.NODE_UNRELIABLE, why))
        return out

_ZERO = bytes(32)


def _contradiction(status: ChainStatus) -> str | None:
    """What in one node's answers cannot all be true of the registry contract, or None.

    Only an operator of a registered municipality can anchor, revoke or register a key in its namespace, and
    a municipality is never unregistered; an anchor always has a block and a time. An honest node therefore
    never trips these, whatever a forger put into a credential: they degrade a verdict to INDETERMINATE
    only when the node itself is wrong.
    """
    root = status.root
    if root is not None and (root.block_number == 0 or root.anchored_at == 0):
        return "the node reports an anchor without a block"
    if status.municipality is None and (root is not None or status.revoked or status.key is not None):
        return "the node reports anchors, revocations or keys of a municipality it says is not registered"
    return None


def _trusted_key(kid: str, info: KeyInfo) -> TrustedKey:
    return TrustedKey(kid=kid, municipality=format_municipality_code(info.municipality), valid_from=info.valid_from,
                      retired_at=info.retired_at or None, revoked_at=info.revoked_at or None)


