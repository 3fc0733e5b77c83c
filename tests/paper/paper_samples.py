"""Fictitious households, seal certificates and a throwaway ES256 signer for the paper tests/benchmark."""

from __future__ import annotations

import base64
import hashlib
import io
import math
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from PIL import Image, ImageDraw

VCT_JUMINHYO = "urn:civiccert:vct:juminhyo:1"
VCT_SEAL = "urn:civiccert:vct:inkan-toroku:1"
ISS = "urn:civiccert:lg:122076"
IAT = 1795654800  # 2026-11-26T10:00:00+09:00
EXP = IAT + 90 * 86400
YOSHI = "\U00020bb7"  # 𠮷 (tsuchi-yoshi), outside IPAex Mincho
KATSURAGI_IVS = "葛\U000e0100"  # 葛 + IVS selector VS17


class ThrowawaySigner:
    """ES256 signer with the IssuerKey shape (alg, kid = RFC 7638 thumbprint, sign -> raw r||s)."""

    alg = "ES256"

    def __init__(self) -> None:
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        numbers = self.private_key.public_key().public_numbers()

        def b64(n: int) -> str:
            return base64.urlsafe_b64encode(n.to_bytes(32, "big")).rstrip(b"=").decode()

        canonical = f'{{"crv":"P-256","kty":"EC","x":"{b64(numbers.x)}","y":"{b64(numbers.y)}"}}'
        digest = hashlib.sha256(canonical.encode()).digest()
        self.kid = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.private_key.public_key()

    def sign(self, data: bytes) -> bytes:
        r, s = decode_dss_signature(self.private_key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


_GIVEN = [
    ("太郎", "タロウ", "男", "世帯主", "1978-04-01"),
    ("花子", "ハナコ", "女", "妻", "1980-09-15"),
    ("一郎", "イチロウ", "男", "子", "2006-06-06"),
    ("美咲", "ミサキ", "女", "子", "2009-01-20"),
    ("健太", "ケンタ", "男", "子", "2012-11-03"),
    ("ハル", "ハル", "女", "母", "1951-03-31"),
]


def member(i: int, *, full: bool = True) -> dict[str, Any]:
    given, kana, sex, rel, born = _GIVEN[i % len(_GIVEN)]
    surname = f"{YOSHI}田" if i == 0 else "吉田"
    person: dict[str, Any] = {
        "name": f"{surname}　{given}" if i != 1 else f"{KATSURAGI_IVS}城　{given}",
        "name_kana": f"ヨシダ　{kana}",
        "birth_date": born,
        "sex": sex,
        "relationship": rel,
        "resident_since": "2015-04-01",
        "address_since": "2015-04-01",
        "notified_on": "2015-04-03",
        "previous_address": "東京都葛飾区立石五丁目27番1号",
    }
    if full:
        person["honseki"] = "千葉県松戸市根本387番地の5"
        person["hitto"] = f"{YOSHI}田　太郎"
        person["resident_code"] = f"{12345678900 + i}"
        person["individual_number"] = "123456789018"
    return person


def household(n: int, *, full: bool = True) -> dict[str, Any]:
    """A household copy with every item a copy can carry (the worst case for the QR size)."""
    omitted = [] if full else ["honseki", "individual_number", "resident_code"]
    return {
        "municipality": {"code": "122076", "name": "松戸市"},
        "certificate": {
            "serial": "R08-1122-000417",
            "issued_at": "2026-11-26T10:00:00+09:00",
            "scope": "household",
            "requester": "self",
        },
        "omitted": omitted,
        "household": {
            "address": "千葉県松戸市根本387番地の5",
            "address_extra": "コーポ根本101号",
            "householder": f"{YOSHI}田　太郎",
        },
        "members": [member(i, full=full) for i in range(n)],
    }


def seal_png(px: int = 160) -> bytes:
    """A round red seal impression (fictitious 吉田 seal), 1-bit-like red on transparent."""
    image = Image.new("RGBA", (px, px), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    red = (200, 30, 30, 255)
    draw.ellipse((4, 4, px - 5, px - 5), outline=red, width=max(3, px // 30))
    for k in range(6):  # crude strokes standing in for the carved name
        a = math.pi * k / 6
        cx, cy, r = px / 2, px / 2, px * 0.3
        draw.line(
            (cx - r * math.cos(a), cy - r * math.sin(a), cx + r * math.cos(a), cy + r * math.sin(a)),
            fill=red,
            width=max(2, px // 25),
        )
    buf = io.BytesIO()
    image.save(buf, "PNG", optimize=True)
    return buf.getvalue()


def seal_certificate(size_mm: float = 15.0) -> dict[str, Any]:
    png = seal_png()
    return {
        "municipality": {"code": "122076", "name": "松戸市"},
        "certificate": {"serial": "R08-1122-000418", "issued_at": "2026-11-26T10:00:00+09:00"},
        "registrant": {
            "name": f"{YOSHI}田　太郎",
            "birth_date": "1978-04-01",
            "sex": "男",
            "address": "千葉県松戸市根本387番地の5",
        },
        "seal": {
            "image_png": base64.b64encode(png).decode(),
            "image_sha256": hashlib.sha256(png).hexdigest(),
            "size_mm": size_mm,
        },
    }


def receipt(size: int) -> dict[str, Any]:
    """A receipt shaped like DESIGN.md's, for a batch of ``size`` credentials (proof length = depth)."""
    depth = max(0, (size - 1).bit_length())

    def h(label: str) -> str:  # incompressible like real hashes (a repeated byte would flatter zlib)
        return "0x" + hashlib.sha256(label.encode()).hexdigest()

    return {
        "v": 1,
        "chain_id": 31337,
        "registry": h("registry")[:42],
        "root": h("root"),
        "index": size - 1,
        "size": size,
        "proof": [h(f"proof{i}") for i in range(depth)],
        "tx": h("tx"),
        "block": 123456,
        "anchored_at": IAT + 600,
    }
