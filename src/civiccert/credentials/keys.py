"""Low-level issuer keys; use Issuer/Verifier.

An ``IssuerKey`` signs JWS (SD-JWT) and COSE (paper form) input with ES256 (P-256, default) or EdDSA
(Ed25519). Its ``kid`` is the RFC 7638 JWK thumbprint, so the same 32 bytes name the key on chain.
At rest a key is PKCS#8 PEM encrypted with the best available scheme, written atomically with mode
0600; unencrypted key files are refused on load.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature

from civiccert.credentials.b64url import b64url_decode, b64url_encode
from civiccert.credentials.signatures import PublicKey, verify_signature
from civiccert.credentials.strictjson import json_text
from civiccert.errors import CredentialError, KeyFileError, ReasonCode
from civiccert.fileio import write_atomic

__all__ = [
    "IssuerKey",
    "PublicKey",
    "jwk_thumbprint",
    "jwks",
    "kid_of",
    "passphrase_from_env",
    "public_jwk_of",
    "public_key_from_jwk",
    "thumbprint_of",
    "verify_signature",
]

PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey

_MAX_KEY_FILE = 64 * 1024
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
_ECDSA_PREHASHED = ec.ECDSA(Prehashed(hashes.SHA256()))
# RFC 7638 §3.2: the required members per key type, the only ones hashed.
_THUMBPRINT_MEMBERS = {
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
    "RSA": ("e", "kty", "n"),
    "oct": ("k", "kty"),
}
_ALG_OF: dict[tuple[Any, Any], str] = {("EC", "P-256"): "ES256", ("OKP", "Ed25519"): "EdDSA"}
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


def kid_of(thumbprint: bytes) -> str:
    """The RFC 7638 key id (base64url) of a 32-byte thumbprint, as the registry stores it."""
    return b64url_encode(thumbprint)


def thumbprint_of(kid: str) -> bytes | None:
    """The 32-byte thumbprint a key id stands for; None when ``kid`` is not one."""
    try:
        raw = b64url_decode(kid, field="kid")
    except CredentialError:
        return None
    return raw if len(raw) == 32 else None


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 thumbprint (SHA-256, base64url) over the required members of ``jwk``."""
    return b64url_encode(_thumbprint_bytes(jwk))


def _thumbprint_bytes(jwk: Mapping[str, Any]) -> bytes:
    members = _THUMBPRINT_MEMBERS.get(jwk.get("kty"))  # type: ignore[arg-type]
    if members is None:
        raise CredentialError(ReasonCode.ALGORITHM_UNSUPPORTED, "unknown JWK key type", field="jwk.kty")
    required = {}
    for name in members:
        value = jwk.get(name)
        if not isinstance(value, str):
            raise CredentialError(ReasonCode.MALFORMED, "JWK member missing", field=f"jwk.{name}")
        required[name] = value
    return hashlib.sha256(json_text(required).encode("utf-8")).digest()


def public_jwk_of(public_key: PublicKey) -> dict[str, str]:
    """The bare public JWK (kty, crv, x[, y]) of a P-256 or Ed25519 key."""
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        if public_key.curve.name != "secp256r1":
            raise KeyFileError(ReasonCode.ALGORITHM_UNSUPPORTED, "only the P-256 curve is supported")
        numbers = public_key.public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url_encode(numbers.x.to_bytes(32, "big")),
            "y": b64url_encode(numbers.y.to_bytes(32, "big")),
        }
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(raw)}
    raise KeyFileError(ReasonCode.ALGORITHM_UNSUPPORTED, "unsupported public key type")


