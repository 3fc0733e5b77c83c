"""Optional parts of civiccert (pip extras), and the one-line error when a command needs a missing one.

The plain install verifies. ``civiccert[issuer]`` adds what issuing from record files and printing need
(jsonschema, fpdf2 with HarfBuzz); ``civiccert[embedded-chain]`` adds the in-process EVM (eth-tester, py-evm).
"""

from __future__ import annotations

import importlib.util

from civiccert.errors import ConfigError, ReasonCode

__all__ = ["EMBEDDED_CHAIN", "ISSUER", "missing_extra", "require_extra"]

ISSUER = "issuer"
EMBEDDED_CHAIN = "embedded-chain"
_NEEDED_FOR = {ISSUER: "issuing and printing", EMBEDDED_CHAIN: "the embedded chain"}


def missing_extra(extra: str) -> ConfigError:
    """The error to raise (``from`` the ImportError) when the ``extra`` is not installed."""
    return ConfigError(ReasonCode.EXTRA_MISSING,
                       f"{_NEEDED_FOR[extra]} needs an optional part: pip install 'civiccert[{extra}]'")


def require_extra(extra: str, *modules: str) -> None:
    """Raise :func:`missing_extra` unless every module can be imported (checked without importing it)."""
    if any(importlib.util.find_spec(name) is None for name in modules):
        raise missing_extra(extra)
