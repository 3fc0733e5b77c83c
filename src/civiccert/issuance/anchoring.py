"""Anchorer: batches journaled credentials into Merkle roots, anchors them, resumes and reconciles.

    anchorer = Anchorer(journal, registry, max_batch=10_000, max_age_seconds=600)
    anchorer.flush()              # cut due batches, sign, journal, send, wait briefly: list[BatchOutcome]
    anchorer.resume()             # after a crash: settle every open batch (re-broadcast the SAME raw tx)
    anchorer.reconcile()          # after a reorg: re-anchor batches whose anchor disappeared
    anchorer.receipt(cid)         # the DESIGN.md receipt JSON once its batch is anchored, else None

Crash safety is the journal's outbox order, never an in-memory promise:

  1. ``create_batch`` journals the batch with its root (credentials pending → batched) before any signing;
  2. the anchoring transaction is signed and journaled (``mark_sent``) BEFORE it is broadcast;
  3. the batch is marked anchored only after the receipt has the configured confirmations.

A crash between any two steps leaves a journal state from which ``resume`` finishes the work: a ``sent``
batch is looked up by its transaction hash and otherwise re-broadcast byte for byte, so the same
transaction (same nonce) is what gets mined. A root is never anchored twice: anchors live in the operator's
municipality's namespace, the contract rejects a second anchor of a root there
(``RegistryRootAlreadyAnchored``), and when it does, the Anchorer reads ``registry.root(own code, root)``
and adopts that anchor (block, time and transaction taken from the chain and its ``BatchAnchored`` event).
Another municipality anchoring the same root (e.g. front-running it from the mempool) writes only into its
own namespace and never affects ours.

A node outage never raises out of ``flush``/``resume``/``reconcile``: the failure's reason code (never a
message) is journaled with an exponential, capped backoff, the credentials stay batched, and
:meth:`Anchorer.status` shows it. Only journal failures (``JournalError``) and programming errors raise.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from civiccert.chain.merkle import MerkleTree
from civiccert.chain.registry import Registry, RootInfo, SignedTx, TxOutcome
from civiccert.errors import ChainError, JournalError, ReasonCode, RegistryError
from civiccert.issuance.journal import (
    BatchRecord,
    BatchState,
    CredentialKind,
    Journal,
    RevocationRecord,
    RevocationState,
)

__all__ = ["RECEIPT_VERSION", "Anchorer", "BatchOutcome", "Progress", "RevocationOutcome", "journal_status"]

RECEIPT_VERSION = 1
Progress = Callable[[int, int], None]
"""Called as ``progress(done, total)`` with credential counts while a flush/resume works through batches."""

#: a node that does not answer, or answers too slowly or too much: the next batch would fare no better
_NODE_DOWN = frozenset({ReasonCode.CHAIN_UNREACHABLE, ReasonCode.CHAIN_TIMEOUT, ReasonCode.CHAIN_RESPONSE_TOO_LARGE})
_TREE_CACHE = 4  # batches whose trees are kept for receipts (a 100k tree is ~13 MB)


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """What one batch did in this call.

    ``error`` is the reason code of this attempt's failure (None when it progressed or is merely waiting
    for its receipt); ``next_attempt_at`` says when a failed batch is tried again.
    """

    batch_id: int
    root: bytes
    size: int
    state: BatchState
    tx_hash: str | None
    block_number: int | None
    error: ReasonCode | None = None
    next_attempt_at: float | None = None
    gas_used: int | None = None


@dataclass(frozen=True, slots=True)
class RevocationOutcome:
    """What one revocation request did in this call (``error`` as in :class:`BatchOutcome`)."""

    revocation_id: int
    credential_ids: tuple[str, ...]
    state: RevocationState
    tx_hash: str | None
    error: ReasonCode | None = None
    next_attempt_at: float | None = None


class Anchorer:
    """Moves journaled credentials onto the chain in Merkle batches; safe to call again after any crash.

    ``max_batch`` caps a batch's size; a batch is cut when that many credentials are pending or the oldest
    has waited ``max_age_seconds`` (or always with ``force``). ``confirmations`` blocks must follow the
    anchoring block before a batch counts as anchored. ``receipt_timeout`` bounds each short wait for a
    receipt; a batch not mined by then stays ``sent`` and is settled by the next call. Failures back off
    exponentially from ``backoff_base`` up to ``backoff_cap`` seconds. ``reorg_window`` blocks below the
    head are re-checked by :meth:`reconcile`. ``clock`` is the time source (unix seconds).
    """

    def __init__(
        self,
        journal: Journal,
        registry: Registry,
        *,
        max_batch: int = 10_000,
        max_paper_batch: int | None = None,
        max_age_seconds: float = 600.0,
        confirmations: int = 0,
        receipt_timeout: float = 5.0,
        backoff_base: float = 2.0,
        backoff_cap: float = 300.0,
        reorg_window: int = 128,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not 0 < max_batch < 2**32:
            raise ValueError("max_batch must be within 1..2**32-1")
        if max_age_seconds < 0 or confirmations < 0 or receipt_timeout < 0 or reorg_window < 0:
            raise ValueError("ages, confirmations, timeouts and windows must not be negative")
        if registry.account is None:
            raise ValueError("the registry client needs the operator account that signs anchors")
        self._journal = journal
        self._registry = registry
        self._max_batch = max_batch
        # printed copies carry their inclusion proof in a QR: small batches of their own keep it short
        # (32 bytes per doubling); None batches paper and digital forms together
        if max_paper_batch is not None and not 0 < max_paper_batch < 2**32:
            raise ValueError("max_paper_batch must be within 1..2**32-1")
        self._max_paper_batch = max_paper_batch
        self._max_age = max_age_seconds
        self._confirmations = confirmations
        self._receipt_timeout = receipt_timeout
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._reorg_window = reorg_window
        self._clock = clock
        self._lock = threading.RLock()
        self._trees: OrderedDict[int, MerkleTree] = OrderedDict()
        self._municipality: int | None = None

    # --- public API ------------------------------------------------------------------------------------

    def flush(self, force: bool = False, *, progress: Progress | None = None) -> list[BatchOutcome]:
        """Cut due batches from pending credentials and drive every open batch that is due.

        With ``force``, pending credentials are batched now (however few or young) and backoff is
        ignored. Returns one outcome per batch touched; never raises for a node outage.
        """
        with self._lock:
            self._cut_batches(force)
            return self._drive_open(ignore_backoff=force, progress=progress)

    def resume(self, *, progress: Progress | None = None) -> list[BatchOutcome]:
        """Settle every open batch and revocation now (after a crash or a node restart), ignoring backoff.

        A ``sent`` batch is looked up by its journaled transaction; if not mined, the SAME signed
        transaction is broadcast again. Does not cut new batches (that is ``flush``).
        """
        with self._lock:
            outcomes = self._drive_open(ignore_backoff=True, progress=progress)
            self._drive_revocations(ignore_backoff=True)
            return outcomes

    def reconcile(self, *, window_blocks: int | None = None, resend: bool = True) -> list[BatchOutcome]:
        """Re-check anchored batches in the last ``window_blocks`` blocks against the chain (reorgs).

        A batch whose root is no longer on chain goes back to ``sent`` and its journaled transaction is
        broadcast again (re-signed if its nonce was taken meanwhile); one whose anchor moved to another
        block gets the new block. With ``resend`` False nothing is sent: such batches are only journaled
        as ``sent`` again, and the next ``resume``/``flush`` settles them (a check that must not transact,
        e.g. at node start-up). Returns the outcomes of the batches that changed; when the node is
        unreachable, what could not be checked waits for the next call (never an exception).
        """
        window = self._reorg_window if window_blocks is None else window_blocks
        with self._lock:
            try:
                head = self._registry.chain.block_number()
            except ChainError:
                return []
            changed: list[BatchOutcome] = []
            for batch in self._journal.batches(BatchState.ANCHORED, anchored_since_block=max(0, head - window)):
                try:
                    info = self._registry.root(self._own_municipality(), batch.root)
                    moved = info is not None and self._block_hash(info.block_number) != batch.block_hash
                except ChainError as exc:
                    changed.append(_outcome(batch, error=exc.code))
                    break  # the node is gone: the next reconcile looks again
                if info is not None and not moved:
                    continue
                reopened = self._journal.mark_unanchored(batch.batch_id)
                changed.append(self._drive(reopened) if resend else _outcome(reopened))
            return changed

    def receipt(self, credential_id: str) -> dict[str, Any] | None:
        """The receipt of an anchored credential (DESIGN.md shape), None while its batch is not anchored.

        ``JournalError(CREDENTIAL_UNKNOWN)`` for an id the journal does not hold.
        """
        inputs = self._journal.receipt_inputs(credential_id)
        batch = inputs.batch
        if batch is None or batch.state is not BatchState.ANCHORED or inputs.credential.leaf_index is None:
            return None
        tree = self._tree(batch)
        index = inputs.credential.leaf_index
        return self._receipt_dict(batch, index, tree.proof(index))

    def receipts(self, batch_id: int) -> dict[str, dict[str, Any]]:
        """Receipts of every credential of an anchored batch, by credential id ({} when not anchored)."""
        batch = self._journal.batch(batch_id)
        if batch.state is not BatchState.ANCHORED:
            return {}
        tree = self._tree(batch)
        ids = self._journal.batch_credential_ids(batch_id)
        return {
            cid: self._receipt_dict(batch, index, proof)
            for index, (cid, proof) in enumerate(zip(ids, tree.proofs(), strict=True))
        }

    def revoke(self, credential_ids: Sequence[str], reason: int) -> RevocationOutcome | None:
        """Journal a revocation of the credentials and their twins, then send it; None if all were requested.

        Never raises for a node outage: the request stays journaled and ``resume``/``flush`` retries it.
        """
        with self._lock:
            record = self._journal.add_revocation(credential_ids, reason, at=self._clock())
            if record is None:
                return None
            return self._drive_revocation(record)

    def status(self) -> dict[str, Any]:
        """Credential counts by state plus the open batches' last error code and next attempt time."""
        return journal_status(self._journal)

    # --- batching ----------------------------------------------------------------------------------------

    def _cut_batches(self, force: bool) -> None:
        if self._max_paper_batch is None:
            self._cut(None, self._max_batch, force)
        else:
            self._cut(CredentialKind.DIGITAL, self._max_batch, force)
            self._cut(CredentialKind.PAPER, self._max_paper_batch, force)

    def _cut(self, kind: CredentialKind | None, cap: int, force: bool) -> None:
        """Cut due batches of at most ``cap`` pending credentials (of ``kind``, when given)."""
        while True:
            oldest = self._journal.oldest_pending_at(kind)
            if oldest is None:
                return
            pending = self._journal.pending(cap, kind)
            due = force or len(pending) >= cap or self._clock() - oldest >= self._max_age
            if not due or not pending:
                return
            tree = MerkleTree([c.credential_hash for c in pending])
            try:
                batch = self._journal.create_batch([c.credential_id for c in pending], tree.root, at=self._clock())
            except JournalError as exc:
                if exc.code is ReasonCode.JOURNAL_CONFLICT:
                    continue  # another worker batched some of them first; look again
                raise
            self._remember(batch.batch_id, tree)

    def _drive_open(self, *, ignore_backoff: bool, progress: Progress | None) -> list[BatchOutcome]:
        # sent first: re-broadcasting journaled transactions before signing new ones keeps nonces in order
        open_batches = self._journal.batches(BatchState.SENT) + self._journal.batches(BatchState.BUILT)
        total = sum(b.size for b in open_batches)
        done = 0
        outcomes: list[BatchOutcome] = []
        outage: ReasonCode | None = None
        now = self._clock()
        for batch in open_batches:
            if outage is not None:
                outcomes.append(self._defer(batch, outage))
            elif not ignore_backoff and batch.next_attempt_at is not None and batch.next_attempt_at > now:
                outcomes.append(_outcome(batch, error=batch.last_error))
            else:
                outcome = self._drive(batch)
                outcomes.append(outcome)
                if outcome.error in _NODE_DOWN:
                    outage = outcome.error  # no point in waiting for the same dead node per batch
            if outcomes[-1].state is BatchState.ANCHORED:
                done += batch.size
            if progress is not None:
                progress(done, total)
        if outage is None:
            self._drive_revocations(ignore_backoff=ignore_backoff)
        return outcomes

    # --- one batch ---------------------------------------------------------------------------------------

    def _drive(self, batch: BatchRecord) -> BatchOutcome:
        """One step forward for one batch; chain failures become a journaled retry, never an exception."""
        try:
            return self._step(batch)
        except ChainError as exc:  # includes RegistryError: unauthorized, suspended, ...
            return self._defer(self._journal.batch(batch.batch_id), exc.code)
        except JournalError as exc:
            if exc.code is not ReasonCode.JOURNAL_CONFLICT:
                raise
            return _outcome(self._journal.batch(batch.batch_id))  # another worker moved it first

    def _step(self, batch: BatchRecord) -> BatchOutcome:
        try:
            if batch.state is BatchState.SENT:
                return self._settle_sent(batch)
            return self._sign_and_send(batch, nonce=None, resigned=False)
        except RegistryError as exc:
            if exc.code is not ReasonCode.ROOT_ALREADY_ANCHORED:
                raise
            return self._adopt_or_defer(self._journal.batch(batch.batch_id))

    def _sign_and_send(self, batch: BatchRecord, *, nonce: int | None, resigned: bool) -> BatchOutcome:
        signed = self._registry.build_anchor(batch.root, batch.size, nonce=nonce)
        sent = self._journal.mark_sent(batch.batch_id, signed.raw, _hash_bytes(signed.hash), signed.nonce)
        return self._broadcast_and_wait(sent, signed, resigned=resigned)

    def _settle_sent(self, batch: BatchRecord) -> BatchOutcome:
        signed = self._signed(batch)
        mined = self._registry.wait_for_receipt(signed.hash, confirmations=0, timeout=0)
        if mined is None:
            return self._broadcast_and_wait(batch, signed, resigned=False)
        if not self._confirmations:
            return self._finish(batch, mined)
        # mined: never re-broadcast, only wait (briefly) for the confirmations
        confirmed = self._registry.wait_for_receipt(
            signed.hash, confirmations=self._confirmations, timeout=self._receipt_timeout
        )
        return _outcome(batch) if confirmed is None else self._finish(batch, confirmed)

    def _broadcast_and_wait(self, batch: BatchRecord, signed: SignedTx, *, resigned: bool) -> BatchOutcome:
        try:
            self._registry.send_raw(signed)
        except ChainError as exc:
            if exc.code is not ReasonCode.TRANSACTION_FAILED:
                raise
            return self._rejected(batch, signed, resigned=resigned)
        outcome = self._registry.wait_for_receipt(
            signed.hash, confirmations=self._confirmations, timeout=self._receipt_timeout
        )
        if outcome is None:
            return _outcome(batch)  # not mined (or not confirmed) yet: the next call settles it
        return self._finish(batch, outcome)

    def _finish(self, batch: BatchRecord, outcome: TxOutcome) -> BatchOutcome:
        if not outcome.success:
            # reverted on chain: typically the root was anchored meanwhile (by our own earlier tx)
            info = self._registry.root(self._own_municipality(), batch.root)
            if info is not None:
                return self._adopt_or_defer(batch, info)
            assert batch.tx_hash is not None
            rebuilt = self._journal.mark_unsent(batch.batch_id, batch.tx_hash)
            return self._defer(rebuilt, ReasonCode.TRANSACTION_FAILED)
        anchored = self._journal.mark_anchored(
            batch.batch_id,
            block_number=outcome.block_number,
            block_hash=_hash_bytes(outcome.block_hash),
            anchored_at=outcome.block_timestamp,
            tx_hash=_hash_bytes(outcome.tx_hash),
        )
        return _outcome(anchored, gas_used=outcome.gas_used)

    def _rejected(self, batch: BatchRecord, signed: SignedTx, *, resigned: bool) -> BatchOutcome:
        """The node refuses the journaled transaction and does not know it: was it overtaken?"""
        info = self._registry.root(self._own_municipality(), batch.root)
        if info is not None:
            return self._adopt_or_defer(batch, info)
        if resigned:
            return self._defer(batch, ReasonCode.TRANSACTION_FAILED)
        assert batch.tx_hash is not None
        confirmed_nonce = self._confirmed_nonce(signed.sender)
        rebuilt = self._journal.mark_unsent(batch.batch_id, batch.tx_hash)
        # Its nonce still free: the node refused it for another reason (fees); replace it at that nonce.
        # Its nonce taken by another transaction: it can never be mined; sign again with a fresh nonce.
        reuse = signed.nonce if confirmed_nonce <= signed.nonce else None
        return self._sign_and_send(rebuilt, nonce=reuse, resigned=True)

    def _adopt_or_defer(self, batch: BatchRecord, info: RootInfo | None = None) -> BatchOutcome:
        """The root is anchored in our namespace already: adopt that anchor (never anchor a root twice)."""
        if info is None:
            info = self._registry.root(self._own_municipality(), batch.root)
        if info is None:
            return self._defer(batch, ReasonCode.NOT_ANCHORED)
        if self._confirmations and self._registry.chain.block_number() - info.block_number < self._confirmations:
            return _outcome(batch)  # ours, but not confirmed yet
        tx_hash, block_hash = self._find_anchor(batch.root, info.block_number)
        anchored = self._journal.mark_anchored(
            batch.batch_id,
            block_number=info.block_number,
            block_hash=block_hash,
            anchored_at=info.anchored_at,
            tx_hash=tx_hash,
        )
        return _outcome(anchored)

    def _defer(self, batch: BatchRecord, code: ReasonCode) -> BatchOutcome:
        delay = min(self._backoff_cap, self._backoff_base * 2 ** min(batch.attempts, 32))
        deferred = self._journal.mark_retry(batch.batch_id, code, self._clock() + delay)
        return _outcome(deferred, error=code)

    # --- revocations ---------------------------------------------------------------------------------------

    def _drive_revocations(self, *, ignore_backoff: bool) -> list[RevocationOutcome]:
        now = self._clock()
        outcomes = []
        for record in self._journal.revocations(RevocationState.REQUESTED, RevocationState.SENT):
            if not ignore_backoff and record.next_attempt_at is not None and record.next_attempt_at > now:
                continue
            outcome = self._drive_revocation(record)
            outcomes.append(outcome)
            if outcome.error in _NODE_DOWN:
                break
        return outcomes

    def _drive_revocation(self, record: RevocationRecord) -> RevocationOutcome:
        """Send a journaled revocation; repeating it is a no-op on chain, so a resend after a crash is safe."""
        try:
            outcome = self._registry.revoke(list(record.credential_hashes), record.reason)
        except ChainError as exc:
            delay = min(self._backoff_cap, self._backoff_base * 2 ** min(record.attempts, 32))
            failed = self._journal.mark_revocation_retry(record.revocation_id, exc.code, self._clock() + delay)
            return RevocationOutcome(
                failed.revocation_id,
                failed.credential_ids,
                failed.state,
                None,
                error=exc.code,
                next_attempt_at=failed.next_attempt_at,
            )
        done = self._journal.mark_revocation_confirmed(
            record.revocation_id,
            block_number=outcome.block_number,
            at=outcome.block_timestamp,
            tx_hash=_hash_bytes(outcome.tx_hash),
        )
        return RevocationOutcome(done.revocation_id, done.credential_ids, done.state, outcome.tx_hash)

    # --- helpers -------------------------------------------------------------------------------------------

    def _signed(self, batch: BatchRecord) -> SignedTx:
        if batch.raw_tx is None or batch.tx_hash is None or batch.nonce is None:
            raise JournalError(ReasonCode.JOURNAL_UNAVAILABLE, "sent batch lacks its journaled transaction")
        account = self._registry.account
        assert account is not None
        return SignedTx(batch.raw_tx, "0x" + batch.tx_hash.hex(), batch.nonce, account.address)

    def _own_municipality(self) -> int:
        if self._municipality is None:
            account = self._registry.account
            assert account is not None
            code = self._registry.operator_of(account.address)
            if code is None:
                raise RegistryError(
                    ReasonCode.UNAUTHORIZED, "account is not an operator", error_name="RegistryUnknownOperator"
                )
            self._municipality = code
        return self._municipality

    def _w3(self) -> Any:
        return self._registry.chain.w3

    def _confirmed_nonce(self, sender: str) -> int:
        try:
            return int(self._w3().eth.get_transaction_count(sender, "latest"))
        except Exception as exc:  # transport errors of any provider
            raise ChainError(ReasonCode.CHAIN_UNREACHABLE, "node did not answer") from exc

    def _block_hash(self, number: int) -> bytes | None:
        """The hash of block ``number``; None when the chain has no such block (any more)."""
        try:
            return bytes(self._w3().eth.get_block(number)["hash"])
        except Exception:  # a block gone in a reorg, or the node gone: tell them apart
            self._registry.chain.block_number()  # raises ChainError(CHAIN_UNREACHABLE) when the node is gone
            return None

    def _find_anchor(self, root: bytes, block_number: int) -> tuple[bytes | None, bytes]:
        """(tx hash, block hash) of our ``BatchAnchored(root)`` log in ``block_number`` (tx None if not found)."""
        try:
            tx_hash, block_hash = self._registry.anchor_transaction(self._own_municipality(), root, block_number)
        except ChainError:
            raise
        except Exception as exc:  # transport errors of any provider
            raise ChainError(ReasonCode.CHAIN_UNREACHABLE, "node did not answer") from exc
        return (_hash_bytes(tx_hash) if tx_hash else None), _hash_bytes(block_hash)

    def _tree(self, batch: BatchRecord) -> MerkleTree:
        tree = self._trees.get(batch.batch_id)
        if tree is None:
            tree = MerkleTree(self._journal.batch_hashes(batch.batch_id))
            if tree.root != batch.root or tree.size != batch.size:
                raise JournalError(ReasonCode.JOURNAL_UNAVAILABLE, "journaled batch does not match its root")
            self._remember(batch.batch_id, tree)
        else:
            self._trees.move_to_end(batch.batch_id)
        return tree

    def _remember(self, batch_id: int, tree: MerkleTree) -> None:
        self._trees[batch_id] = tree
        while len(self._trees) > _TREE_CACHE:
            self._trees.popitem(last=False)

    def _receipt_dict(self, batch: BatchRecord, index: int, proof: list[bytes]) -> dict[str, Any]:
        return {
            "v": RECEIPT_VERSION,
            "chain_id": self._registry.chain.chain_id,
            "registry": self._registry.address,
            "root": "0x" + batch.root.hex(),
            "index": index,
            "size": batch.size,
            "proof": ["0x" + node.hex() for node in proof],
            "tx": None if batch.tx_hash is None else "0x" + batch.tx_hash.hex(),
            "block": batch.block_number,
            "anchored_at": batch.anchored_at,
        }


