"""Compiled extensions only: every other piece of metadata is in pyproject.toml.

Each module has a pure-Python twin that gives the same results (``CIVICCERT_PURE_PYTHON=1`` forces it); see
DEVELOPERS.md, "The compiled verifier loop".
"""

from setuptools import Extension, setup

_C_FLAGS = ["-O2", "-Wall", "-Wextra", "-Wno-missing-field-initializers"]

EXTENSIONS = [
    # SD-JWT verify: disclosures' base64url, SHA-256 (OpenSSL libcrypto) and JSON segments; the payload unfold
    Extension("civiccert.credentials._sdverify_c", ["src/civiccert/credentials/_sdverify_c.c"],
              libraries=["crypto"], extra_compile_args=_C_FLAGS),
]

setup(ext_modules=EXTENSIONS)
