"""Compiled SD-JWT issuance (src/civiccert/credentials/_sdissue_c.c); see sdjwt.issue."""

from typing import Any

def build(
    claims: dict[Any, Any], sd_type: type, never_disclosable: frozenset[str], low: int, high: int, extra: bytes, /
) -> tuple[bytes, str] | None:
    """(payload JSON ending in ``extra``'s members, ``"d1~d2~...~"``), or None: take the Python path."""

def cbor_canonical(obj: object, /) -> bytes | None:
    """``cbor2.dumps(obj, canonical=True)`` for str/int/bytes/bool/None/list/tuple/dict trees, else None."""

def pack_claims(
    table: dict[str, Any], marked_claims: object, sd_type: type, person_table: dict[str, Any], omit: frozenset[str], /
) -> Any:
    """``_claimtable._pack`` of ``strip_sd(marked_claims)`` in one pass (None: take the Python path)."""

def b32_ids(raw: bytes, /) -> list[str]:
    """The lowercase unpadded base32 text (26 characters) of each 16-byte block of ``raw``."""

def fill_member(
    body: dict[Any, Any], marks: tuple[Any, ...], hashes: tuple[int, ...], values: tuple[Any, ...], sex_mark: object,
    date_type: type, /,
) -> None:
    """``claims._member_claims``' loop, each marker inserted under its precomputed hash."""
