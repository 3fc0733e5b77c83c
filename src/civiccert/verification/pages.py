"""Checks of a printed copy against the page it sits on: a PDF page's text and seal, a photo's seal impression."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from civiccert.errors import ReasonCode
from civiccert.inputs import InputItem
from civiccert.verification.draft import Draft
from civiccert.verification.result import CheckName, Outcome

__all__ = ["bind_to_page", "check_page", "check_photo_seal"]


def bind_to_page(draft: Draft, page_text: str) -> None:
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


def check_page(draft: Draft, pdf: Path, page: int) -> None:
    """The PDF page shows what the QR signs (civiccert.paper.pagecheck): text in order, seal impression."""
    from civiccert.paper.pagecheck import check_pdf_page  # local: Pillow only when a PDF is verified

    finding = check_pdf_page(draft.vct or "", draft.claims, pdf, page)
    if finding.code is ReasonCode.OK:
        draft.set(CheckName.PAGE, Outcome.PASSED, ReasonCode.OK, finding.detail)
    elif finding.code is ReasonCode.PAGE_NOT_CHECKED:
        draft.set(CheckName.PAGE, Outcome.SKIPPED, finding.code, finding.detail)
    else:
        draft.set(CheckName.PAGE, Outcome.FAILED, finding.code, finding.detail)


def check_photo_seal(draft: Draft, item: InputItem) -> None:
    """A photo of a 印鑑登録証明書: the printed impression against the signed pHash (paper.sealphoto)."""
    from civiccert.paper.sealphoto import check_photo_file  # local: imaging only for photos

    seal = draft.claims.get("seal")
    if item.photo is None or not isinstance(seal, Mapping):
        return
    found = check_photo_file(item.photo, item.page, item.corners, len(item.text), seal)
    outcome = {ReasonCode.OK: Outcome.PASSED, ReasonCode.SEAL_MISMATCH: Outcome.FAILED}.get(found.code, Outcome.UNKNOWN)
    draft.set(CheckName.PAGE, outcome, found.code, found.detail)

