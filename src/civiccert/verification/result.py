"""The verification result: a verdict plus one entry per check, each with a stable reason code.

The verdict is derived, never set: any failed check makes it INVALID; otherwise any check that was asked
for but could not be made makes it INDETERMINATE; only when every requested check passed is it VALID.
``to_dict()`` is the documented, stable JSON schema of ``civiccert verify --json`` (docs/verify-json.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from civiccert.errors import ReasonCode

__all__ = ["Check", "CheckName", "Outcome", "Verdict", "VerificationResult"]

RESULT_FORMAT = "civiccert-verification/1"


class Verdict(StrEnum):
    """The answer for one input; derived from the checks, never set directly."""

    VALID = "VALID"
    INVALID = "INVALID"
    INDETERMINATE = "INDETERMINATE"


class Outcome(StrEnum):
    """How one check ended."""

    PASSED = "passed"
    FAILED = "failed"
    UNKNOWN = "unknown"  # asked for, but could not be made (node down, stale snapshot, no receipt)
    SKIPPED = "skipped"  # not asked for by the policy


class CheckName(StrEnum):
    """The checks, in the order they are reported."""

    FORMAT = "format"  # the input parses as one of our credential forms
    SIGNATURE = "signature"  # issuer signature, alg allow-list, typ
    ISSUER = "issuer"  # key belongs to a registered, non-suspended municipality and was valid at issuance
    VALIDITY = "validity"  # iat / nbf / exp with clock skew
    DISCLOSURES = "disclosures"  # every RFC 9901 rule on disclosures
    HOLDER_BINDING = "holder_binding"  # KB-JWT (aud, nonce, sd_hash) when the policy requires it
    PAGE = "page"  # a printed copy's page shows what its QR signs (PDF text and seal; photo seal)
    ANCHOR = "anchor"  # receipt proof leads to a root the registry holds, anchored by the same municipality
    REVOCATION = "revocation"  # the issuer has not revoked the credential
    PDF_SIGNATURE = "pdf_signature"  # a PDF copy is signed (PAdES) by the QR's certificate and unchanged since


@dataclass(frozen=True)
class Check:
    name: CheckName
    outcome: Outcome
    code: ReasonCode
    detail: str = ""  # a short human note; never personal data

    def to_dict(self) -> dict[str, str]:
        return {"check": self.name.value, "outcome": self.outcome.value, "code": self.code.value,
                "detail": self.detail}


@dataclass(frozen=True)
class VerificationResult:
    """What a verifier learned about one credential, presentation or printed copy."""

    checks: tuple[Check, ...]
    form: str = "unknown"  # "credential" | "presentation" | "paper"
    vct: str | None = None
    claims: dict[str, Any] = field(default_factory=dict)  # disclosed claims only
    issuer: dict[str, Any] = field(default_factory=dict)  # code, name, kid
    anchor: dict[str, Any] = field(default_factory=dict)  # chain_id, registry, root, block, anchored_at, tx
    source: str | None = None  # file name and page for scans; never content
    issued_at: int | None = None
    expires_at: int | None = None

    @property
    def verdict(self) -> Verdict:
        outcomes = {c.outcome for c in self.checks}
        if Outcome.FAILED in outcomes:
            return Verdict.INVALID
        if Outcome.UNKNOWN in outcomes or not self.checks:
            return Verdict.INDETERMINATE
        return Verdict.VALID

    @property
    def reasons(self) -> list[ReasonCode]:
        """Codes of the checks that did not pass (empty when VALID)."""
        return [c.code for c in self.checks if c.outcome in (Outcome.FAILED, Outcome.UNKNOWN)]

    def check(self, name: CheckName) -> Check | None:
        return next((c for c in self.checks if c.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": RESULT_FORMAT,
            "verdict": self.verdict.value,
            "reasons": [r.value for r in self.reasons],
            "form": self.form,
            "vct": self.vct,
            "source": self.source,
            "issuer": self.issuer,
            "issued_at": self.issued_at,
            "expires_at": self.expires_at,
            "anchor": self.anchor,
            "checks": [c.to_dict() for c in self.checks],
            "claims": self.claims,
        }
