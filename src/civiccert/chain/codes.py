"""Municipality codes as the registry stores them (uint32) and as snapshots and receipts spell them.

Kept apart from the registry client so that code handling never loads web3.
"""

from __future__ import annotations

__all__ = ["format_municipality_code", "municipality_code"]


def municipality_code(code: int | str) -> int:
    """The registry's uint32 for a 地方公共団体コード given as int or 6-digit string (ValueError otherwise)."""
    if isinstance(code, str):
        if len(code) != 6 or not code.isascii() or not code.isdigit():
            raise ValueError("municipality code must be 6 ASCII digits")
        code = int(code)
    if isinstance(code, bool) or not isinstance(code, int):
        raise TypeError("municipality code must be int or str")
    if not 0 < code <= 999_999:
        raise ValueError("municipality code must be within 1..999999")
    return code


def format_municipality_code(code: int) -> str:
    """The 6-digit string form ("011002") of a registry municipality code."""
    return f"{code:06d}"
