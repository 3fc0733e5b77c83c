"""Verifier: every check with its reason, for credentials, presentations and printed copies.

Trust comes from three places, never from the credential itself: a trust snapshot (offline: a municipality's
published keys or a registry snapshot), the registry contract (online), and X.509 trust anchors the verifier
chose, to which a credential's ``x5c`` chain must lead (civiccert.pki; the registry, when it speaks for the
city, must still list the certified key). A public key carried in a
credential header is used only after its RFC 7638 thumbprint matched a key that one of those trusts.

The verifier never says VALID when it could not make a check that the policy asked for: that check is
UNKNOWN and the verdict INDETERMINATE. A node that is down never turns a genuine credential INVALID.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from civiccert.chain.merkle import verify_inclusion
from civiccert.credential_file import CREDENTIAL_FORMAT, CredentialFile
from civiccert.credentials import sdjwt
from civiccert.credentials.claims import VCT_RESIDENT_RECORD, VCT_SEAL_CERTIFICATE
from civiccert.credentials.jose import json_parse, verify_compact
from civiccert.credentials.keys import jwk_thumbprint, public_jwk_of, public_key_from_jwk
from civiccert.errors import ChainError, CivicCertError, ConfigError, CredentialError, PaperError, ReasonCode
from civiccert.inputs import InputItem, read_inputs
from civiccert.paper import payload as paper_payload
from civiccert.pki.decide import CERT_KID_CHARS, certificate_decision, certificate_for_kid, draft_leaf_key, leaf_hash
from civiccert.pki.validate import CertifiedKey, TrustAnchors
from civiccert.records.municipalities import official_municipality
from civiccert.status.check import evaluate_status
from civiccert.status.source import StatusListSource
from civiccert.verification.online import ChainStatus, OnlineRegistry, RootStatus
from civiccert.verification.result import Check, CheckName, Outcome, VerificationResult
from civiccert.verification.trust import TrustSnapshot, key_status_at
from civiccert.verification.trust_signed import check_signers

__all__ = ["Policy", "Verifier"]

ISSUER_PREFIX = "urn:civiccert:lg:"
_KNOWN_VCTS = frozenset({VCT_RESIDENT_RECORD, VCT_SEAL_CERTIFICATE})

_DISCLOSURE_CODES = frozenset({
    ReasonCode.DISCLOSURE_MALFORMED, ReasonCode.DISCLOSURE_UNREFERENCED, ReasonCode.DISCLOSURE_DUPLICATE,
    ReasonCode.DIGEST_DUPLICATE, ReasonCode.CLAIM_NAME_RESERVED, ReasonCode.CLAIM_OVERWRITE,
    ReasonCode.SD_ALG_UNSUPPORTED, ReasonCode.DISCLOSURE_MISMATCH,
})
_BINDING_CODES = frozenset({ReasonCode.HOLDER_BINDING_FAILED, ReasonCode.HOLDER_BINDING_MISSING})
#: the node could not give a usable answer (down, too slow, too much, self-contradicting): UNKNOWN, never FAILED
_NODE_CODES = frozenset({
    ReasonCode.CHAIN_UNREACHABLE, ReasonCode.CHAIN_TIMEOUT, ReasonCode.CHAIN_RESPONSE_TOO_LARGE,
    ReasonCode.NODE_UNRELIABLE,
})
_SIGNATURE_CODES = frozenset({
    ReasonCode.SIGNATURE_INVALID, ReasonCode.ALG_NOT_ALLOWED, ReasonCode.TYP_INVALID, ReasonCode.CRIT_UNSUPPORTED,
    ReasonCode.CERT_CHAIN_INVALID,  # an x5c whose leaf gives no usable key
})


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


@dataclass
class _Draft:
    """A result under construction: checks in report order, then frozen into a VerificationResult."""

    form: str
    source: str | None = None
    checks: dict[CheckName, Check] = field(default_factory=dict)
    vct: str | None = None
    claims: dict[str, Any] = field(default_factory=dict)
    issuer: dict[str, Any] = field(default_factory=dict)
    anchor: dict[str, Any] = field(default_factory=dict)
    issued_at: int | None = None
    expires_at: int | None = None
    # chain lookups still to do (filled in by the bulk pass)
    credential_hash: bytes | None = None
    receipt: Mapping[str, Any] | None = None
    kid: str | None = None
    issuer_code: str | None = None
    iss: str | None = None
    key_jwk: Mapping[str, str] | None = None
    status_ref: object = None  # the signed ``status`` claim (draft-ietf-oauth-status-list), when present
    # x5c (civiccert.pki): the chain as sent, and what validating it said (a CertifiedKey or a CERT_* code)
    x5c: list[Any] | None = None
    certified: CertifiedKey | None = None
    cert_error: ReasonCode | None = None

    def set(self, name: CheckName, outcome: Outcome, code: ReasonCode, detail: str = "") -> None:
        self.checks[name] = _check(name, outcome, code, detail)

    def failed(self) -> bool:
        return any(c.outcome is Outcome.FAILED for c in self.checks.values())

    def freeze(self) -> VerificationResult:
        checks = tuple(sorted(self.checks.values(), key=_report_position))
        return VerificationResult(
            checks=checks, form=self.form, vct=self.vct, claims=self.claims, issuer=self.issuer,
            anchor=self.anchor, source=self.source, issued_at=self.issued_at, expires_at=self.expires_at,
        )


_POSITION = {name: i for i, name in enumerate(CheckName)}  # report order
_CHECKS: dict[tuple[int, int, int, str], Check] = {}  # Check is frozen: one object per distinct check


def _report_position(check: Check) -> int:
    return _POSITION[check.name]


def _check(name: CheckName, outcome: Outcome, code: ReasonCode, detail: str) -> Check:
    """The (shared, immutable) Check; keyed by the members' ids, which are fixed, as Enum hashing is slow."""
    key = (id(name), id(outcome), id(code), detail)
    found = _CHECKS.get(key)
    if found is None:
        if len(_CHECKS) >= 4096:  # details such as "block N" vary: keep the cache bounded
            _CHECKS.clear()
        found = _CHECKS[key] = Check(name, outcome, code, detail)
    return found


