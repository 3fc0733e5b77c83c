"""The verifier's local checks (no network), one path per input form: credential file, SD-JWT presentation,
printed-copy QR text. Each fills a :class:`~.draft.Draft`; the chain and status checks come later, in bulk."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from civiccert.credential_file import CREDENTIAL_FORMAT, CredentialFile
from civiccert.credentials import sdjwt
from civiccert.credentials.jose import DeferredSignature, verify_compact
from civiccert.credentials.strictjson import json_parse
from civiccert.errors import ChainError, CivicCertError, CredentialError, PaperError, ReasonCode
from civiccert.paper import payload as paper_payload
from civiccert.pki.decide import CERT_KID_CHARS
from civiccert.records.municipalities import official_municipality
from civiccert.verification.draft import (
    BINDING_CODES,
    DISCLOSURE_CODES,
    FORMAT_PASSED,
    HOLDER_BINDING_PASSED,
    HOLDER_BINDING_SKIPPED,
    KNOWN_VCTS,
    NODE_CODES,
    SIGNATURE_CODES,
    SIGNATURE_PASSED,
    VALIDITY_PASSED,
    Draft,
    claimed_code,
    issuer_code_of,
    node_code,
    opt_int,
)
from civiccert.verification.keys import KeyResolution
from civiccert.verification.result import CheckName, Outcome

__all__ = ["LocalChecks"]


class LocalChecks(KeyResolution):
    """Format, signature, disclosures, holder binding and validity of one input (a base of the Verifier)."""

    def _local(self, item: str | bytes | CredentialFile, source: str | None,
               deferred: list[DeferredSignature] | None = None) -> Draft:
        """The local checks of one input. With ``deferred``, an SD-JWT's issuer signature check may be appended
        to it instead of made (``sdjwt.verify``): the draft stands only if ``check_deferred`` says True."""
        try:
            if isinstance(item, CredentialFile):
                return self._local_sd_jwt(item.sd_jwt, item.receipt, _form(item), source, deferred)
            text = item.decode("utf-8") if isinstance(item, bytes) else item
            text = text.strip()
            if text.startswith("{"):
                cred = _load_credential_file(text)
                return self._local_sd_jwt(cred.sd_jwt, cred.receipt, _form(cred), source, deferred)
            if text[:4].upper() == paper_payload.PREFIX[:4].upper() or text[:2].upper() == "CC":
                return self._local_paper(text, source)
            return self._local_sd_jwt(text, None, "presentation", source, deferred)
        except UnicodeDecodeError:
            draft = Draft(form="unknown", source=source)
            draft.set(CheckName.FORMAT, Outcome.FAILED, ReasonCode.MALFORMED, "input is not UTF-8 text")
            return draft
        except CivicCertError as exc:
            draft = Draft(form="unknown", source=source)
            draft.set(CheckName.FORMAT, Outcome.FAILED, exc.code, "input is not a civiccert credential")
            return draft
        except (TypeError, ValueError, KeyError, IndexError, AttributeError, RecursionError):
            # malformed input that slipped past a parser's own checks: still a finding, never a crash
            draft = Draft(form="unknown", source=source)
            draft.set(CheckName.FORMAT, Outcome.FAILED, ReasonCode.MALFORMED, "input is not a civiccert credential")
            return draft

    def _local_sd_jwt(self, text: str, receipt: Mapping[str, Any] | None, form: str, source: str | None,
                      deferred: list[DeferredSignature] | None = None) -> Draft:
        draft = Draft(form=form, source=source, receipt=receipt)
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
                sort_paths=False,  # only counted here
                deferred=deferred,
            )
        except CredentialError as exc:
            self._classify_failure(draft, exc)
            if draft.checks[CheckName.FORMAT].outcome is Outcome.FAILED:
                self._signature_alone(draft, text)
            return draft
        checks = draft.checks
        checks[_FORMAT] = FORMAT_PASSED
        alg = verified.header.get("alg")
        signed = SIGNATURE_PASSED.get(alg) if type(alg) is str else None
        if signed is not None:
            checks[_SIGNATURE] = signed
        else:
            draft.set(_SIGNATURE, _PASSED, _OK, f"{alg}")
        draft.set(_DISCLOSURES, _PASSED, _OK, f"{len(verified.disclosed_paths)} disclosed")
        checks[_HOLDER_BINDING] = HOLDER_BINDING_PASSED if policy.require_holder_binding \
            else HOLDER_BINDING_SKIPPED
        payload = verified.payload
        draft.credential_hash = verified.credential_hash
        draft.vct = str(payload.get("vct"))
        claims = verified.claims  # built by verify for this call alone: the envelope is taken out in place
        for name in sdjwt.NEVER_DISCLOSABLE.intersection(claims):
            del claims[name]
        draft.claims = claims
        draft.status_ref = payload.get("status")
        self._common_envelope(draft, payload, claims.get("municipality"))
        return draft

    def _local_paper(self, text: str, source: str | None) -> Draft:
        draft = Draft(form="paper", source=source)
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
        draft.issuer_code = claimed_code(decoded.iss, decoded.claims.get("municipality"))
        if len(decoded.kid) == CERT_KID_CHARS:  # a certificate kid: find the certificate, then its key id
            self._paper_certificate(draft, decoded.kid, decoded.iat)
        try:
            jwk = self._trusted_jwk(draft.kid, None, draft.issuer_code)
        except ChainError as exc:
            draft.set(CheckName.SIGNATURE, Outcome.UNKNOWN, node_code(exc),
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

    def _common_envelope(self, draft: Draft, payload: Mapping[str, Any], municipality: object) -> None:
        """Credential type, issuer identity, validity window: the same rules for the digital and the paper form."""
        if draft.vct not in KNOWN_VCTS:
            draft.set(CheckName.FORMAT, Outcome.FAILED, ReasonCode.VCT_UNKNOWN, "not a civiccert credential type")
        iss = payload.get("iss")
        code = claimed_code(iss, municipality)
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
        iat, nbf, exp = opt_int(payload.get("iat")), opt_int(payload.get("nbf")), opt_int(payload.get("exp"))
        draft.issued_at, draft.expires_at = iat, exp
        now, skew = int(self._clock() if self._policy.at is None else self._policy.at), self._policy.skew_seconds
        if iat is None or exp is None:
            draft.set(CheckName.VALIDITY, Outcome.FAILED, ReasonCode.MALFORMED, "iat and exp are required")
        elif exp <= now - skew:
            draft.set(CheckName.VALIDITY, Outcome.FAILED, ReasonCode.EXPIRED)
        elif iat > now + skew or (nbf is not None and nbf > now + skew):
            draft.set(CheckName.VALIDITY, Outcome.FAILED, ReasonCode.NOT_YET_VALID)
        else:
            draft.checks[_VALIDITY] = VALIDITY_PASSED

    def _classify_failure(self, draft: Draft, exc: CredentialError) -> None:
        code = exc.code
        if draft.checks.get(CheckName.FORMAT) is None and code not in SIGNATURE_CODES | DISCLOSURE_CODES | \
                BINDING_CODES | NODE_CODES | {ReasonCode.KEY_UNKNOWN}:
            draft.set(CheckName.FORMAT, Outcome.FAILED, code, "input is not a well-formed SD-JWT")
            return
        draft.set(CheckName.FORMAT, Outcome.PASSED, ReasonCode.OK)
        if code in DISCLOSURE_CODES:
            draft.set(CheckName.SIGNATURE, Outcome.PASSED, ReasonCode.OK)
            draft.set(CheckName.DISCLOSURES, Outcome.FAILED, code)
        elif code in BINDING_CODES:
            draft.set(CheckName.SIGNATURE, Outcome.PASSED, ReasonCode.OK)
            draft.set(CheckName.HOLDER_BINDING, Outcome.FAILED, code)
        elif code in NODE_CODES:
            draft.set(CheckName.SIGNATURE, Outcome.UNKNOWN, code, "issuer key could not be looked up")
        elif code is ReasonCode.KEY_UNKNOWN:
            outcome = Outcome.FAILED if self._authoritative() else Outcome.UNKNOWN
            draft.set(CheckName.SIGNATURE, outcome, code, "signing key is not trusted")
            if outcome is Outcome.UNKNOWN and self._stale():
                draft.set(CheckName.ISSUER, Outcome.UNKNOWN, self._stale_code())
        else:
            draft.set(CheckName.SIGNATURE, Outcome.FAILED, code)

    def _signature_alone(self, draft: Draft, text: str) -> None:
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
                    code = issuer_code_of(payload.get("iss")) if isinstance(payload, dict) else None
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


# Python 3.11 reads an enum member (``CheckName.FORMAT``) through a descriptor, ~0.1 µs each: the happy path
# of a bulk run uses these
_FORMAT, _SIGNATURE, _DISCLOSURES = CheckName.FORMAT, CheckName.SIGNATURE, CheckName.DISCLOSURES
_HOLDER_BINDING, _VALIDITY = CheckName.HOLDER_BINDING, CheckName.VALIDITY
_PASSED, _OK = Outcome.PASSED, ReasonCode.OK


def _form(cred: CredentialFile) -> str:
    return "presentation" if cred.presentation else "credential"


def _load_credential_file(text: str) -> CredentialFile:
    cred = CredentialFile.loads(text)
    if not cred.sd_jwt:
        raise CredentialError(ReasonCode.MALFORMED, f"{CREDENTIAL_FORMAT} without sd_jwt")
    return cred

