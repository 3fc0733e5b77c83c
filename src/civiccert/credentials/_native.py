"""The compiled issuance helpers (``setup.py``), or None: not built here, or ``CIVICCERT_PURE_PYTHON=1``.

Every user keeps a pure-Python path that writes the same form; tests run both.
"""

from __future__ import annotations

import os

try:
    if os.environ.get("CIVICCERT_PURE_PYTHON") == "1":
        raise ImportError("CIVICCERT_PURE_PYTHON=1")
    from civiccert.credentials import _sdissue_c as sdissue
except ImportError:
    sdissue = None  # type: ignore[assignment]

__all__ = ["sdissue"]