class Verifier:
    """Verifies credential files, SD-JWT presentations and printed-copy QR texts.

    ``trust`` is an offline snapshot; ``registry`` makes the verifier online (anchor, revocation, key
    registry). With neither, signatures can be checked but issuers cannot be trusted: INDETERMINATE.
    """

    def __init__(
        self,
        *,
        trust: TrustSnapshot | None = None,
        registry: OnlineRegistry | None = None,
        policy: Policy | None = None,
        clock: Callable[[], float] = time.time,
        status_lists: StatusListSource | None = None,
        trust_anchors: TrustAnchors | None = None,
    ) -> None:
        self._status_lists = status_lists
        if trust is not None and registry is not None:
            _check_pinned(trust, registry)
        if trust is not None and trust_anchors is not None:
            check_signers(trust, trust_anchors)  # with anchors, a municipal export must carry a certified signature
        self._trust = trust
        self._registry = registry
        self._policy = policy or Policy()
        self._clock = clock
        self._public_keys: dict[str, tuple[dict[str, Any], Any]] = {}  # kid -> (jwk, parsed key): parse once
        self._jwk_by_kid: dict[str, Mapping[str, Any]] | None = None  # the snapshot's key material by kid
        self._anchors = trust_anchors  # X.509 roots for credentials carrying x5c (civiccert.pki)

    @property
    def online(self) -> bool:
        return self._registry is not None

    # --- entry points ----------------------------------------------------------------------------------
    def verify(self, data: str | bytes | CredentialFile, *, source: str | None = None) -> VerificationResult:
        """Verify one input: a credential file (JSON), a compact SD-JWT (presentation) or a QR text."""
        return self.verify_many([data], sources=[source])[0]

    def verify_many(
        self, items: Sequence[str | bytes | CredentialFile], *, sources: Sequence[str | None] | None = None
    ) -> list[VerificationResult]:
        """Verify many inputs; online lookups for all of them go to the node in one JSON-RPC batch."""
        srcs = list(sources) if sources is not None else [None] * len(items)
        drafts = [self._local(item, src) for item, src in zip(items, srcs, strict=True)]
        self._chain_checks(drafts)
        self._status_checks(drafts)
        return [d.freeze() for d in drafts]

    def verify_path(self, path: Path) -> list[VerificationResult]:
        """A credential file, a presentation file, or a photo / scan / PDF of a printed copy."""
        return self.verify_items(read_inputs(path))

    def verify_items(self, items: Sequence[InputItem]) -> list[VerificationResult]:
        """Verify what ``read_inputs`` found; a printed copy's QR must also belong to its PDF page."""
        drafts = [self._local(item.text, item.source) for item in items]
        pdf_signatures: dict[Path, Any] = {}  # one validation per PDF file, however many QR codes it holds
        for draft, item in zip(drafts, items, strict=True):
            if item.page_text is not None and draft.form == "paper":
                _bind_to_page(draft, item.page_text)
            if item.pdf is not None and draft.form == "paper" and not draft.failed():
                _check_page(draft, item.pdf, item.page)
            elif item.photo is not None and draft.vct == VCT_SEAL_CERTIFICATE and not draft.failed():
                _check_photo_seal(draft, item)
            if item.pdf is not None and draft.form == "paper" and CheckName.SIGNATURE in draft.checks:
                from civiccert.paper.pdfsig import pdf_signature_check  # pyHanko only for PDFs

                draft.set(CheckName.PDF_SIGNATURE, *pdf_signature_check(
                    item, at=draft.issued_at, trust=self._trust, anchors=self._anchors, code=draft.issuer_code,
                    cache=pdf_signatures))
        self._chain_checks(drafts)
        self._status_checks(drafts)
        return [d.freeze() for d in drafts]

    # --- local checks (no network) -------------------------------------------------------------------
    def _local(self, item: str | bytes | CredentialFile, source: str | None) -> _Draft:
        try:
            if isinstance(item, CredentialFile):
                return self._local_sd_jwt(item.sd_jwt, item.receipt, _form(item), source)
            text = item.decode("utf-8") if isinstance(item, bytes) else item
            text = text.strip()
            if text.startswith("{"):
                cred = _load_credential_file(text)
                return self._local_sd_jwt(cred.sd_jwt, cred.receipt, _form(cred), source)
            if text[:4].upper() == paper_payload.PREFIX[:4].upper() or text[:2].upper() == "CC":
                return self._local_paper(text, source)
            return self._local_sd_jwt(text, None, "presentation", source)
        except UnicodeDecodeError:
            draft = _Draft(form="unknown", source=source)
            draft.set(CheckName.FORMAT, Outcome.FAILED, ReasonCode.MALFORMED, "input is not UTF-8 text")
            return draft
        except CivicCertError as exc:
            draft = _Draft(form="unknown", source=source)
            draft.set(CheckName.FORMAT, Outcome.FAILED, exc.code, "input is not a civiccert credential")
            return draft
        except (TypeError, ValueError, KeyError, IndexError, AttributeError, RecursionError):
            # malformed input that slipped past a parser's own checks: still a finding, never a crash
            draft = _Draft(form="unknown", source=source)
            draft.set(CheckName.FORMAT, Outcome.FAILED, ReasonCode.MALFORMED, "input is not a civiccert credential")
            return draft

    def _local_sd_jwt(self, text: str, receipt: Mapping[str, Any] | None, form: str, source: str | None) -> _Draft:
        draft = _Draft(form=form, source=source, receipt=receipt)
        policy = self._policy
        try:
            verified = sdjwt.verify(
                text,
                resolve_key=lambda header, payload: self._resolve_sd_jwt_key(draft, header, payload),
                algorithms=policy.algorithms,
                require_key_binding=policy.require_holder_binding,
                aud=policy.aud,
                nonce=policy.nonce,
                now=self._clock(),
                skew=policy.skew_seconds,
                check_validity=False,
                kb_max_age=policy.kb_max_age_seconds,
            )
        except CredentialError as exc:
            self._classify_failure(draft, exc)
            if draft.checks[CheckName.FORMAT].outcome is Outcome.FAILED:
                self._signature_alone(draft, text)
            return draft
        draft.set(CheckName.FORMAT, Outcome.PASSED, ReasonCode.OK)
        draft.set(CheckName.SIGNATURE, Outcome.PASSED, ReasonCode.OK, f"{verified.header.get('alg')}")
        draft.set(CheckName.DISCLOSURES, Outcome.PASSED, ReasonCode.OK,
                  f"{len(verified.disclosed_paths)} disclosed")
        if policy.require_holder_binding:
            draft.set(CheckName.HOLDER_BINDING, Outcome.PASSED, ReasonCode.OK)
        else:
            draft.set(CheckName.HOLDER_BINDING, Outcome.SKIPPED, ReasonCode.NOT_CHECKED)
        payload = verified.payload
        draft.credential_hash = sdjwt.credential_hash(verified.issuer_signed_jwt)
        draft.vct = str(payload.get("vct"))
        draft.claims = {k: v for k, v in verified.claims.items() if k not in sdjwt.NEVER_DISCLOSABLE}  # no envelope
        draft.status_ref = payload.get("status")
        self._common_envelope(draft, payload, verified.claims.get("municipality"))
        return draft

    def _local_paper(self, text: str, source: str | None) -> _Draft:
        draft = _Draft(form="paper", source=source)
        try:
            decoded = paper_payload.decode_qr_text(text)
        except PaperError as exc:
            draft.set(CheckName.FORMAT, Outcome.FAILED, exc.code, "QR text is not a civiccert printed copy")
            return draft
        draft.set(CheckName.FORMAT, Outcome.PASSED, ReasonCode.OK)
        draft.kid = decoded.kid
        draft.receipt = decoded.receipt
        draft.credential_hash = decoded.credential_hash
        draft.vct = decoded.vct
        draft.claims = dict(decoded.claims)
        draft.status_ref = decoded.status
        if decoded.alg not in self._policy.algorithms:
            draft.set(CheckName.SIGNATURE, Outcome.FAILED, ReasonCode.ALG_NOT_ALLOWED)
            return draft
        envelope = {"iss": decoded.iss, "iat": decoded.iat, "exp": decoded.exp, "nbf": decoded.nbf}
        draft.issuer_code = _claimed_code(decoded.iss, decoded.claims.get("municipality"))
        if len(decoded.kid) == CERT_KID_CHARS:  # a certificate kid: find the certificate, then its key id
            self._paper_certificate(draft, decoded.kid, decoded.iat)
        try:
            jwk = self._trusted_jwk(draft.kid, None, draft.issuer_code)
        except ChainError as exc:
            draft.set(CheckName.SIGNATURE, Outcome.UNKNOWN, _node_code(exc),
                      "the issuer's public key could not be read from the chain")
        else:
            if jwk is None:
                draft.set(CheckName.SIGNATURE, Outcome.FAILED if self._authoritative() else Outcome.UNKNOWN,
                          ReasonCode.KEY_UNKNOWN, "no trusted public key for this printed copy's key id")
            elif paper_payload.verify_paper_signature(decoded, self._public_key(draft.kid, jwk)):
                draft.set(CheckName.SIGNATURE, Outcome.PASSED, ReasonCode.OK, decoded.alg)
            else:
                draft.set(CheckName.SIGNATURE, Outcome.FAILED, ReasonCode.SIGNATURE_INVALID)
                draft.claims = {}  # nothing of a forged copy is shown
                return draft
        draft.set(CheckName.DISCLOSURES, Outcome.PASSED, ReasonCode.OK,
                  "printed copy: compare the page with these claims (a photo has no text to check)")
        if self._policy.require_holder_binding:
            draft.set(CheckName.HOLDER_BINDING, Outcome.FAILED, ReasonCode.HOLDER_BINDING_MISSING,
                      "a printed copy cannot prove who holds it")
        else:
            draft.set(CheckName.HOLDER_BINDING, Outcome.SKIPPED, ReasonCode.NOT_CHECKED)
        self._common_envelope(draft, envelope, decoded.claims.get("municipality"))
        return draft

    def _common_envelope(self, draft: _Draft, payload: Mapping[str, Any], municipality: object) -> None:
        """Credential type, issuer identity, validity window: the same rules for the digital and the paper form."""
        if draft.vct not in _KNOWN_VCTS:
            draft.set(CheckName.FORMAT, Outcome.FAILED, ReasonCode.VCT_UNKNOWN, "not a civiccert credential type")
        iss = payload.get("iss")
        code = _claimed_code(iss, municipality)
        draft.issuer_code = code
        draft.iss = iss if isinstance(iss, str) else None
        body = municipality if type(municipality) is dict or isinstance(municipality, Mapping) else None
        body_code = body.get("code") if body is not None else None
        body_name = body.get("name") if body is not None else None
        draft.issuer = {"code": code, "name": body_name, "kid": draft.kid}
        official = official_municipality(code) if code is not None else None
        if code is None or body_code != code:
            draft.set(CheckName.ISSUER, Outcome.FAILED, ReasonCode.ISSUER_MISMATCH,
                      "issuer and certifying municipality differ")
        elif official is not None and body_name != official.name:
            draft.set(CheckName.ISSUER, Outcome.FAILED, ReasonCode.MUNICIPALITY_NAME_MISMATCH,
                      "the certifying municipality's name is not the official name for its code")
        iat, nbf, exp = _opt_int(payload.get("iat")), _opt_int(payload.get("nbf")), _opt_int(payload.get("exp"))
        draft.issued_at, draft.expires_at = iat, exp
        now, skew = int(self._clock() if self._policy.at is None else self._policy.at), self._policy.skew_seconds
        if iat is None or exp is None:
            draft.set(CheckName.VALIDITY, Outcome.FAILED, ReasonCode.MALFORMED, "iat and exp are required")
        elif exp <= now - skew:
            draft.set(CheckName.VALIDITY, Outcome.FAILED, ReasonCode.EXPIRED)
        elif iat > now + skew or (nbf is not None and nbf > now + skew):
            draft.set(CheckName.VALIDITY, Outcome.FAILED, ReasonCode.NOT_YET_VALID)
        else:
            draft.set(CheckName.VALIDITY, Outcome.PASSED, ReasonCode.OK)

    def _classify_failure(self, draft: _Draft, exc: CredentialError) -> None:
        code = exc.code
        if draft.checks.get(CheckName.FORMAT) is None and code not in _SIGNATURE_CODES | _DISCLOSURE_CODES | \
                _BINDING_CODES | _NODE_CODES | {ReasonCode.KEY_UNKNOWN}:
            draft.set(CheckName.FORMAT, Outcome.FAILED, code, "input is not a well-formed SD-JWT")
            return
        draft.set(CheckName.FORMAT, Outcome.PASSED, ReasonCode.OK)
        if code in _DISCLOSURE_CODES:
            draft.set(CheckName.SIGNATURE, Outcome.PASSED, ReasonCode.OK)
            draft.set(CheckName.DISCLOSURES, Outcome.FAILED, code)
        elif code in _BINDING_CODES:
            draft.set(CheckName.SIGNATURE, Outcome.PASSED, ReasonCode.OK)
            draft.set(CheckName.HOLDER_BINDING, Outcome.FAILED, code)
        elif code in _NODE_CODES:
            draft.set(CheckName.SIGNATURE, Outcome.UNKNOWN, code, "issuer key could not be looked up")
        elif code is ReasonCode.KEY_UNKNOWN:
            outcome = Outcome.FAILED if self._authoritative() else Outcome.UNKNOWN
            draft.set(CheckName.SIGNATURE, outcome, code, "signing key is not trusted")
            if outcome is Outcome.UNKNOWN and self._stale():
                draft.set(CheckName.ISSUER, Outcome.UNKNOWN, self._stale_code())
        else:
            draft.set(CheckName.SIGNATURE, Outcome.FAILED, code)

    def _signature_alone(self, draft: _Draft, text: str) -> None:
        """A credential we cannot read (too deep, malformed disclosures...) may still carry a trusted issuer's
        valid signature: then it is a verdict (INVALID, the issuer signed something broken), not bad input.
        Only trust sources vouch for the key here (never the header's JWK alone)."""
        def resolve(header: Mapping[str, Any], raw_payload: bytes) -> Any:
            kid = header.get("kid")
            if not isinstance(kid, str):
                raise CredentialError(ReasonCode.KEY_UNKNOWN, "header has no kid")
            jwk = self._key_material(kid)
            if jwk is None and self._registry is not None:
                try:
                    payload = json_parse(raw_payload)
                    code = _issuer_code(payload.get("iss")) if isinstance(payload, dict) else None
                    jwk = self._trusted_jwk(kid, None, code) if code else None
                except CivicCertError:  # unreadable payload, node failure: nobody vouched for the key
                    jwk = None
            if jwk is None:
                raise CredentialError(ReasonCode.KEY_UNKNOWN, "no trusted key for this kid")
            return self._public_key(kid, jwk)

        try:
            verify_compact(text.split("~", 1)[0], algorithms=self._policy.algorithms,
                           resolve_key=resolve, expected_typ="dc+sd-jwt")
        except (CivicCertError, TypeError, ValueError, KeyError, IndexError, AttributeError, RecursionError):
            return
        if CheckName.SIGNATURE not in draft.checks:
            draft.set(CheckName.SIGNATURE, Outcome.PASSED, ReasonCode.OK, "signed by a trusted key; unreadable")

    # --- keys ----------------------------------------------------------------------------------------
    def _resolve_sd_jwt_key(self, draft: _Draft, header: Mapping[str, Any], payload: Mapping[str, Any]) -> Any:
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
            jwk = self._trusted_jwk(kid, header_jwk, _claimed_code(payload.get("iss"), payload.get("municipality")))
        except ChainError as exc:  # the node could not answer: the key is unknown, which is not a bad key
            raise CredentialError(_node_code(exc), "issuer key could not be looked up") from exc
        if jwk is None:
            raise CredentialError(ReasonCode.KEY_UNKNOWN, "no trusted key for this kid")
        return self._public_key(kid, jwk)

    def _x5c_key(self, draft: _Draft, kid: str, x5c: object, payload: Mapping[str, Any]) -> Any:
        """With trust anchors: the leaf's key, its chain validated at ``iat`` (the outcome kept on the draft for
        the ISSUER check; a bad chain still yields the key, so the signature is checked and the chain blamed).
        Without: None, and the leaf's key is only a candidate that a trust file or the registry must vouch for."""
        if self._anchors is None:
            return None
        draft.x5c = x5c if isinstance(x5c, list) else None
        iat = _opt_int(payload.get("iat"))
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

    def _paper_certificate(self, draft: _Draft, cert_kid_text: str, iat: int) -> None:
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

    def _stale(self) -> bool:
        return self._trust is not None and (self._future() or self._trust.stale(
            int(self._clock()), self._policy.max_trust_age_seconds))

    def _future(self) -> bool:
        """A snapshot dated after now is a forged or mis-clocked file: its age would read 0 for ever."""
        return self._trust is not None and self._trust.generated_at > int(self._clock()) + self._policy.skew_seconds

    def _stale_code(self) -> ReasonCode:
        return ReasonCode.TRUST_SNAPSHOT_FUTURE if self._future() else ReasonCode.TRUST_SNAPSHOT_STALE

    # --- issuer trust, anchor, revocation ------------------------------------------------------------
    def _chain_checks(self, drafts: list[_Draft]) -> None:
        live = [d for d in drafts if d.credential_hash is not None and not d.failed()
                and CheckName.SIGNATURE in d.checks]
        statuses: dict[int, ChainStatus | ChainError] = {}
        if self._registry is not None and live:
            statuses = self._lookup(live)
        for i, draft in enumerate(live):
            status = statuses.get(i)
            self._anchor_check(draft, status)
            self._issuer_check(draft, status)
        for draft in drafts:
            if CheckName.FORMAT in draft.checks and draft.checks[CheckName.FORMAT].outcome is Outcome.PASSED:
                for name in (CheckName.ANCHOR, CheckName.REVOCATION, CheckName.ISSUER):
                    if name not in draft.checks:
                        draft.set(name, Outcome.UNKNOWN, ReasonCode.NOT_CHECKED, "not reached")

    def _lookup(self, drafts: list[_Draft]) -> dict[int, ChainStatus | ChainError]:
        assert self._registry is not None
        queries = []
        for d in drafts:
            root = _receipt_root(d.receipt)
            queries.append((d.issuer_code or "", d.kid or "", root, d.credential_hash or b""))
        try:
            pinned = self._trust.chain_id if self._trust is not None else None
            if pinned is not None and self._registry.chain_id != pinned:
                raise ChainError(ReasonCode.CHAIN_ID_MISMATCH, "the node is not on the trust snapshot's chain")
            answers = self._registry.statuses(queries)
        except ChainError as exc:
            return dict.fromkeys(range(len(drafts)), exc)
        except Exception as exc:  # a misbehaving node (odd replies, HTTP errors): unknown, never a crash
            error = ChainError(ReasonCode.CHAIN_UNREACHABLE, "the node failed to answer")
            error.__cause__ = exc
            return dict.fromkeys(range(len(drafts)), error)
        return dict(enumerate(answers))

    def _anchor_check(self, draft: _Draft, status: ChainStatus | ChainError | None) -> None:
        policy = self._policy
        if self._registry is None:
            draft.set(CheckName.ANCHOR, Outcome.SKIPPED, ReasonCode.NOT_CHECKED, "offline")
            draft.set(CheckName.REVOCATION, Outcome.SKIPPED, ReasonCode.NOT_CHECKED, "offline")
            if draft.receipt and self._trust is not None and self._trust.registry and not _same_registry(
                    draft.receipt, self._trust.chain_id, self._trust.registry):
                draft.set(CheckName.ANCHOR, Outcome.FAILED, ReasonCode.RECEIPT_MISMATCH,
                          "receipt names another chain or registry than the trust snapshot")
            return
        if not policy.check_anchor:
            draft.set(CheckName.ANCHOR, Outcome.SKIPPED, ReasonCode.NOT_CHECKED, "not requested")
        if isinstance(status, ChainError) or status is None:
            code = status.code if isinstance(status, ChainError) else ReasonCode.CHAIN_UNREACHABLE
            if policy.check_anchor:
                draft.set(CheckName.ANCHOR, Outcome.UNKNOWN, code)
            draft.set(CheckName.REVOCATION, Outcome.UNKNOWN, code)
            return
        # revocation needs no receipt (keyed by municipality and credential hash): always checked online
        if status.revoked:
            draft.set(CheckName.REVOCATION, Outcome.FAILED, ReasonCode.REVOKED, f"reason {status.revoked_reason}")
        else:
            draft.set(CheckName.REVOCATION, Outcome.PASSED, ReasonCode.OK)
        if policy.check_anchor:
            self._anchor_from_receipt(draft, status)

    def _anchor_from_receipt(self, draft: _Draft, status: ChainStatus) -> None:
        """The receipt's proof leads from the credential to a root anchored in the issuer's namespace."""
        assert self._registry is not None
        receipt = draft.receipt
        if not receipt:
            draft.set(CheckName.ANCHOR, Outcome.UNKNOWN, ReasonCode.RECEIPT_MISSING, "no anchoring receipt yet")
            return
        if not _same_registry(receipt, self._registry.chain_id, self._registry.address):
            draft.set(CheckName.ANCHOR, Outcome.FAILED, ReasonCode.RECEIPT_MISMATCH,
                      "receipt names another chain or registry, or is malformed")
            return
        root = _receipt_root(receipt)
        try:
            proof = [bytes.fromhex(str(p).removeprefix("0x")) for p in receipt["proof"]]
            size = int(receipt["size"])
            ok = root is not None and draft.credential_hash is not None and verify_inclusion(
                draft.credential_hash, int(receipt["index"]), size, proof, root)
        except (KeyError, TypeError, ValueError, AttributeError):
            ok, size = False, -1
        if not ok or root is None:
            draft.set(CheckName.ANCHOR, Outcome.FAILED, ReasonCode.PROOF_INVALID)
            return
        root_status: RootStatus | None = status.root
        if root_status is None:  # also when only another municipality anchored it: namespaces are per issuer
            if self._confirms_receipt_tx(draft, root):
                draft.set(CheckName.ANCHOR, Outcome.UNKNOWN, ReasonCode.NODE_UNRELIABLE,
                          "the node shows the receipt's anchoring transaction but denies the anchor")
            else:
                draft.set(CheckName.ANCHOR, Outcome.FAILED, ReasonCode.NOT_ANCHORED)
            return
        if size != root_status.leaf_count:
            draft.set(CheckName.ANCHOR, Outcome.FAILED, ReasonCode.PROOF_INVALID,
                      "the proof's tree size differs from the anchored batch")
            return
        try:  # shown only when the chain confirms the receipt's claim; informational, never a failure
            tx = self._registry.confirmed_anchor_transaction(draft.issuer_code or "", root, root_status.block_number,
                                                             receipt.get("tx"))
        except Exception:  # informational: a node that cannot confirm it just leaves it out
            tx = None
        draft.anchor = {"chain_id": self._registry.chain_id, "registry": self._registry.address,
                        "root": "0x" + root.hex(), "block": root_status.block_number,
                        "anchored_at": root_status.anchored_at, "tx": tx}
        draft.set(CheckName.ANCHOR, Outcome.PASSED, ReasonCode.OK, f"block {root_status.block_number}")

    def _confirms_receipt_tx(self, draft: _Draft, root: bytes) -> bool:
        """Whether the node itself shows the receipt's transaction anchoring ``root`` for the issuer, sent by
        one of its operators (then "not anchored" is the node contradicting itself, never a forged receipt:
        such a transaction anchors the root in the issuer's namespace for good)."""
        assert self._registry is not None
        assert draft.receipt is not None
        block = draft.receipt.get("block")
        if not draft.issuer_code or not isinstance(block, int) or isinstance(block, bool) or block <= 0:
            return False
        try:
            return self._registry.confirmed_anchor_transaction(draft.issuer_code, root, block,
                                                               draft.receipt.get("tx")) is not None
        except Exception:  # a node that cannot confirm it confirms nothing
            return False

    def _issuer_check(self, draft: _Draft, status: ChainStatus | ChainError | None) -> None:
        if CheckName.ISSUER in draft.checks:
            return
        code, kid = draft.issuer_code, draft.kid
        if code is None or kid is None:
            draft.set(CheckName.ISSUER, Outcome.FAILED, ReasonCode.KEY_UNKNOWN)
            return
        official = official_municipality(code)  # the 総務省 list first: a trust file can say anything
        known_name = official.name if official is not None else self._trust.municipalities[code].name \
            if self._trust and code in self._trust.municipalities else ""
        if known_name:  # the name a business sees comes from a trust source, not from the credential body
            draft.issuer["name"] = known_name
        draft.issuer["name_verified"] = bool(known_name)  # else it is the name the issuer signed, unchecked
        # issuance time: the block that anchored it when known (cannot be backdated), else iat
        anchored_at = draft.anchor.get("anchored_at")
        at = int(anchored_at or draft.issued_at or 0)
        if (draft.certified or draft.cert_error) and not self._certificate_issuer(draft, status, at):
            return
        if self._anchors is not None and not (draft.certified or draft.cert_error):
            # with trust anchors, only certified keys: the registry alone (whose admin registers cities) is no root
            draft.set(CheckName.ISSUER, Outcome.FAILED, ReasonCode.CERT_REQUIRED,
                      "the verifier requires a certificate and the credential's key has none")
            return
        if isinstance(status, ChainStatus):
            key, muni, where = status.key, status.municipality, "registry"
            signature = draft.checks.get(CheckName.SIGNATURE)
            if key is None and muni is not None and (
                    (draft.form != "paper" and draft.anchor.get("block") is not None)
                    or (signature is not None and signature.code is ReasonCode.NODE_UNRELIABLE)):
                # the anchored leaf is the hash of this very JWT, kid included: the municipality anchored a
                # credential signed with this key, yet the node says the key was never registered there
                # (or the node already contradicted its own logs about this key)
                draft.set(CheckName.ISSUER, Outcome.UNKNOWN, ReasonCode.NODE_UNRELIABLE,
                          "the node denies the key of a credential anchored by its issuer")
                return
        elif self._trust is None:
            reason = status.code if isinstance(status, ChainError) else ReasonCode.KEY_UNKNOWN
            draft.set(CheckName.ISSUER, Outcome.UNKNOWN, reason, "no trust snapshot and no registry")
            return
        elif self._stale():
            draft.set(CheckName.ISSUER, Outcome.UNKNOWN, self._stale_code(),
                      f"snapshot generated at {self._trust.generated_at}")
            return
        else:
            key, muni = self._trust.key(code, kid), self._trust.municipalities.get(code)
            where = f"trust snapshot, {self._trust.age(int(self._clock()))} s old"
        verdict = key_status_at(key, muni, code, at, skew=self._policy.skew_seconds, issued_at=draft.issued_at)
        if verdict in (ReasonCode.ISSUER_NOT_REGISTERED, ReasonCode.KEY_UNKNOWN) and not isinstance(
                status, ChainStatus) and self._trust is not None and self._trust.source != "registry":
            draft.set(CheckName.ISSUER, Outcome.UNKNOWN, verdict, "not in the given trust file")
            return
        if verdict is ReasonCode.OK and anchored_at is None and key is not None and key.revoked_at is not None:
            # the key was compromised: a forger holding it can write any iat, only a block cannot lie
            draft.set(CheckName.ISSUER, Outcome.UNKNOWN, ReasonCode.ISSUANCE_TIME_UNVERIFIED,
                      "the key was revoked; only an anchor can prove this credential was issued before that")
            return
        self._set_issuer(draft, verdict, where)

    # --- status lists (draft-ietf-oauth-status-list) -----------------------------------------------------
    def _status_checks(self, drafts: list[_Draft]) -> None:
        """The REVOCATION check from the issuer's status list, when the verifier has a source of lists. An
        on-chain revocation already found stays; otherwise the list decides (see :mod:`civiccert.status.check`)."""
        if self._status_lists is None:
            return
        for draft in drafts:
            signature = draft.checks.get(CheckName.SIGNATURE)
            current = draft.checks.get(CheckName.REVOCATION)
            if signature is None or signature.outcome is not Outcome.PASSED or draft.status_ref is None:
                continue
            if current is not None and current.outcome is Outcome.FAILED and self._policy.at is None:
                continue
            outcome, code, detail = evaluate_status(
                draft.status_ref, self._status_lists, issuer_code=draft.issuer_code or "",
                public_key=self._status_list_key, now=int(self._clock()), skew=self._policy.skew_seconds,
                registry=self._registry, at=self._policy.at)
            draft.set(CheckName.REVOCATION, outcome, code, detail)

    def _status_list_key(self, kid: str | None, code: str) -> Any:
        """A public key the issuer's trust sources list in ITS namespace: the list must be signed by the issuer
        itself (no later check vouches for the signer, as the ISSUER check does for a credential)."""
        if kid is None:
            return None
        jwk = self._trusted_jwk(kid, None, code, own_namespace=True)
        return None if jwk is None else self._public_key(kid, jwk)

    def _certificate_issuer(self, draft: _Draft, status: ChainStatus | ChainError | None, at: int) -> bool:
        """The ISSUER check for an x5c chain (civiccert.pki.decide). True: the registry or trust file also speaks
        for this city and lists the key, so their key rules apply too; False: the check is set here."""
        if draft.certified is not None and draft.anchor.get("anchored_at") is not None and self._anchors:
            try:  # anchor time, not the iat the signer wrote
                draft.certified = self._anchors.validate(draft.x5c, at)
            except CredentialError as exc:
                draft.certified, draft.cert_error = None, exc.code
        recorded: bool | None = None  # the registry records this leaf for the key (None: source says nothing)
        leaf = leaf_hash(draft.certified.leaf) if draft.certified is not None else None
        if isinstance(status, ChainStatus):
            speaks, listed = status.municipality is not None, status.key is not None
            if listed and leaf is not None and self._registry is not None:
                try:
                    recorded = self._registry.certificate_recorded(draft.issuer_code or "", draft.kid or "", leaf)
                except Exception:  # the node could not say: unknown, never a verdict about the certificate
                    draft.set(CheckName.ISSUER, Outcome.UNKNOWN, ReasonCode.CHAIN_UNREACHABLE,
                              "the registry could not be asked for the certificate")
                    return False
        elif isinstance(status, ChainError):
            draft.set(CheckName.ISSUER, Outcome.UNKNOWN, status.code, "the registry could not be asked")
            return False
        elif self._trust is not None and draft.issuer_code in self._trust.municipalities and not self._stale():
            key = self._trust.key(draft.issuer_code or "", draft.kid or "")
            speaks, listed = True, key is not None
            if key is not None and key.certificates is not None and leaf is not None:
                recorded = "0x" + leaf.hex() in key.certificates
        else:
            speaks = listed = False
        outcome, code, detail = certificate_decision(
            draft.certified, draft.cert_error, code=draft.issuer_code, name=draft.issuer.get("name"),
            iss=draft.iss, at=at, anchored=draft.anchor.get("anchored_at") is not None,
            registry_speaks=speaks, registry_lists=listed, recorded=recorded)
        if outcome is None:
            return True
        draft.set(CheckName.ISSUER, outcome, code, detail)
        return False

    @staticmethod
    def _set_issuer(draft: _Draft, verdict: ReasonCode, where: str) -> None:
        if verdict is ReasonCode.OK:
            draft.set(CheckName.ISSUER, Outcome.PASSED, verdict, where)
        else:
            draft.set(CheckName.ISSUER, Outcome.FAILED, verdict, where)


