"""印鑑登録証明書: the registrant and the registered seal impression.

The impression is kept as the exact PNG bytes the register holds; its SHA-256 goes into the credential, so
a verifier can check a printed or transmitted image against it. We decode it fully with Pillow before
accepting it (a corrupt or oversized image would otherwise surface only when a copy is printed).

Limits: 32..2048 px per side, at most 512 KiB, a single-frame PNG ending at its IEND chunk (no trailing
bytes to smuggle data in); the printed size is 8..25 mm, the range municipal 印鑑条例 accept (an impression
must not fit in an 8 mm square and must fit in a 25 mm square).
"""

from __future__ import annotations

import hashlib
import io
import math
import warnings
from dataclasses import dataclass
from datetime import date, datetime

from PIL import Image, UnidentifiedImageError

from civiccert.errors import ReasonCode, RecordError
from civiccert.records.codes import Municipality
from civiccert.records.juminhyo import Sex
from civiccert.records.text import check_choice, check_optional_text, check_text
from civiccert.records.wareki import check_date, check_issued_at

__all__ = [
    "MAX_SEAL_BYTES",
    "MAX_SEAL_PIXELS",
    "MAX_SEAL_SIZE_MM",
    "MIN_SEAL_PIXELS",
    "MIN_SEAL_SIZE_MM",
    "SealCertificate",
    "SealImpression",
    "SealRegistrant",
]

MAX_SEAL_BYTES = 512 * 1024
MIN_SEAL_PIXELS = 32
MAX_SEAL_PIXELS = 2048
MIN_SEAL_SIZE_MM = 8.0
MAX_SEAL_SIZE_MM = 25.0

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"


def _check_png(png: bytes, field: str) -> None:
    if len(png) > MAX_SEAL_BYTES:
        raise RecordError(ReasonCode.SEAL_IMAGE_SIZE, "seal image exceeds 512 KiB", field=field)
    if not png.startswith(_PNG_SIGNATURE) or not png.endswith(_PNG_IEND):
        raise RecordError(ReasonCode.SEAL_IMAGE_INVALID, "seal image is not a complete PNG", field=field)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(png), formats=("PNG",)) as image:
                width, height = image.size
                if not (MIN_SEAL_PIXELS <= width <= MAX_SEAL_PIXELS and MIN_SEAL_PIXELS <= height <= MAX_SEAL_PIXELS):
                    raise RecordError(ReasonCode.SEAL_IMAGE_SIZE, "seal image dimensions out of range", field=field)
                if getattr(image, "is_animated", False):
                    raise RecordError(ReasonCode.SEAL_IMAGE_INVALID, "seal image is animated", field=field)
                image.load()
    except RecordError:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        ValueError,
        SyntaxError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ):
        raise RecordError(ReasonCode.SEAL_IMAGE_INVALID, "seal image cannot be decoded as PNG", field=field) from None


@dataclass(frozen=True)
class SealImpression:
    """A registered 印影: exact PNG bytes and the printed size (mm, the longer side)."""

    png: bytes
    size_mm: float

    def __post_init__(self) -> None:
        if not isinstance(self.png, bytes):
            raise TypeError("png must be bytes")
        if isinstance(self.size_mm, bool) or not isinstance(self.size_mm, int | float):
            raise TypeError("size_mm must be a number")
        size = float(self.size_mm)
        if not math.isfinite(size) or not MIN_SEAL_SIZE_MM <= size <= MAX_SEAL_SIZE_MM:
            raise RecordError(ReasonCode.SEAL_IMAGE_SIZE, "printed seal size must be 8..25 mm", field="seal.size_mm")
        object.__setattr__(self, "size_mm", size)
        _check_png(self.png, "seal.image")

    @property
    def sha256(self) -> str:
        """Lower-case hex SHA-256 of the PNG bytes: binds the credential to this exact image."""
        return hashlib.sha256(self.png).hexdigest()


@dataclass(frozen=True)
class SealRegistrant:
    """The person whose seal is registered: 氏名 (with 旧氏 / 通称 as registered), 生年月日, 性別, 住所."""

    name: str
    birth_date: date
    sex: Sex
    address: str
    former_surname: str | None = None
    common_name: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "sex", check_choice(Sex, self.sex, field="registrant.sex"))
        check_text(self.name, field="registrant.name")
        check_date(self.birth_date, field="registrant.birth_date")
        check_text(self.address, field="registrant.address", max_length=300)
        check_optional_text(self.former_surname, field="registrant.former_surname", max_length=100)
        check_optional_text(self.common_name, field="registrant.common_name")
        if self.former_surname is not None and self.common_name is not None:
            raise RecordError(
                ReasonCode.ITEM_NOT_APPLICABLE,
                "旧氏 (Japanese nationals) and 通称 (foreign residents) exclude each other",
                field="registrant.common_name",
            )


@dataclass(frozen=True)
class SealCertificate:
    """An 印鑑登録証明書 to issue. ``issued_at`` must be timezone-aware and is stored in JST."""

    municipality: Municipality
    serial: str
    issued_at: datetime
    registrant: SealRegistrant
    seal: SealImpression

    def __post_init__(self) -> None:
        if not isinstance(self.municipality, Municipality):
            raise TypeError("municipality must be a Municipality")
        if not isinstance(self.registrant, SealRegistrant):
            raise TypeError("registrant must be a SealRegistrant")
        if not isinstance(self.seal, SealImpression):
            raise TypeError("seal must be a SealImpression")
        check_text(self.serial, field="certificate.serial", max_length=64)
        object.__setattr__(self, "issued_at", check_issued_at(self.issued_at, field="certificate.issued_at"))
        if self.registrant.birth_date > self.issued_at.date():
            raise RecordError(ReasonCode.DATE_ORDER, "date is after the issue date", field="registrant.birth_date")
