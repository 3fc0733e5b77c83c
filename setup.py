"""Compiled helpers only: every other piece of metadata is in pyproject.toml.

Each module has a pure-Python twin in civiccert that gives the same results (``CIVICCERT_PURE_PYTHON=1``
forces it; ``civiccert.credentials._native`` loads them). They need a C compiler and OpenSSL's headers
(Debian: gcc, libssl-dev, which scripts/setup installs). ``optional=True``: without them the install still
succeeds and civiccert takes its pure-Python paths; tests/credentials/test_compiled_built.py fails then, so CI
cannot miss it. One Extension per line, so that adding one merges cleanly. See DEVELOPERS.md.
"""

from setuptools import Extension, setup

_C_FLAGS = ["-O2", "-Wall", "-Wextra", "-Wno-missing-field-initializers"]


def _c(module: str, *more: str, headers: tuple[str, ...] = ()) -> Extension:
    """civiccert.<module>, built from src/civiccert/<module path>.c (scripts/setup looks for its .so by that
    name) and ``more`` sources beside it; ``headers`` beside it too (a change rebuilds)."""
    path = "src/civiccert/" + module.replace(".", "/")
    folder = path.rsplit("/", 1)[0]
    return Extension(f"civiccert.{module}", [f"{path}.c", *(f"{folder}/{m}" for m in more)],
                     depends=[f"{folder}/{h}" for h in headers], libraries=["crypto"],
                     extra_compile_args=_C_FLAGS, optional=True)


ext_modules = [
    # SD-JWT issue: payload and disclosures in one call; the printed copy's canonical CBOR and claim packing
    _c("credentials._sdissue_c", "_sdissue_paper.c", headers=("_sdissue.h",)),
    # SD-JWT verify: disclosures' base64url, SHA-256 and JSON segments; the payload unfold
    _c("credentials._sdverify_c"),
    # strict JSON: proof that orjson read a text as the stdlib's strict parser does (no repeated member, no float)
    _c("credentials._jsonscan_c"),
]

setup(ext_modules=ext_modules)