def _check_pinned(trust: TrustSnapshot, registry: OnlineRegistry) -> None:
    """A registry snapshot pins the registry: pointing the verifier at another contract (one an attacker
    deployed and registered a city in) is a configuration error, never a source of trust."""
    if trust.registry and trust.registry.lower() != registry.configured_address.lower():
        raise ConfigError(ReasonCode.REGISTRY_MISMATCH, "the registry differs from the trust snapshot's registry",
                          field="registry")


def _same_registry(receipt: Mapping[str, Any], chain_id: int | None, address: str) -> bool:
    """Whether a receipt names this chain (when known) and this registry contract."""
    try:
        return (chain_id is None or int(receipt.get("chain_id", -1)) == chain_id) and \
            str(receipt.get("registry", "")).lower() == address.lower()
    except (TypeError, ValueError, AttributeError):
        return False


def _bind_to_page(draft: _Draft, page_text: str) -> None:
    """A QR from one copy pasted onto another: the page's certificate serial is not the QR's."""
    certificate = draft.claims.get("certificate")
    serial = certificate.get("serial") if isinstance(certificate, Mapping) else None
    # the serial as a whole token: "…-0001" must not match a page printed "…-000123"
    if not isinstance(serial, str) or not re.search(
            r"(?<![0-9A-Za-z_-])" + re.escape(serial) + r"(?![0-9A-Za-z_-])", page_text):
        draft.set(CheckName.DISCLOSURES, Outcome.FAILED, ReasonCode.DISCLOSURE_MISMATCH,
                  "the QR does not belong to this page (certificate serial differs)")
    elif CheckName.DISCLOSURES in draft.checks and draft.checks[CheckName.DISCLOSURES].outcome is Outcome.PASSED:
        draft.set(CheckName.DISCLOSURES, Outcome.PASSED, ReasonCode.OK,
                  "printed copy: the QR belongs to this PDF page (serial matches)")


