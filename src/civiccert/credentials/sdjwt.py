"""Low-level SD-JWT (RFC 9901); use Issuer/Verifier.

To be completed: issue / present / verify. See docs/DESIGN.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Sd"]


@dataclass(frozen=True)
class Sd:
    """Marks a dict key (a ``str``) or an array element as selectively disclosable."""

    value: Any
