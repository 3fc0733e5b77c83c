"""The Token Status List bit array (draft-ietf-oauth-status-list sec. 4): packing and ZLIB compression.

Entry ``i`` of a ``bits``-wide list lives in byte ``i * bits // 8`` at bit offset ``(i * bits) % 8`` counted
from the least significant bit (the draft's order, opposite to W3C Bitstring Status List). The array is
compressed with DEFLATE in the ZLIB format (RFC 1950) at the highest level, as the draft requires.

civiccert lists are 2 bits wide: the statuses below. The list says only the status, never a reason or date.
"""

from __future__ import annotations

import zlib
from enum import IntEnum
from typing import Final

from civiccert.errors import CredentialError, ReasonCode

__all__ = ["LABELS", "MAX_INFLATED_BYTES", "Status", "StatusList"]

MAX_INFLATED_BYTES: Final = 4 * 1024 * 1024  # 16M two-bit entries; a larger inflated list is refused (zlib bomb)
_WIDTHS = (1, 2, 4, 8)


class Status(IntEnum):
    """A credential's status as the list stores it (0x00-0x02 registered by the draft, 0x03 ours)."""

    VALID = 0x00
    INVALID = 0x01  # revoked for good
    SUSPENDED = 0x02  # temporarily not valid; reinstating sets VALID again
    SUPERSEDED = 0x03  # application-specific: the resident moved or the record changed; a newer copy exists


LABELS: Final[dict[Status, dict[str, str]]] = {
    Status.VALID: {"ja": "有効", "en": "valid"},
    Status.INVALID: {"ja": "失効（取消し）", "en": "invalid (revoked)"},
    Status.SUSPENDED: {"ja": "一時停止中", "en": "suspended"},
    Status.SUPERSEDED: {"ja": "更新済み（新しい証明書があります）", "en": "superseded (a newer certificate exists)"},
}


class StatusList:
    """A fixed-size array of ``bits``-wide statuses (all VALID at creation)."""

    __slots__ = ("_data", "bits", "size")

    def __init__(self, size: int, bits: int = 2, data: bytes | bytearray | None = None) -> None:
        if bits not in _WIDTHS:
            raise ValueError("bits must be 1, 2, 4 or 8")
        if size < 1:
            raise ValueError("size must be positive")
        length = (size * bits + 7) // 8
        if data is not None and len(data) != length:
            raise ValueError("data length does not match size and bits")
        self.bits = bits
        self.size = size
        self._data = bytearray(data) if data is not None else bytearray(length)

    def __getitem__(self, index: int) -> int:
        if not 0 <= index < self.size:
            raise IndexError("status list index out of range")
        bit = index * self.bits
        return (self._data[bit >> 3] >> (bit & 7)) & ((1 << self.bits) - 1)

    def __setitem__(self, index: int, value: int) -> None:
        if not 0 <= index < self.size:
            raise IndexError("status list index out of range")
        mask = (1 << self.bits) - 1
        if not 0 <= value <= mask:
            raise ValueError("status value does not fit the list's width")
        bit = index * self.bits
        shift = bit & 7
        byte = self._data[bit >> 3]
        self._data[bit >> 3] = (byte & ~(mask << shift) & 0xFF) | (value << shift)

    def __len__(self) -> int:
        return self.size

    @property
    def data(self) -> bytes:
        return bytes(self._data)

    def compress(self) -> bytes:
        """DEFLATE in ZLIB format, best compression (what ``lst`` carries)."""
        return zlib.compress(bytes(self._data), 9)

    @classmethod
    def decompress(cls, bits: object, lst: bytes, *, max_inflated: int = MAX_INFLATED_BYTES) -> StatusList:
        """Inflate ``lst`` (bounded: a zlib bomb is refused before it is expanded) into a list of ``bits``."""
        if type(bits) is not int or bits not in _WIDTHS:
            raise CredentialError(ReasonCode.MALFORMED, "status_list.bits must be 1, 2, 4 or 8",
                                  field="status_list.bits")
        inflater = zlib.decompressobj()
        try:
            data = inflater.decompress(lst, max_inflated + 1)
        except zlib.error as exc:
            raise CredentialError(ReasonCode.MALFORMED, "status_list.lst is not ZLIB data",
                                  field="status_list.lst") from exc
        if len(data) > max_inflated or inflater.unconsumed_tail:
            raise CredentialError(ReasonCode.INPUT_TOO_LARGE, "status list inflates beyond the size cap",
                                  field="status_list.lst")
        if not inflater.eof or not data:
            raise CredentialError(ReasonCode.MALFORMED, "status_list.lst is truncated or empty",
                                  field="status_list.lst")
        return cls(len(data) * 8 // bits, bits, data)
