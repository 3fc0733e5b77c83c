"""The verifier's status decision for one credential: which list, is it the issuer's, current, anchored.

Outcomes (the REVOCATION check):
- PASSED ``ok``: the issuer's list, signed by a key its trust sources vouch for, not past ``exp``, and (online)
  the latest anchored publication, says VALID (0x00). The detail says how old the list is.
- FAILED: the list says INVALID (``revoked``), SUSPENDED (``suspended``) or superseded (``superseded``), or
  the credential's index is beyond the issuer's own list (``status_index_out_of_range``).
- UNKNOWN (so INDETERMINATE, never VALID): no list (``status_list_unavailable``), a list past ``exp``
  (``status_list_expired``), for another URI (``status_list_sub_mismatch``), not signed by the issuer
  (``issuer_mismatch``, ``key_unknown``, ``signature_invalid``), a list the chain shows was replaced by a later
  publication (``status_list_rolled_back``) or never anchored at all, a fork included (``status_list_unanchored``).
  A list that cannot be trusted says nothing either way: whoever serves it must not be able to revoke.

With ``at`` ("was it valid then", ``civiccert verify --at``), the list is the one from the publication the
chain's history (``StatusListsPublished`` events) shows as the latest anchored at that time, taken from the
lists at hand (a directory keeping every publication); ``exp`` is judged at that time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from civiccert.errors import ChainError, CivicCertError, CredentialError, ReasonCode
from civiccert.status.bits import Status
from civiccert.status.source import StatusListSource
from civiccert.status.token import verify_token
from civiccert.verification.result import Outcome

__all__ = ["evaluate_status"]

_ISSUER_PREFIX = "urn:civiccert:lg:"
_FAILED = {Status.INVALID: ReasonCode.REVOKED, Status.SUSPENDED: ReasonCode.SUSPENDED,
           Status.SUPERSEDED: ReasonCode.SUPERSEDED}


class _Roots(Protocol):
    def status_lists_root(self, code: str) -> bytes | None: ...

    def status_lists_history(self, code: str) -> list[tuple[bytes, int]]: ...


def _reference(ref: object) -> tuple[int, str] | None:
    inner = ref.get("status_list") if isinstance(ref, Mapping) else None
    if not isinstance(inner, Mapping):
        return None
    idx, uri = inner.get("idx"), inner.get("uri")
    if type(idx) is not int or idx < 0 or not isinstance(uri, str) or not uri:
        return None
    return idx, uri


def evaluate_status(
    ref: object,
    source: StatusListSource,
    *,
    issuer_code: str,
    public_key: Callable[[str | None, str], Any],
    now: int,
    skew: int,
    registry: Any = None,
    at: int | None = None,
    batch: dict[tuple[str, str, bytes, int], tuple[Any, ReasonCode | None]] | None = None,
) -> tuple[Outcome, ReasonCode, str]:
    """(outcome, reason, detail) for a credential's signed ``status`` claim; with ``at``, the status then.

    ``batch``: one dict per bulk run, in which the chain's answer about a list's anchoring is kept, so that
    the many credentials on one list ask the node once (the run judges every list at the same chain state)."""
    parsed = _reference(ref)
    if parsed is None:
        return Outcome.FAILED, ReasonCode.MALFORMED, "status claim is not {status_list: {idx, uri}}"
    idx, uri = parsed
    try:
        if at is None:
            token, manifest, origin = source.get(uri)
        else:
            token, manifest, origin = _current_at(source, uri, at, registry, issuer_code)
            now = at  # expiry is judged at that time; the anchoring was checked by the choice
    except CivicCertError as exc:
        return Outcome.UNKNOWN, exc.code, "the status list could not be obtained"
    if token.sub != uri:
        return Outcome.UNKNOWN, ReasonCode.STATUS_LIST_SUB_MISMATCH, "the list is for another uri"
    if token.iss is not None and token.iss != _ISSUER_PREFIX + issuer_code:
        return Outcome.UNKNOWN, ReasonCode.ISSUER_MISMATCH, "the list was issued by another municipality"
    try:
        key = public_key(token.kid, issuer_code)
    except ChainError as exc:
        return Outcome.UNKNOWN, exc.code, "the list's key could not be read from the chain"
    if key is None:
        return Outcome.UNKNOWN, ReasonCode.KEY_UNKNOWN, "the list is not signed by a key of the issuer"
    verified_by = source.verified.setdefault(token.sha256, [])  # one verification per list and key, not
    if not any(known is key for known in verified_by):  # per credential in a bulk run
        try:
            verify_token(token, key)
        except CivicCertError as exc:
            return Outcome.UNKNOWN, exc.code, "the list's signature does not verify"
        verified_by.append(key)
    if token.exp is not None and token.exp <= now - skew:
        return Outcome.UNKNOWN, ReasonCode.STATUS_LIST_EXPIRED, f"list expired {now - token.exp} s ago"
    anchored = ""
    if at is not None:
        anchored = ", anchored as current then" if registry is not None else ", the newest then among the files"
    elif registry is not None:
        memo_key = (issuer_code, uri, token.sha256, id(manifest))
        kept = batch.get(memo_key) if batch is not None else None
        if kept is not None and kept[0] is manifest:  # the manifest is held in the memo: its id is its own
            verdict = kept[1]
        else:
            verdict = _anchoring(registry, issuer_code, uri, token.sha256, manifest)
            if batch is not None:
                batch[memo_key] = (manifest, verdict)
        if verdict is not None:
            return Outcome.UNKNOWN, verdict, "the list is not the latest anchored publication"
        anchored = ", latest anchored"
    try:
        value = token.status(idx)
    except CivicCertError as exc:
        return Outcome.FAILED, exc.code, "the credential's index is beyond the issuer's list"
    detail = f"status list ({origin}{anchored}), {max(0, now - token.iat)} s old"
    try:
        status = Status(value)
    except ValueError:
        return Outcome.FAILED, ReasonCode.MALFORMED, f"unknown status 0x{value:02x}"
    if status is Status.VALID:
        return Outcome.PASSED, ReasonCode.OK, detail
    return Outcome.FAILED, _FAILED[status], detail


def _anchoring(registry: Any, code: str, uri: str, token_hash: bytes, manifest: Any) -> ReasonCode | None:
    """None when the list is in the municipality's latest anchored publication; else why not."""
    if manifest is None or not manifest.covers(uri, token_hash) or manifest.municipality != code:
        return ReasonCode.STATUS_LIST_UNANCHORED
    try:
        chain = registry.registry
        latest = chain.status_lists_root(code)
        if latest == manifest.root:
            return None
        history = {root for root, _ in chain.status_lists_history(code)}
    except ChainError as exc:
        return exc.code
    except Exception:  # a misbehaving node: unknown, never a crash
        return ReasonCode.CHAIN_UNREACHABLE
    return ReasonCode.STATUS_LIST_ROLLED_BACK if manifest.root in history else ReasonCode.STATUS_LIST_UNANCHORED


