"""Compiled helpers (metadata stays in pyproject.toml); each has a pure-Python fallback in civiccert.

One Extension per line, so that adding one merges cleanly. They link OpenSSL's libcrypto (Debian: libssl-dev).
"""

from setuptools import Extension, setup

ext_modules = [
    Extension("civiccert.credentials._sdissue_c", ["src/civiccert/credentials/_sdissue_c.c"], libraries=["crypto"]),
]

setup(ext_modules=ext_modules)
