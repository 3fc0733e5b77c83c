"""The printed copy of an issued credential: checks it is this home's own, renders and (if certified) signs it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from civiccert.credential_file import CredentialFile
from civiccert.credentials import sdjwt
from civiccert.credentials.b64url import b64url_encode
from civiccert.credentials.signatures import SigningKey
from civiccert.errors import ConfigError, CredentialError, ReasonCode
from civiccert.fileio import write_atomic
from civiccert.issuance.home import HomeConfig
from civiccert.paper import payload as paper_payload
from civiccert.pki.decide import CERT_KID_CHARS
from civiccert.pki.home import SigningIdentity
from civiccert.pki.validate import cert_kid

__all__ = ["print_credential"]


def print_credential(
    cred: CredentialFile,
    out: Path,
    *,
    home: Path,
    config: HomeConfig,
    key: SigningKey,
    identity: SigningIdentity,
    own_public_key: Callable[[object], Any],
    require_signed: bool,
) -> Path:
    """``Issuer.print_pdf``: ``own_public_key(kid)`` is the home's key for ``kid``, current or rotated out."""
    from civiccert.paper.pdf import render_pdf_bytes

    if cred.paper_cose is None:
        raise ConfigError(ReasonCode.CONFIG_INVALID, "credential was issued without a paper form")
    verified = sdjwt.verify(cred.sd_jwt, resolve_key=lambda header, _p: own_public_key(header.get("kid")),
                            algorithms=("ES256", "EdDSA"), check_validity=False)
    claims = {k: v for k, v in verified.claims.items() if k not in sdjwt.NEVER_DISCLOSABLE}
    try:
        text = paper_payload.qr_text(cred.paper_cose, cred.paper_receipt)
    except (KeyError, TypeError, ValueError) as exc:  # a hand-edited credential file: bad input, not a bug
        raise CredentialError(ReasonCode.MALFORMED, "the anchoring receipt is missing a field or has a bad "
                              "value", field="paper_receipt") from exc
    paper = paper_payload.decode_qr_text(text)
    # the page prints the digital form; its QR must be that form's own twin, signed by us
    if paper.cti != sdjwt.credential_hash(cred.sd_jwt)[:8] or not paper_payload.verify_paper_signature(
            paper, own_public_key(paper.kid)):
        raise CredentialError(ReasonCode.DISCLOSURE_MISMATCH, "the paper form is not this credential's twin")
    chain = identity.chain
    if not chain and require_signed:
        raise ConfigError(ReasonCode.PDF_SIGNING_UNAVAILABLE, "the home has no certificate for its key: "
                         "a signed PDF cannot be made (civiccert pki issue-leaf / pki import)")
    if chain and len(paper.kid) == CERT_KID_CHARS and b64url_encode(cert_kid(chain[0])) != paper.kid:
        raise ConfigError(ReasonCode.PDF_SIGNING_UNAVAILABLE, "the QR names a certificate that is no longer "
                         "the home's: issue the credential again to print it signed", field="kid")
    from civiccert.issuance.certifier import certifier_of

    data = render_pdf_bytes(cred.vct, claims, text, sample=config.sample, certifier=certifier_of(home, config))
    if chain:
        from civiccert.paper.pdfsig import sign_pdf

        data = sign_pdf(data, key, chain, location=config.municipality_name)
    write_atomic(out, data)
    return out