def _check_page(draft: _Draft, pdf: Path, page: int) -> None:
    """The PDF page shows what the QR signs (civiccert.paper.pagecheck): text in order, seal impression."""
    from civiccert.paper.pagecheck import check_pdf_page  # local: Pillow only when a PDF is verified

    finding = check_pdf_page(draft.vct or "", draft.claims, pdf, page)
    if finding.code is ReasonCode.OK:
        draft.set(CheckName.PAGE, Outcome.PASSED, ReasonCode.OK, finding.detail)
    elif finding.code is ReasonCode.PAGE_NOT_CHECKED:
        draft.set(CheckName.PAGE, Outcome.SKIPPED, finding.code, finding.detail)
    else:
        draft.set(CheckName.PAGE, Outcome.FAILED, finding.code, finding.detail)


def _check_photo_seal(draft: _Draft, item: InputItem) -> None:
    """A photo of a 印鑑登録証明書: the printed impression against the signed pHash (paper.sealphoto)."""
    from civiccert.paper.sealphoto import check_photo_file  # local: imaging only for photos

    seal = draft.claims.get("seal")
    if item.photo is None or not isinstance(seal, Mapping):
        return
    found = check_photo_file(item.photo, item.page, item.corners, len(item.text), seal)
    outcome = {ReasonCode.OK: Outcome.PASSED, ReasonCode.SEAL_MISMATCH: Outcome.FAILED}.get(found.code, Outcome.UNKNOWN)
    draft.set(CheckName.PAGE, outcome, found.code, found.detail)


