"""A holder's presentation: chosen claims of a credential, its receipt, optionally bound to the holder's key.

The receipt travels with the presentation (it holds hashes only) so that a verifier can check the anchor of
a presentation just as of the full credential; the paper twin does not (it discloses everything).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from civiccert.credential_file import CredentialFile
from civiccert.credentials import sdjwt
from civiccert.credentials.keys import IssuerKey, jwk_thumbprint
from civiccert.errors import CredentialError, ReasonCode

__all__ = ["present"]


def present(
    credential: CredentialFile,
    disclose: Iterable[str],
    *,
    holder_key: IssuerKey | None = None,
    aud: str | None = None,
    nonce: str | None = None,
) -> CredentialFile:
    """Reveal only ``disclose`` (paths like ``members[0].name``, ``household.address``, ``*``).

    With ``holder_key``, the credential must be bound to that key (``cnf``): a key-binding JWT for any other
    credential would be refused by every verifier, so it is refused here (CredentialError).
    """
    if holder_key is not None:
        _check_holder_key(sdjwt.unverified_payload(credential.sd_jwt), holder_key)
    token = sdjwt.present(credential.sd_jwt, list(disclose), holder_key=holder_key, aud=aud, nonce=nonce)
    return replace(credential, sd_jwt=token, paper_cose=None, paper_receipt=None, presentation=True)


def _check_holder_key(payload: Any, holder_key: IssuerKey) -> None:
    cnf = payload.get("cnf") if isinstance(payload, dict) else None
    jwk = cnf.get("jwk") if isinstance(cnf, dict) else None
    if not isinstance(jwk, dict):
        raise CredentialError(ReasonCode.HOLDER_BINDING_MISSING, "the credential is not bound to a holder key "
                              "(no cnf): present it without key binding", field="cnf")
    if jwk_thumbprint(jwk) != holder_key.kid:
        raise CredentialError(ReasonCode.HOLDER_BINDING_FAILED, "the holder key is not the key this credential "
                              "is bound to", field="cnf.jwk")
