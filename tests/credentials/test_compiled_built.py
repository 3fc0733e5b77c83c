"""CI builds the compiled helpers (pip install -e . in scripts/setup): a missing build must not silently leave
only the pure-Python paths tested (the differential tests skip without it)."""

from __future__ import annotations

import pytest

from civiccert.credentials import _native


@pytest.mark.parametrize("name", ["jsonscan", "sdissue", "sdverify"])
def test_the_compiled_helpers_are_built(name: str) -> None:
    if _native.PURE_PYTHON:
        pytest.skip("CIVICCERT_PURE_PYTHON=1 asks for the Python paths")
    assert getattr(_native, name) is not None, "run pip install -e . (scripts/setup) to build setup.py's modules"