def public_key_from_jwk(jwk: Mapping[str, Any]) -> PublicKey:
    """Public key from an untrusted JWK: P-256 (EC) or Ed25519 (OKP); private members are refused."""
    if not isinstance(jwk, Mapping):
        raise CredentialError(ReasonCode.MALFORMED, "JWK is not an object", field="jwk")
    if _PRIVATE_MEMBERS & jwk.keys():
        raise CredentialError(ReasonCode.MALFORMED, "JWK carries private key material", field="jwk")
    if jwk.get("use", "sig") != "sig":
        raise CredentialError(ReasonCode.MALFORMED, "JWK is not a signature key", field="jwk.use")
    key_ops = jwk.get("key_ops", ["verify"])
    if not isinstance(key_ops, list) or "verify" not in key_ops:
        raise CredentialError(ReasonCode.MALFORMED, "JWK key_ops does not allow verify", field="jwk.key_ops")
    kty, crv = jwk.get("kty"), jwk.get("crv")
    if "alg" in jwk and jwk["alg"] != _ALG_OF.get((kty, crv)):
        raise CredentialError(ReasonCode.ALGORITHM_UNSUPPORTED, "JWK alg does not fit the key", field="jwk.alg")
    if kty == "EC" and crv == "P-256":
        x = _coordinate(jwk, "x")
        y = _coordinate(jwk, "y")
        try:
            return ec.EllipticCurvePublicNumbers(
                int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1()
            ).public_key()
        except ValueError:
            raise CredentialError(ReasonCode.MALFORMED, "point is not on the curve", field="jwk") from None
    if kty == "OKP" and crv == "Ed25519":
        return ed25519.Ed25519PublicKey.from_public_bytes(_coordinate(jwk, "x"))
    if kty in ("EC", "OKP", "RSA", "oct"):
        raise CredentialError(ReasonCode.ALGORITHM_UNSUPPORTED, "unsupported key type or curve", field="jwk.crv")
    raise CredentialError(ReasonCode.MALFORMED, "unknown JWK key type", field="jwk.kty")


def _coordinate(jwk: Mapping[str, Any], name: str) -> bytes:
    value = jwk.get(name)
    if not isinstance(value, str):
        raise CredentialError(ReasonCode.MALFORMED, "JWK member missing", field=f"jwk.{name}")
    raw = b64url_decode(value, field=f"jwk.{name}")
    if len(raw) != 32:
        raise CredentialError(ReasonCode.MALFORMED, "JWK coordinate has the wrong length", field=f"jwk.{name}")
    return raw


def jwks(keys: Iterable[IssuerKey]) -> dict[str, list[dict[str, str]]]:
    """A JWK Set of the public halves (for publishing or a trust snapshot)."""
    return {"keys": [key.public_jwk() for key in keys]}


def passphrase_from_env(var: str = "CIVICCERT_KEY_PASSPHRASE") -> bytes | None:
    """The key passphrase from the environment (UTF-8), or None when unset or empty."""
    value = os.environ.get(var)
    return value.encode("utf-8") if value else None


def raw_ecdsa_p256(der: bytes) -> bytes:
    """r||s (32 bytes each) of a P-256 ECDSA signature in DER (two INTEGERs in a SEQUENCE shorter than 128 bytes).

    The two integers are sliced out when the DER is laid out as OpenSSL writes it (four times faster than
    ``decode_dss_signature``, twice per issued credential); anything else goes through that decoder."""
    size = len(der)
    r_len = der[3] if size > 3 else 0
    s_len = der[5 + r_len] if size > 5 + r_len else 0
    if (size == 6 + r_len + s_len and der[0] == 0x30 and der[1] == size - 2 and der[2] == 0x02
            and der[4 + r_len] == 0x02 and 0 < r_len <= 32 + (der[4] == 0) and 0 < s_len <= 32 + (der[6 + r_len] == 0)):
        return der[4 : 4 + r_len][-32:].rjust(32, b"\0") + der[6 + r_len :][-32:].rjust(32, b"\0")
    r, s = decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


