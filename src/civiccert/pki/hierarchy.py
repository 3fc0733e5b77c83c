"""A development certificate hierarchy: a TEST root (standing for LGPKI / 政府共用認証局), a TEST intermediate,
and leaf 職責証明書 certifying a municipality's signing key. Production imports the real chain instead.

    DIR/root.pem                 the TEST root certificate: what a verifier configures as its trust anchor
    DIR/root-key.pem             its private key, UNENCRYPTED: a test CA is not a place for secrets
    DIR/intermediate.pem         the TEST intermediate certificate (signs leaves and the CRL)
    DIR/intermediate-key.pem     its private key, UNENCRYPTED
    DIR/intermediate.crl.pem     the intermediate's CRL (empty at first; ``revoke`` adds entries)

Every certificate is built with ``cryptography``'s X.509 builder: basicConstraints and keyUsage are
critical, AKI/SKI link each certificate to its issuer, subjects of the CA say "TEST ... not for production".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from civiccert.credentials.signatures import PublicKey
from civiccert.errors import ConfigError, ReasonCode
from civiccert.fileio import write_atomic
from civiccert.pki.names import leaf_subject

__all__ = ["SIGNING_KEY_USAGE", "TestCA", "ca_name"]

UTC = dt.UTC
ROOT_CN = "civiccert TEST root - not for production"
INTERMEDIATE_CN = "civiccert TEST intermediate - not for production"
# digitalSignature + nonRepudiation (contentCommitment): a 職責証明書 signs documents the city stands behind
SIGNING_KEY_USAGE = x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                  data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                  crl_sign=False, encipher_only=False, decipher_only=False)
_CA_KEY_USAGE = x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                              data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                              encipher_only=False, decipher_only=False)
_FILES = ("root.pem", "root-key.pem", "intermediate.pem", "intermediate-key.pem")


def ca_name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "civiccert TEST CA"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def _now(now: dt.datetime | None) -> dt.datetime:
    return (now or dt.datetime.now(UTC)).replace(microsecond=0)


@dataclass
class TestCA:
    """A TEST root and intermediate with their keys, kept in a directory (see the module docstring)."""

    __test__ = False  # not a pytest test class, whatever its name

    directory: Path
    root: x509.Certificate
    intermediate: x509.Certificate
    root_key: ec.EllipticCurvePrivateKey
    intermediate_key: ec.EllipticCurvePrivateKey

    @classmethod
    def create(cls, directory: Path, *, now: dt.datetime | None = None, years: int = 10) -> TestCA:
        """Make a new TEST root and intermediate in ``directory`` (refused when one is there already)."""
        if any((directory / f).exists() for f in _FILES):
            raise ConfigError(ReasonCode.HOME_EXISTS, "a test CA already exists in this directory")
        start = _now(now) - dt.timedelta(minutes=5)
        end = start + dt.timedelta(days=365 * years)
        root_key = ec.generate_private_key(ec.SECP256R1())
        inter_key = ec.generate_private_key(ec.SECP256R1())
        root = _ca_cert(ca_name(ROOT_CN), public_key=root_key.public_key(), issuer=ca_name(ROOT_CN),
                        signing_key=root_key, start=start, end=end, path_length=1)
        inter = _ca_cert(ca_name(INTERMEDIATE_CN), public_key=inter_key.public_key(), issuer=root.subject,
                         signing_key=root_key, start=start, end=end, path_length=0)
        ca = cls(directory, root, inter, root_key, inter_key)
        directory.mkdir(parents=True, exist_ok=True)
        ca._save()
        ca.write_crl(now=now)
        return ca

    @classmethod
    def load(cls, directory: Path) -> TestCA:
        try:
            root = x509.load_pem_x509_certificate((directory / "root.pem").read_bytes())
            inter = x509.load_pem_x509_certificate((directory / "intermediate.pem").read_bytes())
            root_key = serialization.load_pem_private_key((directory / "root-key.pem").read_bytes(), None)
            inter_key = serialization.load_pem_private_key((directory / "intermediate-key.pem").read_bytes(), None)
        except (OSError, ValueError) as exc:
            raise ConfigError(ReasonCode.CONFIG_INVALID, "not a civiccert test CA directory", field="ca") from exc
        if not isinstance(root_key, ec.EllipticCurvePrivateKey) or not isinstance(
                inter_key, ec.EllipticCurvePrivateKey):
            raise ConfigError(ReasonCode.CONFIG_INVALID, "test CA keys must be EC keys", field="ca")
        return cls(directory, root, inter, root_key, inter_key)

    def _save(self) -> None:
        for name, cert in (("root.pem", self.root), ("intermediate.pem", self.intermediate)):
            write_atomic(self.directory / name, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
        for name, key in (("root-key.pem", self.root_key), ("intermediate-key.pem", self.intermediate_key)):
            write_atomic(self.directory / name, key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))

    @property
    def crl_path(self) -> Path:
        return self.directory / "intermediate.crl.pem"

    def issue_leaf(
        self,
        public_key: PublicKey,
        *,
        code: str,
        name: str,
        issuer_url: str,
        now: dt.datetime | None = None,
        days: int = 825,
        not_before: dt.datetime | None = None,
        key_usage: x509.KeyUsage = SIGNING_KEY_USAGE,
    ) -> x509.Certificate:
        """A leaf 職責証明書 certifying ``public_key`` as municipality ``code``'s signing key."""
        start = not_before or _now(now) - dt.timedelta(minutes=5)
        builder = (
            x509.CertificateBuilder()
            .subject_name(leaf_subject(code, name))
            .issuer_name(self.intermediate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(key_usage, critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(issuer_url)]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.intermediate_key.public_key()),
                           critical=False)
        )
        return builder.sign(self.intermediate_key, hashes.SHA256())

    def revoke(self, cert: x509.Certificate, *, at: dt.datetime,
               reason: x509.ReasonFlags = x509.ReasonFlags.key_compromise,
               now: dt.datetime | None = None) -> x509.CertificateRevocationList:
        """Add ``cert`` to the intermediate's CRL as revoked from ``at`` and rewrite the CRL file."""
        entry = (x509.RevokedCertificateBuilder().serial_number(cert.serial_number).revocation_date(at)
                 .add_extension(x509.CRLReason(reason), critical=False).build())
        return self.write_crl(now=now, extra=[entry])

    def write_crl(self, *, now: dt.datetime | None = None, days: int = 30,
                  extra: list[x509.RevokedCertificate] | None = None) -> x509.CertificateRevocationList:
        """Re-issue the intermediate's CRL (the entries it had, plus ``extra``), valid for ``days``."""
        entries: list[x509.RevokedCertificate] = []
        if self.crl_path.exists():
            entries = list(x509.load_pem_x509_crl(self.crl_path.read_bytes()))
        entries += extra or []
        start = _now(now) - dt.timedelta(minutes=5)
        builder = (x509.CertificateRevocationListBuilder().issuer_name(self.intermediate.subject)
                   .last_update(start).next_update(start + dt.timedelta(days=days))
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                       self.intermediate_key.public_key()), critical=False)
                   .add_extension(x509.CRLNumber(len(entries) + 1), critical=False))
        for entry in entries:
            builder = builder.add_revoked_certificate(entry)
        crl = builder.sign(self.intermediate_key, hashes.SHA256())
        write_atomic(self.crl_path, crl.public_bytes(serialization.Encoding.PEM), mode=0o644)
        return crl


def _ca_cert(subject: x509.Name, *, public_key: ec.EllipticCurvePublicKey, issuer: x509.Name,
             signing_key: ec.EllipticCurvePrivateKey, start: dt.datetime, end: dt.datetime,
             path_length: int) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(_CA_KEY_USAGE, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()), critical=False)
        .sign(signing_key, hashes.SHA256())
    )
