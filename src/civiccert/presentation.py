"""A holder's presentation: chosen claims of a credential, its receipt, optionally bound to the holder's key.

The receipt travels with the presentation (it holds hashes only) so that a verifier can check the anchor of
a presentation just as of the full credential; the paper twin does not (it discloses everything).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from civiccert.credential_file import CredentialFile
from civiccert.credentials import sdjwt
from civiccert.credentials.keys import IssuerKey

__all__ = ["present"]


def present(
    credential: CredentialFile,
    disclose: Iterable[str],
    *,
    holder_key: IssuerKey | None = None,
    aud: str | None = None,
    nonce: str | None = None,
) -> CredentialFile:
    """Reveal only ``disclose`` (paths like ``members[0].name``, ``household.address``, ``*``)."""
    token = sdjwt.present(credential.sd_jwt, list(disclose), holder_key=holder_key, aud=aud, nonce=nonce)
    return replace(credential, sd_jwt=token, paper_cose=None, paper_receipt=None, presentation=True)
