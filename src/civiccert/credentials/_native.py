"""The compiled helpers (``setup.py``), each None when not built here or when ``CIVICCERT_PURE_PYTHON=1``.

Every user keeps a pure-Python path that gives the same results; tests run both. ``sdissue`` builds an
issuance's payload and disclosures and the printed copy's CBOR; ``sdverify`` decodes disclosures and unfolds
a payload, declining (None) whatever it does not decide exactly as the Python path would; ``jsonscan`` proves
that orjson read a JSON text as the strict stdlib parser does (strictjson.json_parse).
"""

from __future__ import annotations

import os

PURE_PYTHON = os.environ.get("CIVICCERT_PURE_PYTHON") == "1"

# Not built (e.g. a source checkout run with PYTHONPATH=src, or no compiler): None, and the pure-Python path.
try:
    if PURE_PYTHON:
        raise ImportError("CIVICCERT_PURE_PYTHON=1")
    from civiccert.credentials import _sdissue_c as sdissue
except ImportError:
    sdissue = None  # type: ignore[assignment]
try:
    if PURE_PYTHON:
        raise ImportError("CIVICCERT_PURE_PYTHON=1")
    from civiccert.credentials import _sdverify_c as sdverify
except ImportError:
    sdverify = None  # type: ignore[assignment]

try:
    if PURE_PYTHON:
        raise ImportError("CIVICCERT_PURE_PYTHON=1")
    from civiccert.credentials import _jsonscan_c as jsonscan
except ImportError:
    jsonscan = None  # type: ignore[assignment]

__all__ = ["PURE_PYTHON", "jsonscan", "sdissue", "sdverify"]
