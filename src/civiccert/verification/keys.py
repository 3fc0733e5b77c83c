"""Key resolution for the verifier: which public key may check a signature, and how far the trust sources reach.

A key comes from the trust snapshot, the registry, or an ``x5c`` chain to the verifier's own anchors; a key in
a credential header is used only when its thumbprint is a ``kid`` one of those vouches for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from civiccert.credentials.keys import jwk_thumbprint, public_jwk_of, public_key_from_jwk
from civiccert.errors import ChainError, CredentialError, ReasonCode
from civiccert.pki.decide import certificate_for_kid, draft_leaf_key
from civiccert.pki.validate import TrustAnchors
from civiccert.verification.draft import Draft, claimed_code, node_code, opt_int
from civiccert.verification.online import OnlineRegistry
from civiccert.verification.policy import Policy
from civiccert.verification.trust import TrustSnapshot

__all__ = ["KeyResolution"]


class KeyResolution:
    """The verifier's trust sources and the key lookups over them (a base of :class:`~.verifier.Verifier`)."""

    _trust: TrustSnapshot | None
    _registry: OnlineRegistry | None
    _policy: Policy
    _clock: Callable[[], float]
    _anchors: TrustAnchors | None  # X.509 roots for credentials carrying x5c (civiccert.pki)
    _public_keys: dict[str, tuple[dict[str, Any], Any]]  # kid -> (jwk, parsed key): parse once
    _jwk_by_kid: dict[str, Mapping[str, Any]] | None  # the snapshot's key material by kid

    def _resolve_sd_jwt_key(self, draft: Draft, header: Mapping[str, Any], payload: Mapping[str, Any]) -> Any:
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise CredentialError(ReasonCode.KEY_UNKNOWN, "header has no kid")
        draft.kid = kid
        header_jwk = header.get("jwk")
        if "x5c" in header:
            certified_key = self._x5c_key(draft, kid, header["x5c"], payload)
            if certified_key is not None:
                return certified_key
            header_jwk = public_jwk_of(draft_leaf_key(header["x5c"]))  # vouched for by trust / registry below
        try:
            jwk = self._trusted_jwk(kid, header_jwk, claimed_code(payload.get("iss"), payload.get("municipality")))
        except ChainError as exc:  # the node could not answer: the key is unknown, which is not a bad key
            raise CredentialError(node_code(exc), "issuer key could not be looked up") from exc
        if jwk is None:
            raise CredentialError(ReasonCode.KEY_UNKNOWN, "no trusted key for this kid")
        return self._public_key(kid, jwk)

    def _x5c_key(self, draft: Draft, kid: str, x5c: object, payload: Mapping[str, Any]) -> Any:
        """With trust anchors: the leaf's key, its chain validated at ``iat`` (the outcome kept on the draft for
        the ISSUER check; a bad chain still yields the key, so the signature is checked and the chain blamed).
        Without: None, and the leaf's key is only a candidate that a trust file or the registry must vouch for."""
        if self._anchors is None:
            return None
        draft.x5c = x5c if isinstance(x5c, list) else None
        iat = opt_int(payload.get("iat"))
        try:
            certified = self._anchors.validate(x5c, iat if iat is not None else int(self._clock()))
        except CredentialError as exc:
            draft.cert_error = exc.code
            leaf_key, leaf_kid = draft_leaf_key(x5c), None
        else:
            draft.certified = certified
            leaf_key, leaf_kid = certified.public_key, certified.kid  # cached with the path: no parsing
        if (leaf_kid or jwk_thumbprint(public_jwk_of(leaf_key))) != kid:
            raise CredentialError(ReasonCode.KEY_UNKNOWN, "kid is not the x5c leaf's key")
        return leaf_key

    def _paper_certificate(self, draft: Draft, cert_kid_text: str, iat: int) -> None:
        """A printed copy names its certificate by 8 bytes (EU DCC); the certificate itself comes from the trust
        file (the issuer's published JWK carries ``x5c``). Validated against the anchors when there are any."""
        found = certificate_for_kid(self._trust, draft.issuer_code, cert_kid_text)
        if found is None:
            return  # the kid stays unknown: KEY_UNKNOWN below
        draft.kid, x5c = found
        if self._anchors is not None:
            draft.x5c = x5c
            try:
                draft.certified = self._anchors.validate(x5c, iat)
            except CredentialError as exc:
                draft.cert_error = exc.code

    def _public_key(self, kid: str, jwk: Mapping[str, str]) -> Any:
        cached = self._public_keys.get(kid)
        if cached is not None and cached[0] == jwk:  # the same material (a dict compare: no serialising)
            return cached[1]
        key = public_key_from_jwk(jwk)
        self._public_keys[kid] = (dict(jwk), key)
        return key

    def _trusted_jwk(self, kid: str, header_jwk: object, code: str | None, *, own_namespace: bool = False
                     ) -> Mapping[str, str] | None:
        """Public key material for ``kid``: the trust snapshot's JWK; else the header's JWK when its RFC 7638
        thumbprint is ``kid`` and a trust source can vouch for ``kid`` (the snapshot lists it, or online the
        registry, whose answer comes in the same batch as anchor and revocation: the ISSUER check fails
        the credential when the registry does not know the key); else the JWK issuer ``code`` published in its
        own namespace of the registry (``code`` from the unverified ``iss``; the ISSUER check re-reads it)."""
        known = self._trust.key(code, kid) if self._trust and code else None
        if known is not None and known.jwk:
            return known.jwk
        if isinstance(header_jwk, Mapping) and jwk_thumbprint(header_jwk) == kid and (
                known is not None or self._registry is not None):
            return dict(header_jwk)  # as given: public_key_from_jwk validates every member
        if self._registry is not None and code is not None:
            try:
                return self._registry.public_jwk(code, kid)
            except ChainError:
                raise  # the node could not say (down, rate-limited, pruned logs): unknown, never "no key"
            except Exception as exc:  # any other failure of the external node is the same: unknown
                raise ChainError(ReasonCode.CHAIN_UNREACHABLE, "the node failed to answer") from exc
        return None if own_namespace else self._key_material(kid)

    def _key_material(self, kid: str) -> Mapping[str, Any] | None:
        """The public key ``kid`` names, from whichever municipality the snapshot lists it under. A kid is the
        hash of exactly one public key, so checking the signature with it is sound: a tampered credential is
        INVALID (signature_invalid), not merely "key not found"; whether the key may sign for the credential's
        ``iss`` stays the ISSUER check's question."""
        if self._trust is None:
            return None
        if self._jwk_by_kid is None:
            self._jwk_by_kid = {k.kid: k.jwk for k in self._trust.keys.values() if k.jwk}
        return self._jwk_by_kid.get(kid)

    def _authoritative(self) -> bool:
        """Whether "not in my trust list" means "not trusted by anyone" (registry or fresh registry snapshot)."""
        if self._registry is not None:
            return True
        return self._trust is not None and self._trust.source == "registry" and not self._stale()

    def _stale(self, now: int | None = None) -> bool:
        """Whether the snapshot is too old (or from the future) at ``now`` (default: the clock's now)."""
        if self._trust is None:
            return False
        now = int(self._clock()) if now is None else now
        return self._future(now) or self._trust.stale(now, self._policy.max_trust_age_seconds)

    def _future(self, now: int | None = None) -> bool:
        """A snapshot dated after now is a forged or mis-clocked file: its age would read 0 for ever."""
        if self._trust is None:
            return False
        now = int(self._clock()) if now is None else now
        return self._trust.generated_at > now + self._policy.skew_seconds

    def _stale_code(self) -> ReasonCode:
        return ReasonCode.TRUST_SNAPSHOT_FUTURE if self._future() else ReasonCode.TRUST_SNAPSHOT_STALE

