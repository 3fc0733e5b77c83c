"""Certificate path validation for credentials that carry an ``x5c`` chain: to the trust anchors a verifier
chose, at the credential's issuance time, with offline CRLs.

The path itself (signatures, issuer/subject and AKI/SKI links, basicConstraints and path length, CA key
usage, validity of every certificate) is ``cryptography.x509.verification``'s: a client verifier whose
end-entity policy requires keyUsage with digitalSignature and tolerates a leaf without extended key usage
(a 職責証明書 has none). What is done here is only what that library does not: classify the usual failures
into reason codes before calling it, look the chain up in CRLs, and cache successful paths so a bulk
verification validates each distinct chain once per day-sized bucket.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import itertools
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import verification as xv

from civiccert.credentials.keys import jwk_thumbprint, public_jwk_of
from civiccert.credentials.signatures import PublicKey
from civiccert.errors import ConfigError, CredentialError, KeyFileError, ReasonCode
from civiccert.pki.names import CertifiedMunicipality, municipality_of

__all__ = ["MAX_X5C", "CertifiedKey", "TrustAnchors", "cert_kid", "decode_x5c", "encode_x5c", "load_pem_chain"]

MAX_X5C = 4  # the leaf and up to three CA certificates (a real LGPKI path has one intermediate)
_BUCKET_SECONDS = 24 * 3600
_CACHE_SIZE = 4096
_COMPROMISE = frozenset({None, x509.ReasonFlags.unspecified, x509.ReasonFlags.key_compromise,
                         x509.ReasonFlags.ca_compromise, x509.ReasonFlags.aa_compromise})


@dataclass(frozen=True)
class CertifiedKey:
    """A leaf that chains to a trust anchor at the time asked: its key, what it names, how it ends.

    ``revoked_at`` is set when a CRL revokes the leaf (or a CA above it) AFTER that time; ``compromise``
    says whether the reason means the key may be in other hands (then only an anchor proves issuance time).
    """

    leaf: x509.Certificate
    anchor: x509.Certificate
    public_key: PublicKey
    municipality: CertifiedMunicipality
    kid: str = ""  # RFC 7638 thumbprint of the leaf's key (what a credential's kid must be)
    revoked_at: int | None = None
    compromise: bool = False

    @property
    def anchor_subject(self) -> str:
        return self.anchor.subject.rfc4514_string()

    @property
    def anchor_name(self) -> str:
        """The anchor's common name (its full subject when it has none), for a one-line report."""
        names = self.anchor.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
        return str(names[0].value) if names else self.anchor_subject


def cert_kid(cert: x509.Certificate) -> bytes:
    """The EU DCC key identifier: the first 8 bytes of SHA-256 over the certificate's DER."""
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest()[:8]


def encode_x5c(certs: Iterable[x509.Certificate]) -> list[str]:
    """RFC 7515 ``x5c``: standard base64 (not base64url) of each DER certificate, leaf first."""
    return [base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode("ascii") for c in certs]


def decode_x5c(value: object) -> list[x509.Certificate]:
    """Parse an ``x5c`` header value; CERT_CHAIN_INVALID for anything that is not 1..4 DER certificates."""
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_X5C or not all(isinstance(v, str) for v in value):
        raise CredentialError(ReasonCode.CERT_CHAIN_INVALID, f"x5c must be 1..{MAX_X5C} base64 certificates",
                              field="x5c")
    try:
        return [x509.load_der_x509_certificate(base64.b64decode(v, validate=True)) for v in value]
    except (ValueError, binascii.Error) as exc:
        raise CredentialError(ReasonCode.CERT_CHAIN_INVALID, "an x5c certificate does not parse",
                              field="x5c") from exc


def load_pem_chain(data: bytes, *, field: str = "certificates") -> list[x509.Certificate]:
    """Every certificate of a PEM bundle, in file order; ConfigError when there is none or one is broken."""
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise ConfigError(ReasonCode.CONFIG_INVALID, "not a PEM certificate bundle", field=field) from exc
    return certs


