"""Compiled helpers (metadata stays in pyproject.toml); each has a pure-Python fallback in civiccert.

One Extension per line, so that adding one merges cleanly. They need a C compiler and OpenSSL's headers
(Debian: gcc, libssl-dev). ``optional=True``: without them the install still succeeds and civiccert takes its
pure-Python paths (tests/credentials/test_sdjwt_compiled.py fails then, so CI cannot miss it).
"""

from setuptools import Extension, setup


def _c(name: str, source: str) -> Extension:
    return Extension(name, [source], libraries=["crypto"], optional=True)


ext_modules = [
    _c("civiccert.credentials._sdissue_c", "src/civiccert/credentials/_sdissue_c.c"),
]

setup(ext_modules=ext_modules)
