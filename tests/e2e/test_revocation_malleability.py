"""A revoked credential stays revoked under re-encodings that keep its signature valid.

The credential hash covers what the issuer signed, not the signature bytes or the container encoding:
ECDSA's s ↔ n−s and a non-canonical CBOR wrapper both verify, and must not yield a fresh, unrevoked hash.
"""

from __future__ import annotations

import base64
import dataclasses

import cbor2

import civiccert as cc
from civiccert.paper.payload import qr_text

from worldkit import World

_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551  # P-256 group order


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _flip_s(sd_jwt: str) -> str:
    jwt, rest = sd_jwt.split("~", 1)
    head, payload, sig = jwt.split(".")
    raw = base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))
    r, s = raw[:32], int.from_bytes(raw[32:], "big")
    return f"{head}.{payload}.{_b64(r + (_N - s).to_bytes(32, 'big'))}~{rest}"


def test_flipped_ecdsa_signature_keeps_the_revocation(world: World) -> None:
    cred = world.issue_anchored()
    world.issuer.revoke(cred)
    twin = dataclasses.replace(cred, sd_jwt=_flip_s(cred.sd_jwt), receipt=None)
    result = world.online_verifier().verify(twin)
    assert result.verdict is cc.Verdict.INVALID
    assert cc.ReasonCode.REVOKED in result.reasons


def test_non_canonical_cose_wrapper_keeps_the_revocation(world: World) -> None:
    cred = world.issue_anchored(world.seal())
    world.issuer.revoke(cred)
    assert cred.paper_cose is not None
    items = cbor2.loads(cred.paper_cose).value
    # tag 18 and a 4-element array, both in their long (non-minimal) encodings, then the same four items
    rewrapped = b"\xd8\x12" + b"\x98\x04" + b"".join(cbor2.dumps(item) for item in items)
    assert rewrapped != cred.paper_cose
    result = world.online_verifier().verify(qr_text(rewrapped, None))
    assert result.verdict is cc.Verdict.INVALID
    assert cc.ReasonCode.REVOKED in result.reasons