def _node_code(exc: ChainError) -> ReasonCode:
    """Why the node could not vouch for something (a code of ``_NODE_CODES``)."""
    return exc.code if exc.code in _NODE_CODES else ReasonCode.CHAIN_UNREACHABLE

def _claimed_code(iss: object, municipality: object) -> str | None:
    """The municipality a credential speaks for: from a civiccert URN ``iss``, or, for an HTTPS ``iss`` (a
    certified issuer), the certifying municipality in the body; its key must then be that city's."""
    if isinstance(iss, str) and iss.startswith("https://") and isinstance(municipality, Mapping):
        return _issuer_code(ISSUER_PREFIX + str(municipality.get("code")))
    return _issuer_code(iss)


def _issuer_code(iss: object) -> str | None:
    if isinstance(iss, str) and iss.startswith(ISSUER_PREFIX):
        code = iss[len(ISSUER_PREFIX):]
        return code if len(code) == 6 and code.isascii() and code.isdigit() and code != "000000" else None
    return None


def _receipt_root(receipt: Mapping[str, Any] | None) -> bytes | None:
    if not isinstance(receipt, Mapping) or "root" not in receipt:
        return None
    try:
        root = bytes.fromhex(str(receipt["root"]).removeprefix("0x"))
    except ValueError:
        return None
    return root if len(root) == 32 else None


def _opt_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _form(cred: CredentialFile) -> str:
    return "presentation" if cred.presentation else "credential"


def _load_credential_file(text: str) -> CredentialFile:
    cred = CredentialFile.loads(text)
    if not cred.sd_jwt:
        raise CredentialError(ReasonCode.MALFORMED, f"{CREDENTIAL_FORMAT} without sd_jwt")
    return cred

