"""Verifier: every check with its reason, for credentials, presentations and printed copies.

Trust comes from three places, never from the credential itself: a trust snapshot (offline: a municipality's
published keys or a registry snapshot), the registry contract (online), and X.509 trust anchors the verifier
chose, to which a credential's ``x5c`` chain must lead (civiccert.pki; the registry, when it speaks for the
city, must still list the certified key). A public key carried in a
credential header is used only after its RFC 7638 thumbprint matched a key that one of those trusts.

The verifier never says VALID when it could not make a check that the policy asked for: that check is
UNKNOWN and the verdict INDETERMINATE. A node that is down never turns a genuine credential INVALID.

The work is split by job: :mod:`.local` (per-format local checks), :mod:`.keys` (key resolution),
:mod:`.checks` (issuer, anchor, revocation), :mod:`.pages` (a printed copy against its page), :mod:`.draft`
(the result under construction); this module holds the entry points.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from civiccert.credential_file import CredentialFile
from civiccert.credentials.claims import VCT_SEAL_CERTIFICATE
from civiccert.credentials.jose import DeferredSignature, check_deferred
from civiccert.errors import ConfigError, ReasonCode
from civiccert.inputs import InputItem, read_inputs
from civiccert.pki.validate import TrustAnchors
from civiccert.status.source import StatusListSource
from civiccert.verification.checks import TrustChecks
from civiccert.verification.draft import Draft
from civiccert.verification.local import LocalChecks
from civiccert.verification.online import OnlineRegistry
from civiccert.verification.pages import bind_to_page, check_page, check_photo_seal
from civiccert.verification.policy import Policy
from civiccert.verification.result import CheckName, VerificationResult
from civiccert.verification.trust import TrustSnapshot
from civiccert.verification.trust_signed import check_signers

__all__ = ["Policy", "Verifier"]


class Verifier(LocalChecks, TrustChecks):
    """Verifies credential files, SD-JWT presentations and printed-copy QR texts.

    ``trust`` is an offline snapshot; ``registry`` makes the verifier online (anchor, revocation, key
    registry). With neither, signatures can be checked but issuers cannot be trusted: INDETERMINATE.
    """

    def __init__(
        self,
        *,
        trust: TrustSnapshot | None = None,
        registry: OnlineRegistry | None = None,
        policy: Policy | None = None,
        clock: Callable[[], float] = time.time,
        status_lists: StatusListSource | None = None,
        trust_anchors: TrustAnchors | None = None,
    ) -> None:
        self._status_lists = status_lists
        if trust is not None and registry is not None:
            _check_pinned(trust, registry)
        if trust is not None and trust_anchors is not None:
            check_signers(trust, trust_anchors)  # with anchors, a municipal export must carry a certified signature
        self._trust = trust
        self._registry = registry
        self._policy = policy or Policy()
        self._clock = clock
        self._public_keys = {}  # kid -> (jwk, parsed key): parse once
        self._jwk_by_kid = None  # the snapshot's key material by kid
        self._anchors = trust_anchors  # X.509 roots for credentials carrying x5c (civiccert.pki)

    @property
    def online(self) -> bool:
        return self._registry is not None

    # --- entry points ----------------------------------------------------------------------------------
    def verify(self, data: str | bytes | CredentialFile, *, source: str | None = None) -> VerificationResult:
        """Verify one input: a credential file (JSON), a compact SD-JWT (presentation) or a QR text."""
        return self.verify_many([data], sources=[source])[0]

    def verify_many(
        self, items: Sequence[str | bytes | CredentialFile], *, sources: Sequence[str | None] | None = None
    ) -> list[VerificationResult]:
        """Verify many inputs; online lookups for all of them go to the node in one JSON-RPC batch."""
        srcs: list[str | None] = list(sources) if sources is not None else [None] * len(items)
        with _collector_paused(len(items)):
            drafts = self._local_many(items, srcs)
            self._chain_checks(drafts)
            self._status_checks(drafts)
            return [d.freeze() for d in drafts]

    def _local_many(self, items: Sequence[str | bytes | CredentialFile], sources: list[str | None]) -> list[Draft]:
        """The local checks of every item, the issuer signatures checked one after another at the end (the curve
        code and tables stay in cache: a few % of a bulk run). A draft whose signature fails is discarded and
        its item checked again with the signature in place, so every verdict is the one-by-one verdict."""
        drafts: list[Draft] = []
        pending: list[tuple[int, DeferredSignature]] = []
        deferred: list[DeferredSignature] = []
        for index, (item, source) in enumerate(zip(items, sources, strict=True)):
            drafts.append(self._local(item, source, deferred))
            if deferred:
                pending.extend((index, check) for check in deferred)
                deferred.clear()
        for index, check in pending:
            if not check_deferred(check):
                drafts[index] = self._local(items[index], sources[index])  # the signature checked in place
        return drafts

    def verify_path(self, path: Path) -> list[VerificationResult]:
        """A credential file, a presentation file, or a photo / scan / PDF of a printed copy."""
        return self.verify_items(read_inputs(path))

    def verify_items(self, items: Sequence[InputItem]) -> list[VerificationResult]:
        """Verify what ``read_inputs`` found; a printed copy's QR must also belong to its PDF page."""
        with _collector_paused(len(items)):
            drafts = [self._local(item.text, item.source) for item in items]
        pdf_signatures: dict[Path, Any] = {}  # one validation per PDF file, however many QR codes it holds
        for draft, item in zip(drafts, items, strict=True):
            if item.page_text is not None and draft.form == "paper":
                bind_to_page(draft, item.page_text)
            if item.pdf is not None and draft.form == "paper" and not draft.failed():
                check_page(draft, item.pdf, item.page)
            elif item.photo is not None and draft.vct == VCT_SEAL_CERTIFICATE and not draft.failed():
                check_photo_seal(draft, item)
            if item.pdf is not None and draft.form == "paper" and CheckName.SIGNATURE in draft.checks:
                from civiccert.paper.pdfsig import pdf_signature_check  # pyHanko only for PDFs

                draft.set(CheckName.PDF_SIGNATURE, *pdf_signature_check(
                    item, at=draft.issued_at, trust=self._trust, anchors=self._anchors, code=draft.issuer_code,
                    cache=pdf_signatures))
        self._chain_checks(drafts)
        self._status_checks(drafts)
        return [d.freeze() for d in drafts]


