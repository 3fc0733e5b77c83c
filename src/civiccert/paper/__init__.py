# ruff: noqa: F405
"""The printed copy: a compact signed QR payload, the A4 PDF, and reading QR codes back from scans."""

from civiccert.paper.payload import *  # noqa: F403
from civiccert.paper.pdf import *  # noqa: F403
from civiccert.paper.qr import *  # noqa: F403
from civiccert.paper.scan import *  # noqa: F403

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
