"""Issuer keys: encrypted PKCS#8 at rest, RFC 7638 kid, JWK parsing."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from civiccert.credentials.keys import (
    IssuerKey,
    jwk_thumbprint,
    jwks,
    passphrase_from_env,
    public_key_from_jwk,
    verify_signature,
)
from civiccert.errors import CredentialError, KeyFileError, ReasonCode

# RFC 7638 §3.1
RFC7638_RSA = {
    "kty": "RSA",
    "n": (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjB"
        "ZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8"
        "KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_"
        "xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    ),
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}


@pytest.fixture(params=["ES256", "EdDSA"])
def key(request: pytest.FixtureRequest) -> IssuerKey:
    return IssuerKey.generate(request.param)


def test_rfc7638_example_thumbprint() -> None:
    assert jwk_thumbprint(RFC7638_RSA) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_kid_is_the_thumbprint_of_the_public_jwk(key: IssuerKey) -> None:
    jwk = key.public_jwk()
    assert key.kid == jwk["kid"] == jwk_thumbprint(jwk)
    assert len(key.thumbprint) == 32
    assert jwk["alg"] == key.alg
    assert jwk["use"] == "sig"
    assert "d" not in jwk


def test_sign_gives_raw_64_byte_signatures_that_verify(key: IssuerKey) -> None:
    signature = key.sign(b"data")
    assert len(signature) == 64
    public = public_key_from_jwk(key.public_jwk())
    assert verify_signature(key.alg, public, b"data", signature)
    assert not verify_signature(key.alg, public, b"other", signature)


def test_save_load_round_trip_with_mode_0600(tmp_path: Path, key: IssuerKey) -> None:
    path = tmp_path / "issuer.pem"
    key.save(path, b"correct horse")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert b"ENCRYPTED PRIVATE KEY" in path.read_bytes()
    loaded = IssuerKey.load(path, b"correct horse")
    assert loaded.kid == key.kid
    assert loaded.alg == key.alg
    assert verify_signature(key.alg, key.public_key, b"x", loaded.sign(b"x"))
    assert sorted(os.listdir(tmp_path)) == ["issuer.pem"]  # no temporary file left behind


def test_save_never_clobbers_unless_asked(tmp_path: Path) -> None:
    path = tmp_path / "issuer.pem"
    first, second = IssuerKey.generate(), IssuerKey.generate()
    first.save(path, b"pw")
    with pytest.raises(FileExistsError):
        second.save(path, b"pw")
    assert IssuerKey.load(path, b"pw").kid == first.kid
    second.save(path, b"pw", overwrite=True)
    assert IssuerKey.load(path, b"pw").kid == second.kid


def test_wrong_and_missing_passphrase(tmp_path: Path) -> None:
    path = tmp_path / "issuer.pem"
    IssuerKey.generate().save(path, b"right")
    with pytest.raises(KeyFileError) as wrong:
        IssuerKey.load(path, b"wrong")
    assert wrong.value.code is ReasonCode.PASSPHRASE_WRONG
    with pytest.raises(KeyFileError) as missing:
        IssuerKey.load(path, None)
    assert missing.value.code is ReasonCode.PASSPHRASE_MISSING
    assert "right" not in str(wrong.value)
    assert "wrong" not in str(wrong.value).replace("passphrase_wrong", "")


def test_unsupported_keys_and_bad_files(tmp_path: Path) -> None:
    encryption = serialization.BestAvailableEncryption(b"pw")
    for name, private in (
        ("p384.pem", ec.generate_private_key(ec.SECP384R1())),
        ("rsa.pem", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
    ):
        pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
        (tmp_path / name).write_bytes(pem)
        with pytest.raises(KeyFileError) as exc:
            IssuerKey.load(tmp_path / name, b"pw")
        assert exc.value.code is ReasonCode.ALGORITHM_UNSUPPORTED
    plain = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (tmp_path / "plain.pem").write_bytes(plain)
    (tmp_path / "junk.pem").write_bytes(b"not a key")
    for name in ("plain.pem", "junk.pem", "absent.pem"):
        with pytest.raises(KeyFileError) as exc:
            IssuerKey.load(tmp_path / name, b"pw")
        assert exc.value.code is ReasonCode.KEY_FILE_INVALID


def test_passphrase_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CIVICCERT_KEY_PASSPHRASE", raising=False)
    assert passphrase_from_env() is None
    monkeypatch.setenv("CIVICCERT_KEY_PASSPHRASE", "秘密")
    assert passphrase_from_env() == "秘密".encode()
    monkeypatch.setenv("OTHER", "")
    assert passphrase_from_env("OTHER") is None


def test_public_key_from_jwk_rejects_private_members_and_bad_points() -> None:
    key = IssuerKey.generate()
    jwk = key.public_jwk()
    cases = {
        ReasonCode.MALFORMED: [
            {**jwk, "d": "AAAA"},
            {**jwk, "x": jwk["y"]},  # not on the curve (overwhelmingly likely)
            {**jwk, "x": jwk["x"] + "A"},
            {k: v for k, v in jwk.items() if k != "y"},
            {**jwk, "use": "enc"},
            {**jwk, "key_ops": ["encrypt"]},
            {"kty": "XYZ"},
        ],
        ReasonCode.ALGORITHM_UNSUPPORTED: [
            {**jwk, "crv": "P-384"},
            {**jwk, "alg": "ES384"},
            {k: v for k, v in RFC7638_RSA.items() if k != "alg"},
        ],
        ReasonCode.BASE64URL_INVALID: [{**jwk, "x": jwk["x"] + "="}],
    }
    for code, bad_jwks in cases.items():
        for bad in bad_jwks:
            with pytest.raises(CredentialError) as exc:
                public_key_from_jwk(bad)
            assert exc.value.code is code, bad


def test_jwks_lists_public_halves() -> None:
    keys = [IssuerKey.generate(), IssuerKey.generate("EdDSA")]
    exported = jwks(keys)
    assert [k["kid"] for k in exported["keys"]] == [k.kid for k in keys]
    assert all("d" not in k for k in exported["keys"])


def test_raw_ecdsa_signatures_are_the_decoders_r_and_s() -> None:
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

    from civiccert.credentials.keys import raw_ecdsa_p256

    n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    pairs = [(1, 2), (n - 1, 1), (2**255, 2**255 - 1), (0x80, 0x7F), (2**248 - 1, 2**256 - 2**200)]
    der_signatures = [encode_dss_signature(r, s) for r, s in pairs]
    key = ec.generate_private_key(ec.SECP256R1())
    der_signatures += [key.sign(bytes([i]), ec.ECDSA(hashes.SHA256())) for i in range(200)]
    for der in der_signatures:
        r, s = decode_dss_signature(der)
        assert raw_ecdsa_p256(der) == r.to_bytes(32, "big") + s.to_bytes(32, "big")
    with pytest.raises(ValueError, match="asn1"):  # not DER at all: the decoder's refusal, not a silent slice
        raw_ecdsa_p256(b"\x30\x06\x02\x01\x01\x02\x01")


@pytest.mark.parametrize("size", [0, 1, 64, 6000])
def test_signing_the_digest_is_signing_the_data(monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    """The issue path's ES256 signs the SHA-256 it journals (hashed once): with RFC 6979 nonces both ways
    the signature bytes equal ``sign``'s, and the digest is the data's."""
    import hashlib

    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    from civiccert.credentials import keys
    from civiccert.credentials.signatures import signature_sha256

    monkeypatch.setattr(keys, "_ECDSA_SHA256", ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    monkeypatch.setattr(keys, "_ECDSA_PREHASHED", ec.ECDSA(Prehashed(hashes.SHA256()), deterministic_signing=True))
    key, data = IssuerKey.generate("ES256"), os.urandom(size)
    fused = key.sign_sha256(data)
    assert fused == (key.sign(data), hashlib.sha256(data).digest())
    assert signature_sha256(key, data) == fused
    assert verify_signature("ES256", key.public_key, data, fused[0])
    ed = IssuerKey.generate("EdDSA")  # signs the message itself: the plain path, the same bytes
    assert ed.sign_sha256(data) is None
    assert signature_sha256(ed, data) == (ed.sign(data), hashlib.sha256(data).digest())