def _outcome(batch: BatchRecord, *, error: ReasonCode | None = None, gas_used: int | None = None) -> BatchOutcome:
    return BatchOutcome(
        batch_id=batch.batch_id,
        root=batch.root,
        size=batch.size,
        state=batch.state,
        tx_hash=None if batch.tx_hash is None else "0x" + batch.tx_hash.hex(),
        block_number=batch.block_number,
        error=error,
        next_attempt_at=batch.next_attempt_at if error is not None else None,
        gas_used=gas_used,
    )


def _hash_bytes(value: str) -> bytes:
    raw = bytes.fromhex(value[2:] if value.startswith(("0x", "0X")) else value)
    if len(raw) != 32:
        raise ValueError("expected a 32-byte hash")
    return raw


def journal_status(journal: Journal) -> dict[str, Any]:
    """Credential counts by state plus the open batches' last error code and next attempt time.

    Read from the journal alone, so ``civiccert status`` answers while the node is down.
    """
    counts: dict[str, Any] = dict(journal.status_counts())
    open_batches = journal.batches(BatchState.BUILT, BatchState.SENT)
    failing = [b for b in open_batches if b.last_error is not None]
    counts["open_batches"] = len(open_batches)
    counts["last_error"] = failing[-1].last_error.value if failing and failing[-1].last_error else None
    waits = [b.next_attempt_at for b in failing if b.next_attempt_at is not None]
    counts["next_attempt_at"] = min(waits) if waits else None
    return counts
