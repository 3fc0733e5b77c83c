"""An issuer home's certificate: installing a chain that certifies the home's key, and what signing uses.

    HOME/keys/chain.pem     the leaf certifying the home's signing key, then its intermediates (never the root)
    config.json extra       ``cert_chain`` ("chain.pem") once a chain is installed; ``issuer_url`` (HTTPS ``iss``)

A home without a chain signs as before (``iss`` = urn:civiccert:lg:<code>, header ``jwk``). With one, its
credentials carry ``x5c`` and ``iss`` is the municipality's HTTPS identifier. After a key rotation the leaf no
longer certifies the key: the home then signs without ``x5c`` until a new leaf is installed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from civiccert.credentials.keys import public_jwk_of, public_key_from_jwk
from civiccert.credentials.signatures import PublicKey
from civiccert.errors import ConfigError, KeyFileError, ReasonCode
from civiccert.fileio import write_atomic
from civiccert.issuance.home import HomeConfig
from civiccert.pki.hierarchy import TestCA
from civiccert.pki.names import default_issuer_url, municipality_of
from civiccert.pki.validate import cert_kid, encode_x5c, load_pem_chain

__all__ = ["CHAIN_FILE", "SigningIdentity", "certificate_hash", "certified_jwk", "install_chain", "issue_test_leaf",
           "issuer_metadata", "issuer_url", "signing_identity"]

CHAIN_FILE = "chain.pem"
URN_PREFIX = "urn:civiccert:lg:"


@dataclass(frozen=True)
class SigningIdentity:
    """How a credential names its signer: ``iss``, the JWS header members, the COSE kid for paper."""

    iss: str
    header: dict[str, Any]
    cose_kid: bytes | None  # 8-byte certificate kid (EU DCC); None: the paper form uses the key thumbprint
    chain: tuple[x509.Certificate, ...] = ()


def issuer_url(config: HomeConfig) -> str:
    """The HTTPS issuer identifier of this home (configured, else the development default)."""
    url = config.extra.get("issuer_url")
    return str(url) if url else default_issuer_url(config.municipality_code)


def home_chain(home: Path, config: HomeConfig) -> list[x509.Certificate] | None:
    """The installed chain (leaf first), or None when the home has none."""
    name = config.extra.get("cert_chain")
    if not name:
        return None
    try:
        return load_pem_chain((home / "keys" / str(name)).read_bytes(), field="cert_chain")
    except OSError as exc:
        raise ConfigError(ReasonCode.CONFIG_INVALID, "the configured certificate chain is missing",
                          field="cert_chain") from exc


def signing_identity(home: Path, config: HomeConfig, public_key: PublicKey, public_jwk: dict[str, str]
                     ) -> SigningIdentity:
    """What the issuer puts in a credential: x5c and the HTTPS iss when a leaf certifies ``public_key``."""
    chain = home_chain(home, config)
    if chain is None:
        return SigningIdentity(URN_PREFIX + config.municipality_code, {"jwk": public_jwk}, None)
    if not _same_key(chain[0].public_key(), public_key):  # rotated since: the leaf is for the old key
        return SigningIdentity(issuer_url(config), {"jwk": public_jwk}, None)
    return SigningIdentity(issuer_url(config), {"x5c": encode_x5c(chain)}, cert_kid(chain[0]), tuple(chain))


def certificate_hash(home: Path, config: HomeConfig, public_key: PublicKey) -> bytes | None:
    """SHA-256 of the DER of the installed leaf when it certifies ``public_key`` (what the registry records
    with the key, and what a verifier matches against the ``x5c`` leaf); None without such a leaf."""
    chain = home_chain(home, config)
    if chain is None or not _same_key(chain[0].public_key(), public_key):
        return None
    return hashlib.sha256(chain[0].public_bytes(serialization.Encoding.DER)).digest()


def install_chain(home: Path, chain: list[x509.Certificate], *, issuer_url_override: str | None = None
                  ) -> HomeConfig:
    """Store ``chain`` (leaf first; a self-signed root in it is dropped) after checking that its leaf certifies
    this home's current key and names this home's municipality. The issuer URL becomes the leaf's URI name
    unless one is given or configured."""
    config = HomeConfig.load(home)
    if config.public_jwk is None:
        raise ConfigError(ReasonCode.CONFIG_INVALID, "open the home once with its passphrase first",
                          field="public_jwk")
    certs = [c for c in chain if c.issuer != c.subject]  # HAIP: the trust anchor is not sent in x5c
    if not certs:
        raise ConfigError(ReasonCode.CONFIG_INVALID, "the chain holds no leaf certificate", field="chain")
    leaf = certs[0]
    if not _same_key(leaf.public_key(), public_key_from_jwk(config.public_jwk)):
        raise ConfigError(ReasonCode.CONFIG_INVALID, "the leaf certificate does not certify this home's key",
                          field="chain")
    named = municipality_of(leaf)
    if named.code != config.municipality_code or named.name != config.municipality_name:
        raise ConfigError(ReasonCode.CONFIG_INVALID, "the leaf certificate names another municipality",
                          field="chain")
    url = issuer_url_override or config.extra.get("issuer_url") or (named.issuer_urls[0] if named.issuer_urls
                                                                     else None)
    if url is not None and named.issuer_urls and url not in named.issuer_urls:
        raise ConfigError(ReasonCode.CONFIG_INVALID, "the issuer URL is not one the leaf certificate names",
                          field="issuer_url")
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)
    write_atomic(home / "keys" / CHAIN_FILE, pem, mode=0o644)
    extra = {**config.extra, "cert_chain": CHAIN_FILE}
    if url is not None:
        extra["issuer_url"] = url
    config = replace(config, extra=extra)
    config.save(home)
    return config


def issue_test_leaf(home: Path, ca: TestCA, *, days: int = 825) -> x509.Certificate:
    """Have the TEST CA certify this home's current key and install the chain (development only)."""
    config = HomeConfig.load(home)
    if config.public_jwk is None:
        raise ConfigError(ReasonCode.CONFIG_INVALID, "open the home once with its passphrase first",
                          field="public_jwk")
    leaf = ca.issue_leaf(public_key_from_jwk(config.public_jwk), code=config.municipality_code,
                         name=config.municipality_name, issuer_url=issuer_url(config), days=days)
    install_chain(home, [leaf, ca.intermediate])
    return leaf