_PAUSE_LOCK = threading.Lock()
_pausing = 0  # bulk verifications under way that paused the cyclic collector
_BULK = 16  # fewer items: not worth touching the collector


@contextmanager
def _collector_paused(count: int) -> Iterator[None]:
    """The cyclic garbage collector paused for a bulk verification, then restored (it was on before).

    A bulk run allocates many short-lived dicts and lists (parsed payloads, claims, checks) and frees them by
    reference counting; each collection it triggers also walks everything the caller keeps alive (the inputs,
    the results so far), which grows with the batch. Nothing here needs the collector: the cycles a rejected
    input leaves (an exception and its traceback) are collected when it is back on. Nested and concurrent
    bulk runs share one pause (counted), so the collector comes back when the last one ends.
    """
    global _pausing  # noqa: PLW0603 - one process-wide collector
    if count < _BULK:
        yield
        return
    with _PAUSE_LOCK:
        if _pausing == 0 and not gc.isenabled():
            paused = False  # the application turned it off itself: leave it off
        else:
            paused = True
            _pausing += 1
            gc.disable()
    try:
        yield
    finally:
        if paused:
            with _PAUSE_LOCK:
                _pausing -= 1
                if _pausing == 0:
                    gc.enable()


def _check_pinned(trust: TrustSnapshot, registry: OnlineRegistry) -> None:
    """A registry snapshot pins the registry: pointing the verifier at another contract (one an attacker
    deployed and registered a city in) is a configuration error, never a source of trust."""
    if trust.registry and trust.registry.lower() != registry.configured_address.lower():
        raise ConfigError(ReasonCode.REGISTRY_MISMATCH, "the registry differs from the trust snapshot's registry",
                          field="registry")