class IssuerKey:
    """A municipality's signing key (private half). ``kid`` is its RFC 7638 thumbprint."""

    __slots__ = ("_ecdsa", "_private", "_public_jwk", "alg", "kid", "public_key", "thumbprint")

    alg: str
    kid: str
    thumbprint: bytes
    public_key: PublicKey

    def __init__(self, private_key: PrivateKey) -> None:
        if isinstance(private_key, ec.EllipticCurvePrivateKey):
            if private_key.curve.name != "secp256r1":
                raise KeyFileError(ReasonCode.ALGORITHM_UNSUPPORTED, "only the P-256 curve is supported")
            self.alg = "ES256"
            self._ecdsa = True
        elif isinstance(private_key, ed25519.Ed25519PrivateKey):
            self.alg = "EdDSA"
            self._ecdsa = False
        else:
            raise KeyFileError(ReasonCode.ALGORITHM_UNSUPPORTED, "only P-256 and Ed25519 keys are supported")
        self._private = private_key
        self.public_key = private_key.public_key()
        bare = public_jwk_of(self.public_key)
        self.thumbprint = _thumbprint_bytes(bare)
        self.kid = b64url_encode(self.thumbprint)
        self._public_jwk = {**bare, "kid": self.kid, "alg": self.alg, "use": "sig"}

    @classmethod
    def generate(cls, alg: str = "ES256") -> IssuerKey:
        """A fresh key: ``ES256`` (P-256) or ``EdDSA`` (Ed25519)."""
        if alg == "ES256":
            return cls(ec.generate_private_key(ec.SECP256R1()))
        if alg == "EdDSA":
            return cls(ed25519.Ed25519PrivateKey.generate())
        raise ValueError("alg must be 'ES256' or 'EdDSA'")

    def sign(self, data: bytes) -> bytes:
        """Raw JWS/COSE signature: r||s (64 bytes) for ES256, 64 bytes for EdDSA."""
        if self._ecdsa:  # decided once in __init__: an ABC isinstance per signature costs as much as the rest
            return raw_ecdsa_p256(self._private.sign(data, _ECDSA_SHA256))  # type: ignore[call-arg]
        return self._private.sign(data)  # type: ignore[call-arg]

    def sign_sha256(self, data: bytes) -> tuple[bytes, bytes] | None:
        """``(sign(data), SHA-256 of data)`` hashing ``data`` once (ES256 signs the digest: the same signature
        as ``sign``, RFC 6979 included); None for EdDSA, which signs the message itself."""
        if not self._ecdsa:
            return None
        digest = hashlib.sha256(data).digest()
        return raw_ecdsa_p256(self._private.sign(digest, _ECDSA_PREHASHED)), digest  # type: ignore[call-arg]

    def public_jwk(self) -> dict[str, str]:
        """Public JWK with ``kid``, ``alg`` and ``use``."""
        return dict(self._public_jwk)

    def __repr__(self) -> str:
        return f"IssuerKey(alg={self.alg!r}, kid={self.kid!r})"

    def save(self, path: Path, passphrase: bytes, *, overwrite: bool = False) -> None:
        """Write encrypted PKCS#8 PEM with mode 0600, atomically; an existing file is kept unless
        ``overwrite`` (replacing an issuer key by accident would orphan its credentials)."""
        if not isinstance(passphrase, bytes) or not passphrase:
            raise ValueError("passphrase must be non-empty bytes")
        pem = self._private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase),
        )
        write_atomic(Path(path), pem, mode=0o600, overwrite=overwrite)

    @classmethod
    def load(cls, path: Path, passphrase: bytes | None) -> IssuerKey:
        """Read an encrypted PKCS#8 PEM key written by ``save``."""
        try:
            with open(path, "rb") as handle:
                data = handle.read(_MAX_KEY_FILE + 1)
        except OSError:
            raise KeyFileError(ReasonCode.KEY_FILE_INVALID, "key file cannot be read") from None
        if len(data) > _MAX_KEY_FILE or b"-----BEGIN " not in data:
            raise KeyFileError(ReasonCode.KEY_FILE_INVALID, "not a PEM key file")
        if b"-----BEGIN ENCRYPTED PRIVATE KEY-----" not in data:
            raise KeyFileError(ReasonCode.KEY_FILE_INVALID, "key file is not an encrypted PKCS#8 key")
        if not passphrase:
            raise KeyFileError(ReasonCode.PASSPHRASE_MISSING, "key file is encrypted and no passphrase given")
        try:
            private = serialization.load_pem_private_key(data, password=passphrase)
        except ValueError:
            # For an ENCRYPTED PRIVATE KEY block this is a failed decryption (or corrupt ciphertext).
            raise KeyFileError(ReasonCode.PASSPHRASE_WRONG, "passphrase does not decrypt the key") from None
        except Exception:  # UnsupportedAlgorithm and similar for odd but well-formed files
            raise KeyFileError(ReasonCode.KEY_FILE_INVALID, "key file cannot be parsed") from None
        if not isinstance(private, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
            raise KeyFileError(ReasonCode.ALGORITHM_UNSUPPORTED, "only P-256 and Ed25519 keys are supported")
        return cls(private)
