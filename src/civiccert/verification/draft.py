"""A verification result under construction, and the small rules every verifier module shares.

The checks of one input collect on a :class:`Draft` in any order and freeze into a VerificationResult in report
order; the reason-code groups say which check a failure of ``sdjwt.verify`` belongs to.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from civiccert._frozen import frozen_builder
from civiccert.credentials.claims import VCT_RESIDENT_RECORD, VCT_SEAL_CERTIFICATE
from civiccert.errors import ChainError, ReasonCode
from civiccert.pki.validate import CertifiedKey
from civiccert.verification.result import Check, CheckName, Outcome, VerificationResult

ISSUER_PREFIX = "urn:civiccert:lg:"
KNOWN_VCTS = frozenset({VCT_RESIDENT_RECORD, VCT_SEAL_CERTIFICATE})

DISCLOSURE_CODES = frozenset({
    ReasonCode.DISCLOSURE_MALFORMED, ReasonCode.DISCLOSURE_UNREFERENCED, ReasonCode.DISCLOSURE_DUPLICATE,
    ReasonCode.DIGEST_DUPLICATE, ReasonCode.CLAIM_NAME_RESERVED, ReasonCode.CLAIM_OVERWRITE,
    ReasonCode.SD_ALG_UNSUPPORTED, ReasonCode.DISCLOSURE_MISMATCH,
})
BINDING_CODES = frozenset({ReasonCode.HOLDER_BINDING_FAILED, ReasonCode.HOLDER_BINDING_MISSING})
#: the node could not give a usable answer (down, too slow, too much, self-contradicting): UNKNOWN, never FAILED
NODE_CODES = frozenset({
    ReasonCode.CHAIN_UNREACHABLE, ReasonCode.CHAIN_TIMEOUT, ReasonCode.CHAIN_RESPONSE_TOO_LARGE,
    ReasonCode.NODE_UNRELIABLE,
})
SIGNATURE_CODES = frozenset({
    ReasonCode.SIGNATURE_INVALID, ReasonCode.ALG_NOT_ALLOWED, ReasonCode.TYP_INVALID, ReasonCode.CRIT_UNSUPPORTED,
    ReasonCode.CERT_CHAIN_INVALID,  # an x5c whose leaf gives no usable key
})


@dataclass
class Draft:
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
        return _FAILED in map(_outcome_of, self.checks.values())

    def freeze(self) -> VerificationResult:
        checks = self.checks
        ordered = tuple(filter(None, map(checks.get, _ORDER)))  # report order (a Check is never falsy)
        return _result(
            checks=ordered, form=self.form, vct=self.vct, claims=self.claims, issuer=self.issuer,
            anchor=self.anchor, source=self.source, issued_at=self.issued_at, expires_at=self.expires_at,
        )


_result = frozen_builder(VerificationResult)


_ORDER = tuple(CheckName)  # report order
# Python 3.11 reads ``Outcome.FAILED`` through a descriptor (~0.1 µs each): hot paths keep the member at hand
_FAILED = Outcome.FAILED
_outcome_of = attrgetter("outcome")
_CHECKS: dict[tuple[int, int, int, str], Check] = {}  # Check is frozen: one object per distinct check


def _check(name: CheckName, outcome: Outcome, code: ReasonCode, detail: str) -> Check:
    """The (shared, immutable) Check; keyed by the members' ids, which are fixed, as Enum hashing is slow."""
    key = (id(name), id(outcome), id(code), detail)
    found = _CHECKS.get(key)
    if found is None:
        if len(_CHECKS) >= 4096:  # details such as "block N" vary: keep the cache bounded
            _CHECKS.clear()
        found = _CHECKS[key] = Check(name, outcome, code, detail)
    return found


#: the checks every genuine credential gets, built once (a bulk run sets them straight into ``Draft.checks``)
FORMAT_PASSED = Check(CheckName.FORMAT, Outcome.PASSED, ReasonCode.OK)
VALIDITY_PASSED = Check(CheckName.VALIDITY, Outcome.PASSED, ReasonCode.OK)
HOLDER_BINDING_PASSED = Check(CheckName.HOLDER_BINDING, Outcome.PASSED, ReasonCode.OK)
HOLDER_BINDING_SKIPPED = Check(CheckName.HOLDER_BINDING, Outcome.SKIPPED, ReasonCode.NOT_CHECKED)
ANCHOR_OFFLINE = Check(CheckName.ANCHOR, Outcome.SKIPPED, ReasonCode.NOT_CHECKED, "offline")
REVOCATION_OFFLINE = Check(CheckName.REVOCATION, Outcome.SKIPPED, ReasonCode.NOT_CHECKED, "offline")
SIGNATURE_PASSED = {alg: Check(CheckName.SIGNATURE, Outcome.PASSED, ReasonCode.OK, alg) for alg in ("ES256", "EdDSA")}


def node_code(exc: ChainError) -> ReasonCode:
    """Why the node could not vouch for something (a code of ``NODE_CODES``)."""
    return exc.code if exc.code in NODE_CODES else ReasonCode.CHAIN_UNREACHABLE

def claimed_code(iss: object, municipality: object) -> str | None:
    """The municipality a credential speaks for: from a civiccert URN ``iss``, or, for an HTTPS ``iss`` (a
    certified issuer), the certifying municipality in the body; its key must then be that city's."""
    if isinstance(iss, str) and iss.startswith("https://") and isinstance(municipality, Mapping):
        return issuer_code_of(ISSUER_PREFIX + str(municipality.get("code")))
    return issuer_code_of(iss)


def issuer_code_of(iss: object) -> str | None:
    """The municipality code of a civiccert URN ``iss`` (remembered: an issuer's ``iss`` repeats), else None."""
    if type(iss) is not str:
        return None
    try:
        return _ISSUER_CODES[iss]
    except KeyError:
        pass
    code: str | None = None
    if iss.startswith(ISSUER_PREFIX):
        code = iss[len(ISSUER_PREFIX):]
        code = code if len(code) == 6 and code.isascii() and code.isdigit() and code != "000000" else None
    if len(_ISSUER_CODES) >= 1024:  # any string may come in: keep the memo bounded
        _ISSUER_CODES.clear()
    _ISSUER_CODES[iss] = code
    return code


_ISSUER_CODES: dict[str, str | None] = {}


def opt_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None

