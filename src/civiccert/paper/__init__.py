"""The printed copy: a compact signed QR payload, the A4 PDF, and reading QR codes back from scans.

Names load their submodule on first use (PEP 562): verifying a QR text needs neither the PDF writer
(fpdf2 + HarfBuzz, the ``issuer`` extra) nor the imaging libraries.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from civiccert.paper.payload import (
        MAX_QR_TEXT_CHARS,
        PREFIX,
        PaperPayload,
        Signer,
        decode_qr_text,
        encode_paper,
        qr_text,
        verify_paper_signature,
    )
    from civiccert.paper.pdf import PERSONS_PER_SHEET, render_pdf
    from civiccert.paper.qr import ALNUM_CAPACITY_M, QUIET_ZONE_MODULES, QrCode, make_qr, min_version, printed_size_mm
    from civiccert.paper.scan import MAX_IMAGE_PIXELS, PDF_DPI, ScanHit, scan, scan_image

__all__ = [
    "ALNUM_CAPACITY_M",
    "MAX_IMAGE_PIXELS",
    "MAX_QR_TEXT_CHARS",
    "PDF_DPI",
    "PERSONS_PER_SHEET",
    "PREFIX",
    "QUIET_ZONE_MODULES",
    "PaperPayload",
    "QrCode",
    "ScanHit",
    "Signer",
    "decode_qr_text",
    "encode_paper",
    "make_qr",
    "min_version",
    "printed_size_mm",
    "qr_text",
    "render_pdf",
    "scan",
    "scan_image",
    "verify_paper_signature",
]

_HOME = {
    **dict.fromkeys(("MAX_QR_TEXT_CHARS", "PREFIX", "PaperPayload", "Signer", "decode_qr_text", "encode_paper",
                     "qr_text", "verify_paper_signature"), "payload"),
    **dict.fromkeys(("PERSONS_PER_SHEET", "render_pdf"), "pdf"),
    **dict.fromkeys(("ALNUM_CAPACITY_M", "QUIET_ZONE_MODULES", "QrCode", "make_qr", "min_version",
                     "printed_size_mm"), "qr"),
    **dict.fromkeys(("MAX_IMAGE_PIXELS", "PDF_DPI", "ScanHit", "scan", "scan_image"), "scan"),
}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'civiccert.paper' has no attribute {name!r}")
    loaded = importlib.import_module(f"civiccert.paper.{module}")
    # bind every name this submodule provides: importing it set ``civiccert.paper.<module>`` to the module
    # object, which would otherwise shadow the function of the same name (``scan``)
    for other, home in _HOME.items():
        if home == module:
            globals()[other] = getattr(loaded, other)
    return globals()[name]


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
