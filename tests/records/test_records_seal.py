"""印鑑登録証明書: the seal impression is a real, sane PNG kept byte-exact."""

from __future__ import annotations

import hashlib
import io
import os
import zlib
from collections.abc import Callable
from datetime import date, datetime

import pytest
from PIL import Image

from civiccert.errors import ReasonCode, RecordError
from civiccert.records import (
    JST,
    MAX_SEAL_BYTES,
    Municipality,
    SealCertificate,
    SealImpression,
    SealRegistrant,
)

MakePng = Callable[..., bytes]


def _registrant(**overrides: object) -> SealRegistrant:
    values: dict[str, object] = {
        "name": "見本　花子",
        "birth_date": date(1982, 9, 15),
        "sex": "女",
        "address": "千葉県松戸市見本町一丁目2番3号",
        "former_surname": "試験",
    }
    values.update(overrides)
    return SealRegistrant(**values)  # type: ignore[arg-type]


def _certificate(seal: SealImpression, **overrides: object) -> SealCertificate:
    values: dict[str, object] = {
        "municipality": Municipality("122076", "松戸市"),
        "serial": "INKAN-1",
        "issued_at": datetime(2026, 11, 26, 10, 10, tzinfo=JST),
        "registrant": _registrant(),
        "seal": seal,
    }
    values.update(overrides)
    return SealCertificate(**values)  # type: ignore[arg-type]


def test_png_is_kept_byte_exact_and_bound_by_sha256(make_png: MakePng) -> None:
    png = make_png()
    seal = SealImpression(png=png, size_mm=15)
    assert seal.png == png
    assert seal.sha256 == hashlib.sha256(png).hexdigest()
    assert seal.size_mm == 15.0
    certificate = _certificate(seal)
    assert certificate.seal.png == png


def test_garbage_bytes_are_rejected() -> None:
    with pytest.raises(RecordError) as info:
        SealImpression(png=os.urandom(1000), size_mm=15)
    assert (info.value.code, info.value.field) == (ReasonCode.SEAL_IMAGE_INVALID, "seal.image")


def test_jpeg_is_rejected() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (300, 300), (255, 255, 255)).save(buffer, format="JPEG")
    with pytest.raises(RecordError) as info:
        SealImpression(png=buffer.getvalue(), size_mm=15)
    assert info.value.code is ReasonCode.SEAL_IMAGE_INVALID


def test_png_signature_with_corrupt_body_is_rejected(make_png: MakePng) -> None:
    png = bytearray(make_png())
    png[40:60] = bytes(20)  # inside IHDR/IDAT: CRC or zlib stream breaks
    with pytest.raises(RecordError) as info:
        SealImpression(png=bytes(png), size_mm=15)
    assert info.value.code is ReasonCode.SEAL_IMAGE_INVALID


def test_truncated_idat_with_valid_end_is_rejected(make_png: MakePng) -> None:
    png = make_png()
    idat = png.index(b"IDAT") - 4
    length = int.from_bytes(png[idat : idat + 4], "big")
    data = png[idat + 8 : idat + 8 + length][: length // 2]
    chunk = len(data).to_bytes(4, "big") + b"IDAT" + data + zlib.crc32(b"IDAT" + data).to_bytes(4, "big")
    broken = png[:idat] + chunk + png[idat + 12 + length :]
    with pytest.raises(RecordError) as info:
        SealImpression(png=broken, size_mm=15)
    assert info.value.code is ReasonCode.SEAL_IMAGE_INVALID


def test_trailing_bytes_after_iend_are_rejected(make_png: MakePng) -> None:
    with pytest.raises(RecordError) as info:
        SealImpression(png=make_png() + b"hidden", size_mm=15)
    assert info.value.code is ReasonCode.SEAL_IMAGE_INVALID


@pytest.mark.parametrize(("width", "height"), [(5000, 5000), (16, 300), (300, 2049)])
def test_dimensions_out_of_range_are_rejected(make_png: MakePng, width: int, height: int) -> None:
    png = make_png(width, height, mode="1")
    assert len(png) <= MAX_SEAL_BYTES
    with pytest.raises(RecordError) as info:
        SealImpression(png=png, size_mm=15)
    assert (info.value.code, info.value.field) == (ReasonCode.SEAL_IMAGE_SIZE, "seal.image")


def test_more_than_512_kib_is_rejected() -> None:
    buffer = io.BytesIO()
    Image.frombytes("RGB", (600, 600), os.urandom(600 * 600 * 3)).save(buffer, format="PNG")
    assert len(buffer.getvalue()) > MAX_SEAL_BYTES
    with pytest.raises(RecordError) as info:
        SealImpression(png=buffer.getvalue(), size_mm=15)
    assert info.value.code is ReasonCode.SEAL_IMAGE_SIZE


@pytest.mark.parametrize("size", [7.9, 25.1, 0, float("nan"), float("inf")])
def test_printed_size_must_be_8_to_25_mm(make_png: MakePng, size: float) -> None:
    with pytest.raises(RecordError) as info:
        SealImpression(png=make_png(), size_mm=size)
    assert (info.value.code, info.value.field) == (ReasonCode.SEAL_IMAGE_SIZE, "seal.size_mm")


@pytest.mark.parametrize("size", [8, 25, 13.5])
def test_printed_size_limits_are_inclusive(make_png: MakePng, size: float) -> None:
    assert SealImpression(png=make_png(), size_mm=size).size_mm == float(size)


def test_non_bytes_image_is_a_programming_error() -> None:
    with pytest.raises(TypeError):
        SealImpression(png="not bytes", size_mm=15)  # type: ignore[arg-type]


def test_registrant_rules(make_png: MakePng) -> None:
    with pytest.raises(RecordError) as info:
        _registrant(name="見本　か\u3099く")
    assert (info.value.code, info.value.field) == (ReasonCode.TEXT_NOT_NFC, "registrant.name")
    with pytest.raises(RecordError) as info:
        _registrant(common_name="見本")
    assert (info.value.code, info.value.field) == (ReasonCode.ITEM_NOT_APPLICABLE, "registrant.common_name")
    with pytest.raises(RecordError) as info:
        _certificate(SealImpression(make_png(), 15), registrant=_registrant(birth_date=date(2026, 12, 1)))
    assert (info.value.code, info.value.field) == (ReasonCode.DATE_ORDER, "registrant.birth_date")