def certified_jwk(home: Path, config: HomeConfig, jwk: dict[str, Any]) -> dict[str, Any]:
    """``jwk`` with its certificate chain as the RFC 7517 ``x5c`` member when a leaf certifies it: how a
    verifier finds the certificate a printed copy names by its 8-byte kid (the QR has no room for it)."""
    identity = signing_identity(home, config, public_key_from_jwk(jwk), dict(jwk))
    return {**jwk, "x5c": encode_x5c(identity.chain)} if identity.chain else jwk


def issuer_metadata(home: Path) -> dict[str, Any]:
    """The JWT VC Issuer Metadata document to publish at ``<iss>/.well-known/jwt-vc-issuer``: the issuer and
    its current public key (with ``x5c`` when certified). Public material only: no passphrase needed."""
    config = HomeConfig.load(home)
    if config.public_jwk is None:
        raise ConfigError(ReasonCode.CONFIG_INVALID, "open the home once with its passphrase first",
                          field="public_jwk")
    jwk = dict(config.public_jwk)
    identity = signing_identity(home, config, public_key_from_jwk(jwk), jwk)
    return {"issuer": identity.iss, "jwks": {"keys": [certified_jwk(home, config, jwk)]}}


def _same_key(a: Any, b: PublicKey) -> bool:
    try:
        return json.dumps(public_jwk_of(a), sort_keys=True) == json.dumps(public_jwk_of(b), sort_keys=True)
    except KeyFileError:
        return False  # a leaf key of a type civiccert cannot sign with certifies no key of this home
