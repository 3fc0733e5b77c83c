"""The credential file a resident receives: the SD-JWT, its compact paper twin, and anchoring receipts.

Receipts are added after the batch is anchored; the signed parts never change, so a file can be re-issued
with its receipt at any time without touching the signature.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from civiccert.credentials.b64url import b64url_decode, b64url_encode
from civiccert.credentials.strictjson import json_parse
from civiccert.errors import CredentialError, ReasonCode
from civiccert.fileio import write_atomic

__all__ = ["CREDENTIAL_FORMAT", "CredentialFile"]

CREDENTIAL_FORMAT = "civiccert-credential/1"
MAX_CREDENTIAL_FILE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class CredentialFile:
    id: str
    vct: str
    sd_jwt: str
    paper_cose: bytes | None = None
    receipt: Mapping[str, Any] | None = None
    paper_receipt: Mapping[str, Any] | None = None
    presentation: bool = False  # sd_jwt is a holder's presentation (chosen disclosures, maybe a KB-JWT)

    def with_receipts(
        self, receipt: Mapping[str, Any] | None, paper_receipt: Mapping[str, Any] | None
    ) -> CredentialFile:
        return replace(self, receipt=receipt or self.receipt, paper_receipt=paper_receipt or self.paper_receipt)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": CREDENTIAL_FORMAT,
            "id": self.id,
            "vct": self.vct,
            "sd_jwt": self.sd_jwt,
            "paper": b64url_encode(self.paper_cose) if self.paper_cose else None,
            "receipt": dict(self.receipt) if self.receipt else None,
            "paper_receipt": dict(self.paper_receipt) if self.paper_receipt else None,
            "presentation": self.presentation,
        }

    def dumps(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n"

    def save(self, path: Path) -> Path:
        """Write atomically with mode 0600: the file carries personal data."""
        return write_atomic(path, self.dumps().encode("utf-8"), mode=0o600)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CredentialFile:
        if data.get("format") != CREDENTIAL_FORMAT:
            raise CredentialError(ReasonCode.MALFORMED, "not a civiccert credential file", field="format")
        for name in ("receipt", "paper_receipt"):
            if data.get(name) is not None and not isinstance(data.get(name), Mapping):
                raise CredentialError(ReasonCode.MALFORMED, "receipt must be an object", field=name)
        try:
            paper = data.get("paper")
            return cls(
                id=str(data["id"]),
                vct=str(data["vct"]),
                sd_jwt=_require_str(data["sd_jwt"]),
                paper_cose=b64url_decode(paper, field="paper") if paper else None,
                receipt=data.get("receipt") or None,
                paper_receipt=data.get("paper_receipt") or None,
                presentation=data.get("presentation") is True,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CredentialError(ReasonCode.MALFORMED, "credential file is missing a field or has a bad value"
                                  ) from exc

    @classmethod
    def loads(cls, text: str) -> CredentialFile:
        if len(text) > MAX_CREDENTIAL_FILE_BYTES:
            raise CredentialError(ReasonCode.INPUT_TOO_LARGE, "credential file is too large")
        data = json_parse(text, field="$")
        if not isinstance(data, dict):
            raise CredentialError(ReasonCode.MALFORMED, "credential file is not a JSON object")
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: Path) -> CredentialFile:
        """Read at most the size cap (a huge file is refused, not read). A missing file is
        ``INPUT_NOT_FOUND``; other I/O failures raise ``OSError``."""
        try:
            with path.open("rb") as handle:
                raw = handle.read(MAX_CREDENTIAL_FILE_BYTES + 1)
        except FileNotFoundError:
            raise CredentialError(ReasonCode.INPUT_NOT_FOUND, "credential file not found") from None
        if len(raw) > MAX_CREDENTIAL_FILE_BYTES:
            raise CredentialError(ReasonCode.INPUT_TOO_LARGE, "credential file is too large")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise CredentialError(ReasonCode.MALFORMED, "credential file is not UTF-8 text") from None
        return cls.loads(text)


def _require_str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value
