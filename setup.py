"""Compiled helpers (metadata stays in pyproject.toml); each has a pure-Python fallback in civiccert.

One Extension per line, so that adding one merges cleanly. They need a C compiler and OpenSSL's headers
(Debian: gcc, libssl-dev). ``optional=True``: without them the install still succeeds and civiccert takes its
pure-Python paths (tests/credentials/test_sdjwt_compiled.py fails then, so CI cannot miss it).
"""

from setuptools import Extension, setup


def _c(module: str, *more: str, headers: tuple[str, ...] = ()) -> Extension:
    """civiccert.<module>, built from src/civiccert/<module path>.c (scripts/setup looks for its .so by that
    name) and ``more`` sources beside it; ``headers`` beside it too (a change rebuilds)."""
    path = "src/civiccert/" + module.replace(".", "/")
    folder = path.rsplit("/", 1)[0]
    return Extension(f"civiccert.{module}", [f"{path}.c", *(f"{folder}/{m}" for m in more)],
                     depends=[f"{folder}/{h}" for h in headers], libraries=["crypto"], optional=True)


ext_modules = [
    _c("credentials._sdissue_c", "_sdissue_paper.c", headers=("_sdissue.h",)),
]

setup(ext_modules=ext_modules)
