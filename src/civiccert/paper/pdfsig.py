"""The printed copy as a signed PDF (PAdES baseline B-B, pyHanko), and checking that signature.

Signing goes through our ``SigningKey`` (a key file or a key on a PKCS#11 token): pyHanko builds the CMS
signed attributes and asks ``_KeySigner`` for the raw signature, which our key gives as JOSE r||s and is
re-encoded as the DER ``ECDSA-Sig-Value`` CMS wants. The leaf and its intermediates are embedded (never the
root). The signature is a certification signature (DocMDP "no changes"), invisible: readers show it in their
signature panel; the page keeps its layout (seal, QR) untouched. There is no time-stamp (no TSA reachable
offline), so the level is B-B; the signing time in the signature dictionary is the signer's claim only.

Checking answers one question for the verifier: was this PDF, byte for byte, signed by the key that signed
the QR, and left as signed? Whether that key may speak for the city stays the ISSUER check's question
(certificate path and CRLs at issuance time, ``civiccert.pki``); pyHanko is still given the verifier's roots
(else the QR's certificate from the trust file) so its own trust verdict backs the answer.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import io
import logging
from collections.abc import Coroutine, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from asn1crypto import algos
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.general import SigningError
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from civiccert.credentials.b64url import b64url_encode
from civiccert.credentials.keys import jwk_thumbprint, public_jwk_of
from civiccert.credentials.signatures import SigningKey
from civiccert.errors import CivicCertError, KeyFileError, PaperError, ReasonCode
from civiccert.paper.payload import decode_qr_text
from civiccert.pki.decide import CERT_KID_CHARS, certificate_for_kid
from civiccert.pki.validate import TrustAnchors, cert_kid, decode_x5c
from civiccert.verification.result import Outcome

if TYPE_CHECKING:
    from civiccert.inputs import InputItem
    from civiccert.verification.trust import TrustSnapshot

__all__ = ["LEVEL", "PdfSignature", "decide", "pdf_signature_check", "sign_pdf", "validate_pdf"]

LEVEL = "PAdES-B-B"
FIELD = "CivicCertSignature"
_T = TypeVar("_T")
#: what may follow the signed revision: nothing, or validation data / document time-stamps (LTV)
_ALLOWED_AFTER = (ModificationLevel.NONE, ModificationLevel.LTA_UPDATES)
# pyHanko logs a tampered file's diff analysis with a traceback; we report it as a reason code instead. A
# handler of our own keeps Python's last-resort handler from printing it; an application's logging still sees it.
for _name in ("pyhanko", "pyhanko_certvalidator"):
    logging.getLogger(_name).addHandler(logging.NullHandler())


def _run(coro: Coroutine[Any, Any, _T]) -> _T:
    """pyHanko is asyncio inside; run its coroutine here, or on a helper thread when a loop already runs in
    this one (the HTTP service calls the issuer from its event loop)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))


class _KeySigner(signers.Signer):
    """A pyHanko signer whose private key is our ``SigningKey``: works the same for files and HSM tokens."""

    def __init__(self, key: SigningKey, chain: Sequence[x509.Certificate]) -> None:
        if key.alg == "ES256":
            mechanism, self._placeholder = "sha256_ecdsa", 72
        elif key.alg == "EdDSA":
            mechanism, self._placeholder = "ed25519", 64
        else:
            raise KeyFileError(ReasonCode.ALGORITHM_UNSUPPORTED, "this key cannot sign a PDF", field="alg")
        self._key = key
        super().__init__(
            signing_cert=_asn1(chain[0]),
            cert_registry=SimpleCertificateStore.from_certs(  # type: ignore[no-untyped-call]
                [_asn1(c) for c in chain[1:]]),
            signature_mechanism=algos.SignedDigestAlgorithm({"algorithm": mechanism}),
            embed_roots=False,
        )

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        if dry_run:
            return bytes(self._placeholder)
        raw = self._key.sign(data)  # ES256: ECDSA over SHA-256(data) as r||s; EdDSA: the 64 signature bytes
        if self._key.alg != "ES256":
            return raw
        half = len(raw) // 2
        return encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))