def _current_at(source: StatusListSource, uri: str, at: int, registry: Any, code: str) -> tuple[Any, Any, str]:
    """The list that was current at ``at``. Online: the one in the publication the chain's history shows as
    the latest anchored at that time (any other is a fork or was not yet public). Offline: the newest list at
    hand issued by then (nothing proves it was the one published; the detail says so)."""
    candidates = source.history(uri)
    if registry is None:
        issued = [c for c in candidates if c[0].iat <= at]
        if not issued:
            raise CredentialError(ReasonCode.STATUS_LIST_UNAVAILABLE, "no list issued by that time is at hand")
        return max(issued, key=lambda c: c[0].iat)
    try:
        history = registry.registry.status_lists_history(code)
    except ChainError:
        raise
    except Exception as exc:  # a misbehaving node: unknown, never a crash
        raise ChainError(ReasonCode.CHAIN_UNREACHABLE, "the publication history could not be read") from exc
    roots = [root for root, anchored_at in history if anchored_at <= at]
    if not roots:
        raise CredentialError(ReasonCode.STATUS_LIST_UNANCHORED, "nothing was anchored by that time")
    for token, manifest, origin in candidates:
        if manifest is not None and manifest.root == roots[-1] and manifest.covers(uri, token.sha256):
            return token, manifest, origin
    raise CredentialError(ReasonCode.STATUS_LIST_UNAVAILABLE, "the publication current at that time is not at hand")
