"""A record signed in both forms (the issue path's per-record result) and its journaling, twins linked.

Kept apart from the Issuer so the per-record objects are made as cheaply as the hot path needs: a tuple and
a credential file built without a frozen ``__setattr__`` per field.
"""

from __future__ import annotations

from typing import NamedTuple

from civiccert._frozen import frozen_builder
from civiccert.credential_file import CredentialFile
from civiccert.issuance.journal import CredentialEntry, CredentialKind, Journal, new_credential_ids

__all__ = ["Signed", "journal_signed", "signed_file"]


class Signed(NamedTuple):
    """One record signed in both forms, not yet journaled."""

    file: CredentialFile
    digital_hash: bytes
    paper_hash: bytes | None


_credential_file = frozen_builder(CredentialFile)


def signed_file(cred_id: str, vct: str, token: str, cose: bytes | None) -> CredentialFile:
    """``CredentialFile(id=…, vct=…, sd_jwt=…, paper_cose=…)`` as issued: no receipts yet, not a presentation."""
    return _credential_file(id=cred_id, vct=vct, sd_jwt=token, paper_cose=cose, receipt=None, paper_receipt=None,
                            presentation=False)


def journal_signed(journal: Journal, signed: list[Signed]) -> None:
    """Journal each digital credential and its paper twin (a fresh id each, linked both ways) in one durable call."""
    entries: list[CredentialEntry] = []
    paper_ids = iter(new_credential_ids(sum(item.paper_hash is not None for item in signed)))
    for item in signed:
        paper_id = next(paper_ids) if item.paper_hash is not None else None
        entries.append(CredentialEntry(item.file.id, item.digital_hash, CredentialKind.DIGITAL, paper_id))
        if item.paper_hash is not None and paper_id is not None:
            entries.append(CredentialEntry(paper_id, item.paper_hash, CredentialKind.PAPER, item.file.id))
    journal.add_credentials(entries)
