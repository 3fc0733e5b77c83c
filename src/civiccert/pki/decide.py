"""The verifier's ISSUER decision for a credential whose key comes from an ``x5c`` chain.

Kept apart from ``civiccert.verification.checks`` so the certificate rules read in one place:

- the chain must have validated (``TrustAnchors.validate``) at the issuance time (anchor time when anchored);
- the leaf must name the municipality the credential claims (code, official name) and, when the leaf has URI
  names, the HTTPS ``iss``;
- a leaf revoked AFTER issuance keeps earlier credentials valid, except when the CRL reason says the key may be
  in other hands (keyCompromise, unspecified): a forger can write any ``iat``, so only an anchor proves time;
- when the registry or a trust file speaks for the city, it must list the key: a certificate never overrides
  what the city's own registry namespace says (their key rules then apply as for any credential);
- when the registry (online, or a registry snapshot) lists the key, it must also record the SHA-256 of this very
  leaf for it: the registry is a transparency log of certified keys, so a certificate the city never logged
  (another leaf for its key, e.g. mis-issued) is refused, and a key nobody certified is refused by the chain check.
"""

from __future__ import annotations

import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from civiccert.credentials.b64url import b64url_encode
from civiccert.credentials.keys import public_jwk_of
from civiccert.credentials.signatures import PublicKey
from civiccert.errors import CredentialError, KeyFileError, ReasonCode
from civiccert.pki.validate import CertifiedKey, cert_kid, decode_x5c
from civiccert.records.municipalities import official_municipality
from civiccert.verification.result import Outcome
from civiccert.verification.trust import TrustSnapshot

__all__ = ["CERT_KID_CHARS", "certificate_decision", "certificate_for_kid", "draft_leaf_key", "leaf_hash"]

CERT_KID_CHARS = 11  # base64url of an 8-byte certificate kid (a key thumbprint's is 43)


def certificate_for_kid(trust: TrustSnapshot | None, code: str | None, kid_text: str) -> tuple[str, list[str]] | None:
    """(key id, x5c) of the published key of ``code`` whose certificate has this 8-byte kid, if the trust
    file holds one."""
    if trust is None or code is None:
        return None
    for key in trust.keys.values():
        x5c = key.jwk.get("x5c") if key.municipality == code and key.jwk else None
        if isinstance(x5c, list) and x5c:
            try:
                if b64url_encode(cert_kid(decode_x5c(x5c)[0])) == kid_text:
                    return key.kid, list(x5c)
            except CredentialError:
                continue
    return None


def leaf_hash(leaf: x509.Certificate) -> bytes:
    """SHA-256 of a leaf certificate's DER: what the registry records with the key it certifies."""
    return hashlib.sha256(leaf.public_bytes(serialization.Encoding.DER)).digest()


def draft_leaf_key(x5c: object) -> PublicKey:
    """The public key of the ``x5c`` leaf (not yet trusted); CERT_CHAIN_INVALID when it is unusable."""
    leaf: x509.Certificate = decode_x5c(x5c)[0]
    key = leaf.public_key()
    try:
        public_jwk_of(key)  # type: ignore[arg-type]  # P-256 or Ed25519 only, as every civiccert key
    except KeyFileError as exc:
        raise CredentialError(ReasonCode.CERT_CHAIN_INVALID, "the x5c leaf's key type is not supported",
                              field="x5c") from exc
    return key  # type: ignore[return-value]


def certificate_decision(
    certified: CertifiedKey | None,
    cert_error: ReasonCode | None,
    *,
    code: str | None,
    name: object,
    iss: str | None,
    at: int,
    anchored: bool,
    registry_speaks: bool,
    registry_lists: bool,
    recorded: bool | None = None,
) -> tuple[Outcome | None, ReasonCode, str]:
    """(outcome, reason, detail) for the ISSUER check; outcome None: the registry / trust key rules decide."""
    if cert_error is not None or certified is None:
        return Outcome.FAILED, cert_error or ReasonCode.CERT_CHAIN_INVALID, "X.509 chain"
    named = certified.municipality
    official = official_municipality(code) if code is not None else None
    expected_name = official.name if official is not None else name
    if code is None or named.code != code or named.name != expected_name:
        return Outcome.FAILED, ReasonCode.CERT_WRONG_MUNICIPALITY, "the certificate names another municipality"
    if iss is not None and iss.startswith("https://") and named.issuer_urls and iss not in named.issuer_urls:
        return Outcome.FAILED, ReasonCode.CERT_WRONG_MUNICIPALITY, "the certificate names another issuer URL"
    if certified.revoked_at is not None and certified.compromise and not anchored:
        return (Outcome.UNKNOWN, ReasonCode.ISSUANCE_TIME_UNVERIFIED,
                "the certificate was revoked (key compromise); only an anchor can prove earlier issuance")
    if registry_speaks and not registry_lists:
        return Outcome.FAILED, ReasonCode.CERT_REGISTRY_CONFLICT, "the registry / trust file lists other keys"
    if registry_speaks and recorded is False:
        return (Outcome.FAILED, ReasonCode.CERT_NOT_RECORDED,
                "the registry does not record this certificate for the key")
    if registry_speaks:
        return None, ReasonCode.OK, ""
    return Outcome.PASSED, ReasonCode.OK, f"X.509 chain to {certified.anchor_name}"