class TrustAnchors:
    """The roots a verifier trusts (e.g. LGPKI's), with the CRLs it has, and a cache of validated chains."""

    def __init__(self, roots: Sequence[x509.Certificate], crls: Sequence[x509.CertificateRevocationList] = ()
                 ) -> None:
        if not roots:
            raise ConfigError(ReasonCode.CONFIG_INVALID, "no trust anchor given", field="trust_anchors")
        self.roots = tuple(roots)
        self._store = xv.Store(list(roots))
        self._crls = tuple(crls)
        self._cache: OrderedDict[tuple[tuple[str, ...], int], _Path] = OrderedDict()

    @classmethod
    def from_files(cls, roots: Path, crls: Sequence[Path | str] = (), *, allow_loopback_http: bool = False
                   ) -> TrustAnchors:
        """Roots from a PEM bundle; CRLs from PEM or DER files, or fetched once from https URLs (bounded:
        :mod:`civiccert.fetch`) when the verifier is set up."""
        try:
            anchors = load_pem_chain(roots.read_bytes(), field="trust_anchors")
        except OSError as exc:
            raise ConfigError(ReasonCode.CONFIG_INVALID, "trust anchor file unreadable", field="trust_anchors"
                              ) from exc
        return cls(anchors, [load_crl(source, allow_loopback_http=allow_loopback_http) for source in crls])

    def validate(self, x5c: object, at: int) -> CertifiedKey:
        """The certified key of ``x5c`` at POSIX time ``at``; CredentialError with a CERT_* code otherwise."""
        if not isinstance(x5c, list):
            raise CredentialError(ReasonCode.CERT_CHAIN_INVALID, "x5c must be an array", field="x5c")
        cache_key = (tuple(str(v) for v in x5c), at // _BUCKET_SECONDS)
        path = self._cache.get(cache_key)
        if path is None:
            path = self._path(decode_x5c(x5c), dt.datetime.fromtimestamp(at, dt.UTC))
            self._cache[cache_key] = path
            if len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(cache_key)
        # the path holds for the whole bucket; validity windows and CRL dates are checked at the exact time
        if any(not start <= at <= end for start, end in path.windows):
            raise CredentialError(ReasonCode.CERT_EXPIRED, "a certificate of the chain was not valid when this "
                                  "credential was issued", field="x5c")
        later = [(date, compromise) for date, compromise in path.revocations if date > at]
        if len(later) < len(path.revocations):
            raise CredentialError(ReasonCode.CERT_REVOKED, "a certificate of the chain was revoked before this "
                                  "credential was issued", field="x5c")
        if not later:
            return path.certified
        return replace(path.certified, revoked_at=min(d for d, _ in later), compromise=any(c for _, c in later))

    def _path(self, certs: list[x509.Certificate], when: dt.datetime) -> _Path:
        leaf, intermediates = certs[0], certs[1:]
        if leaf.issuer == leaf.subject:
            raise CredentialError(ReasonCode.CERT_CHAIN_INVALID, "the x5c leaf is self-signed", field="x5c")
        _check_leaf_usage(leaf)
        _check_windows(certs, when)
        policy = (
            xv.PolicyBuilder().store(self._store).time(when).max_chain_depth(MAX_X5C)
            .extension_policies(ca_policy=xv.ExtensionPolicy.webpki_defaults_ca(), ee_policy=_EE_POLICY)
        )
        try:
            chain = tuple(policy.build_client_verifier().verify(leaf, intermediates).chain)
        except xv.VerificationError as exc:
            raise CredentialError(ReasonCode.CERT_CHAIN_INVALID, "the x5c chain does not lead to a trust anchor",
                                  field="x5c") from exc
        key = leaf.public_key()
        try:
            kid = jwk_thumbprint(public_jwk_of(key))  # type: ignore[arg-type]
        except KeyFileError:
            kid = ""  # a key type civiccert does not sign with: it can match no credential's kid
        certified = CertifiedKey(leaf=leaf, anchor=chain[-1], public_key=key,  # type: ignore[arg-type]
                                 municipality=municipality_of(leaf), kid=kid)
        windows = tuple((int(c.not_valid_before_utc.timestamp()), int(c.not_valid_after_utc.timestamp()))
                        for c in chain)
        return _Path(certified, windows, self._revocations(chain))

    def _revocations(self, chain: tuple[x509.Certificate, ...]) -> tuple[tuple[int, bool], ...]:
        """(revocation time, compromise?) of each certificate of the chain that a CRL from its issuer lists."""
        found: list[tuple[int, bool]] = []
        for cert, issuer in itertools.pairwise(chain):
            for crl in self._crls:
                if crl.issuer != cert.issuer or not crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
                    continue  # another CA's list, or not signed by this certificate's issuer: says nothing
                entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
                if entry is not None:
                    found.append((int(entry.revocation_date_utc.timestamp()), _reason(entry) in _COMPROMISE))
        return tuple(found)


@dataclass(frozen=True)
class _Path:
    """A validated path, cached: what does not depend on the exact time asked."""

    certified: CertifiedKey
    windows: tuple[tuple[int, int], ...]
    revocations: tuple[tuple[int, bool], ...]


_CRL_MAX_BYTES = 16 * 1024 * 1024
_CRL_TIMEOUT = 10.0


def load_crl(source: Path | str, *, allow_loopback_http: bool = False) -> x509.CertificateRevocationList:
    """A CRL, PEM or DER, from a file or an http(s) URL (https and public hosts only, 10 s, 16 MiB);
    ConfigError(CRL_INVALID) when it is neither, ConfigError(CRL_UNAVAILABLE) when the URL cannot be had."""
    if isinstance(source, str) and source.startswith(("https://", "http://")):
        from civiccert.fetch import FetchCodes, bounded_get

        codes = FetchCodes(ReasonCode.CRL_UNAVAILABLE, ReasonCode.CRL_UNAVAILABLE, "CRL")
        try:
            fetched = bounded_get(source, accept="application/pkix-crl", codes=codes, timeout=_CRL_TIMEOUT,
                                  max_bytes=_CRL_MAX_BYTES, allow_loopback_http=allow_loopback_http)
        except CredentialError as exc:  # setting the verifier up: a configuration problem, not a verdict
            raise ConfigError(ReasonCode.CRL_UNAVAILABLE, "the CRL could not be fetched (https, public host, "
                              "10 s, 16 MiB)", field="crl") from exc
        return _parse_crl(fetched)
    try:
        return _parse_crl(Path(source).read_bytes())
    except OSError as exc:
        raise ConfigError(ReasonCode.CRL_INVALID, "CRL file unreadable or malformed", field="crl") from exc


def _parse_crl(data: bytes) -> x509.CertificateRevocationList:
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except (OSError, ValueError) as exc:
        raise ConfigError(ReasonCode.CRL_INVALID, "CRL file unreadable or malformed", field="crl") from exc


def _reason(entry: x509.RevokedCertificate) -> x509.ReasonFlags | None:
    try:
        return entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    except x509.ExtensionNotFound:
        return None


def _check_leaf_usage(leaf: x509.Certificate) -> None:
    try:
        if leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            raise CredentialError(ReasonCode.CERT_KEY_USAGE, "the x5c leaf is a CA certificate", field="x5c")
    except x509.ExtensionNotFound:
        pass
    try:
        usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is None or not usage.digital_signature:
        raise CredentialError(ReasonCode.CERT_KEY_USAGE, "the x5c leaf's key usage does not permit signing",
                              field="x5c")


def _check_windows(certs: Iterable[x509.Certificate], when: dt.datetime) -> None:
    for cert in certs:
        if not cert.not_valid_before_utc <= when <= cert.not_valid_after_utc:
            raise CredentialError(ReasonCode.CERT_EXPIRED, "a certificate of the chain was not valid when this "
                                  "credential was issued", field="x5c")


def _require_signing(_policy: xv.Policy, _cert: x509.Certificate, usage: x509.KeyUsage | None) -> None:
    if usage is None or not usage.digital_signature:
        raise ValueError("keyUsage must include digitalSignature")


# end entity: keyUsage with digitalSignature required; everything else (no EKU, no SAN) is allowed
_EE_POLICY = xv.ExtensionPolicy.permit_all().require_present(x509.KeyUsage, xv.Criticality.AGNOSTIC,
                                                             _require_signing)
