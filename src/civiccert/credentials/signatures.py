"""Raw signatures: the ``Signer`` / ``SigningKey`` protocols an issuer signs through, and verifying a
raw JWS/COSE signature (ES256 r||s, EdDSA) under a key the caller chose."""

from __future__ import annotations

import hashlib
from typing import Protocol, TypeAlias

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature

__all__ = [
    "SUPPORTED_ALGORITHMS",
    "PublicKey",
    "Signer",
    "SigningKey",
    "signature_sha256",
    "verify_signature",
]

#: Algorithms this library can verify at all; callers pin a subset per use.
SUPPORTED_ALGORITHMS = frozenset({"ES256", "EdDSA"})

PublicKey: TypeAlias = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey

_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
_ECDSA_PREHASHED = ec.ECDSA(Prehashed(hashes.SHA256()))
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


class Signer(Protocol):
    """Anything that signs JWS or COSE input (``IssuerKey`` is one). ``sign`` returns the raw signature
    JOSE and COSE carry: r||s, 32 bytes each, for ES256 (never DER); 64 bytes for EdDSA."""

    @property
    def alg(self) -> str: ...

    @property
    def kid(self) -> str: ...  # RFC 7638 thumbprint of the public key, base64url without padding

    def sign(self, data: bytes) -> bytes: ...


class SigningKey(Signer, Protocol):
    """A ``Signer`` whose public half is known: all an ``Issuer`` needs from its key.

    ``IssuerKey`` (a key file) and ``Pkcs11Signer`` (a key on a token) are two; a cloud KMS would be a
    third without touching the issuer. The private half is reachable only through ``sign``.
    """

    @property
    def public_key(self) -> PublicKey: ...

    @property
    def thumbprint(self) -> bytes: ...  # the 32 bytes ``kid`` encodes (how the registry names the key)

    def public_jwk(self) -> dict[str, str]: ...  # bare JWK plus kid, alg, use; never private members


#: id -> a key already found to be P-256 (held here, so that the id cannot pass to another object)
_P256_KEYS: dict[int, ec.EllipticCurvePublicKey] = {}


def _p256(public_key: PublicKey) -> ec.EllipticCurvePublicKey | None:
    """``public_key`` when it is a P-256 key, else None; remembered per key object (one key verifies many)."""
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or public_key.curve.name != "secp256r1":
        return None
    if len(_P256_KEYS) >= 256:
        _P256_KEYS.clear()
    _P256_KEYS[id(public_key)] = public_key
    return public_key


def verify_signature(alg: str, public_key: PublicKey, data: bytes, signature: bytes) -> bool:
    """True iff ``signature`` is a valid raw JWS/COSE signature (r||s for ES256) over ``data``.

    ES256 takes exactly 64 bytes (DER is refused) with 0 < r, s < n; the key must fit the algorithm.
    """
    return _verify_signature(alg, public_key, data, None, signature)


def _verify_signature(alg: str, public_key: PublicKey, data: bytes, digest: bytes | None, signature: bytes) -> bool:
    """``verify_signature``; ``digest`` (SHA-256 of ``data``, when the caller needs it anyway) spares ES256 a hash."""
    if alg == "ES256":
        ec_key = _P256_KEYS.get(id(public_key))
        if ec_key is not public_key:
            ec_key = _p256(public_key)
            if ec_key is None:
                return False
        if len(signature) != 64:
            return False
        r = int.from_bytes(signature[:32], "big")
        s = int.from_bytes(signature[32:], "big")
        if not (0 < r < _P256_ORDER and 0 < s < _P256_ORDER):
            return False
        try:
            if digest is None:
                ec_key.verify(encode_dss_signature(r, s), data, _ECDSA_SHA256)
            else:
                ec_key.verify(encode_dss_signature(r, s), digest, _ECDSA_PREHASHED)
        except InvalidSignature:
            return False
        return True
    if alg == "EdDSA":
        if not isinstance(public_key, ed25519.Ed25519PublicKey) or len(signature) != 64:
            return False
        try:
            public_key.verify(signature, data)
        except InvalidSignature:
            return False
        return True
    return False


def signature_sha256(signer: Signer, data: bytes) -> tuple[bytes, bytes]:
    """``(signer.sign(data), SHA-256 of data)``; a signer with ``sign_sha256`` (an ES256 ``IssuerKey``) signs
    the digest it returns, so the data is hashed once, not once for the signature and once for the journal."""
    fused = getattr(type(signer), "sign_sha256", None)
    done = fused(signer, data) if fused is not None else None
    return done if done is not None else (signer.sign(data), hashlib.sha256(data).digest())

