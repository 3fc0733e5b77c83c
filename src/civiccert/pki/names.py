"""The municipality in a 職責証明書: how civiccert writes it into a certificate subject and reads it back.

A leaf certifying a municipality's signing key names it as::

    C=JP, O=<official name>, serialNumber=<6-digit 地方公共団体コード>, CN=<name>長 (e.g. 松戸市長)

with the municipality's HTTPS issuer identifier as a URI subjectAltName (what an SD-JWT VC's ``iss`` is matched
against, by civiccert and by HAIP verifiers). ``serialNumber`` (2.5.4.5) is the X.520 attribute for an
identifier of the subject; the code includes its check digit, as in the 総務省 list.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID

__all__ = ["CertifiedMunicipality", "default_issuer_url", "leaf_subject", "municipality_of"]


@dataclass(frozen=True)
class CertifiedMunicipality:
    """What a leaf certificate says about its subject (read, not yet trusted: validate the chain first)."""

    code: str | None
    name: str | None
    issuer_urls: tuple[str, ...]


def default_issuer_url(code: str) -> str:
    """The HTTPS issuer identifier used when a home sets none: a reserved .example name, for development only."""
    return f"https://{code}.civiccert.example"


def leaf_subject(code: str, name: str) -> x509.Name:
    """The subject of a municipality's signing certificate (the mayor's 職責証明書)."""
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
        x509.NameAttribute(NameOID.SERIAL_NUMBER, code),
        x509.NameAttribute(NameOID.COMMON_NAME, name + "長"),
    ])


def municipality_of(cert: x509.Certificate) -> CertifiedMunicipality:
    """The municipality code, name and issuer URLs a certificate names (None where absent or repeated)."""
    return CertifiedMunicipality(
        code=_single(cert.subject, NameOID.SERIAL_NUMBER),
        name=_single(cert.subject, NameOID.ORGANIZATION_NAME),
        issuer_urls=_uris(cert),
    )


def _single(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    values = name.get_attributes_for_oid(oid)
    if len(values) != 1 or not isinstance(values[0].value, str):
        return None  # two O= or two serialNumber= make the subject ambiguous: it names no municipality
    return values[0].value


def _uris(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ()
    return tuple(san.get_values_for_type(x509.UniformResourceIdentifier))