def sign_pdf(data: bytes, key: SigningKey, chain: Sequence[x509.Certificate], *, location: str = "") -> bytes:
    """``data`` (an unsigned PDF) signed by ``key``, whose certificate is ``chain[0]`` (then intermediates)."""
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD,
        md_algorithm="sha512" if key.alg == "EdDSA" else "sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        certify=True,  # DocMDP P=1: the municipality certifies the document; no change is permitted after it
        docmdp_permissions=fields.MDPPerm.NO_CHANGES,
        reason="証明書の写しとして交付",
        location=location or None,
    )
    signer = signers.PdfSigner(meta, signer=_KeySigner(key, chain))
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
        out = _run(signer.async_sign_pdf(writer, output=io.BytesIO()))
    except (PdfError, SigningError) as exc:
        raise PaperError(ReasonCode.PDF_UNREADABLE, "the PDF cannot be signed") from exc
    assert isinstance(out, io.BytesIO)
    return out.getvalue()


@dataclass(frozen=True)
class PdfSignature:
    """What a PDF's signature says: ``code`` is OK or why it fails; ``signer`` is the embedded leaf."""

    signed: bool
    code: ReasonCode
    signer: x509.Certificate | None = None
    trusted: bool = False  # pyHanko's own verdict on the path to the roots it was given
    detail: str = ""


def validate_pdf(data: bytes, *, roots: Sequence[x509.Certificate] = (), at: dt.datetime | None = None
                 ) -> PdfSignature:
    """pyHanko's validation of the PDF's signature: integrity, coverage of the whole document (an update
    after signing that is not validation data fails), and trust in ``roots`` at ``at`` (the issuance time)."""
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        embedded = reader.embedded_signatures
    except Exception as exc:  # a crafted file can break pyHanko's reader in many ways: never a crash
        return PdfSignature(True, ReasonCode.PDF_SIGNATURE_INVALID,
                            detail=f"unreadable signature ({type(exc).__name__})")
    if not embedded:
        return PdfSignature(False, ReasonCode.PDF_UNSIGNED)
    if len(embedded) > 1:
        return PdfSignature(True, ReasonCode.PDF_MODIFIED_AFTER_SIGNING, detail="a second signature was added")
    sig = embedded[0]
    try:
        signer = x509.load_der_x509_certificate(sig.signer_cert.dump())
    except (ValueError, AttributeError, TypeError) as exc:
        return PdfSignature(True, ReasonCode.PDF_SIGNATURE_INVALID,
                            detail=f"no signer certificate ({type(exc).__name__})")
    context = ValidationContext(trust_roots=[_asn1(r) for r in roots] or None, allow_fetching=False, moment=at,
                                revocation_mode="soft-fail")
    try:
        status = _run(async_validate_pdf_signature(sig, signer_validation_context=context))
    except Exception as exc:  # pyHanko raises many types on a crafted file: all mean "not a valid signature"
        return PdfSignature(True, ReasonCode.PDF_SIGNATURE_INVALID, signer,
                            detail=f"signature cannot be validated ({type(exc).__name__})")
    if not (status.intact and status.valid):
        return PdfSignature(True, ReasonCode.PDF_SIGNATURE_INVALID, signer, detail="the signed bytes were changed")
    trusted = bool(status.trusted) and bool(roots)
    if status.coverage == SignatureCoverageLevel.ENTIRE_FILE:
        return PdfSignature(True, ReasonCode.OK, signer, trusted, f"{LEVEL}, whole file signed")
    level = status.modification_level
    if status.coverage == SignatureCoverageLevel.ENTIRE_REVISION and level in _ALLOWED_AFTER and status.docmdp_ok:
        return PdfSignature(True, ReasonCode.OK, signer, trusted, f"{LEVEL}, later revision adds nothing to the page")
    what = (level or status.coverage or SignatureCoverageLevel.UNCLEAR).name.lower()
    return PdfSignature(True, ReasonCode.PDF_MODIFIED_AFTER_SIGNING, signer, trusted, f"changed after signing: {what}")


