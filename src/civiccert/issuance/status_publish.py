"""Publishing an issuer's status lists: sign them all with the manifest, keep them, anchor the manifest."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from civiccert.chain.registry import Registry
from civiccert.credentials.signatures import Signer
from civiccert.errors import ChainError, ReasonCode
from civiccert.status.publish import MANIFEST_NAME, Publication, sign_publication
from civiccert.status.store import StatusStore

__all__ = ["publish_status_lists"]


def publish_status_lists(
    store: StatusStore,
    key: Signer,
    out: Path | None,
    *,
    municipality: str,
    iss: str,
    current_uri: str,
    now: int,
    valid_seconds: int,
    ttl: int,
    registry: Callable[[], Registry] | None,
) -> tuple[Publication, ReasonCode | None]:
    """``Issuer.publish_status``: ``registry`` (None: do not anchor) gives the registry the root goes to."""
    uris = sorted({*store.uris(), current_uri})
    lists = [(uri, store.build(uri)) for uri in uris]
    publication = sign_publication(lists, key, municipality=municipality, iss=iss, seq=store.next_seq(),
                                   now=now, valid_seconds=valid_seconds, ttl=ttl)
    record = store.add_publication(publication.manifest, publication.root, at=now,
                                   files={**publication.files, MANIFEST_NAME: publication.manifest})
    if out is not None:
        publication.write(out)
    if registry is None:
        return publication, None
    try:
        outcome = registry().publish_status_lists(publication.root)
    except ChainError as exc:
        store.mark_publication(record.seq, error=exc.code)
        return publication, exc.code
    store.mark_publication(record.seq, tx_hash=bytes.fromhex(outcome.tx_hash.removeprefix("0x")),
                           block_number=outcome.block_number)
    return publication, None