def decide(found: PdfSignature, *, qr_kid: str, scanned: bool) -> tuple[Outcome, ReasonCode, str]:
    """The PDF_SIGNATURE check for a printed copy's QR found in this PDF.

    ``qr_kid`` is the kid the QR names: a certificate kid when its issuer is certified, else a key thumbprint.
    A signed PDF must be intact and signed by that very certificate (or, for a key-thumbprint kid, by a
    certificate for that very key). An unsigned PDF is a finding
    only for a certified issuer's born-digital copy, which civiccert always signs; a scanned paper copy
    (no text layer) has no PDF signature to check, nor has a copy from an issuer without a certificate.
    """
    if not found.signed:
        if scanned:
            return Outcome.SKIPPED, ReasonCode.NOT_CHECKED, "a scanned copy: no PDF signature, compare the page"
        if len(qr_kid) != CERT_KID_CHARS:
            return Outcome.SKIPPED, ReasonCode.NOT_CHECKED, "the issuer has no certificate: PDF copies are unsigned"
        return Outcome.FAILED, ReasonCode.PDF_UNSIGNED, "a certified issuer's PDF copy without its PDF signature"
    if found.code is not ReasonCode.OK or found.signer is None:
        return Outcome.FAILED, found.code, found.detail
    if not _same_signer(found.signer, qr_kid):
        return Outcome.FAILED, ReasonCode.PDF_SIGNER_NOT_ISSUER, "the PDF is signed by another certificate"
    return Outcome.PASSED, ReasonCode.OK, found.detail + ("; chain trusted" if found.trusted else "")


def _same_signer(cert: x509.Certificate, qr_kid: str) -> bool:
    """The QR's certificate kid is this certificate's; a key-thumbprint kid is this certificate's key's."""
    if len(qr_kid) == CERT_KID_CHARS:
        return b64url_encode(cert_kid(cert)) == qr_kid
    try:
        return jwk_thumbprint(public_jwk_of(cert.public_key())) == qr_kid  # type: ignore[arg-type]
    except KeyFileError:
        return False


def pdf_signature_check(item: InputItem, *, at: int | None, trust: TrustSnapshot | None,
                        anchors: TrustAnchors | None, code: str | None,
                        cache: MutableMapping[Path, PdfSignature]) -> tuple[Outcome, ReasonCode, str]:
    """The verifier's PDF_SIGNATURE check for a QR found in a PDF (``item.pdf``), validated once per file.

    pyHanko trusts the verifier's X.509 roots, else the QR's certificate as the trust file publishes it."""
    assert item.pdf is not None
    qr_kid = decode_qr_text(item.text).kid  # the verifier decoded it already: it cannot fail here
    found = cache.get(item.pdf)
    if found is None:
        roots = list(anchors.roots) if anchors is not None else _published_certificate(trust, code, qr_kid)
        when = dt.datetime.fromtimestamp(at, dt.UTC) if at is not None else None
        try:
            found = validate_pdf(item.pdf.read_bytes(), roots=roots, at=when)
        except OSError:
            return Outcome.UNKNOWN, ReasonCode.PDF_UNREADABLE, "the PDF could not be read again"
        cache[item.pdf] = found
    return decide(found, qr_kid=qr_kid, scanned=item.page_text is None)


def _published_certificate(trust: TrustSnapshot | None, code: str | None, qr_kid: str) -> list[x509.Certificate]:
    found = certificate_for_kid(trust, code, qr_kid) if len(qr_kid) == CERT_KID_CHARS else None
    if found is None:
        return []
    try:
        return [decode_x5c(found[1])[0]]
    except CivicCertError:
        return []
