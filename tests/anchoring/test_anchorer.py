"""Anchorer on the embedded EVM: batching, receipts, resume, adoption, outage backoff, nonce loss, revocation."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from web3 import HTTPProvider, Web3

from civiccert.chain.merkle import MerkleTree, verify_inclusion
from civiccert.chain.nodes import Chain, connect, dev_account
from civiccert.chain.registry import Registry
from civiccert.errors import JournalError, ReasonCode
from civiccert.issuance.anchoring import Anchorer
from civiccert.issuance.journal import (
    BatchState,
    CredentialEntry,
    CredentialKind,
    CredentialState,
    RevocationState,
    new_credential_id,
)
from civiccert.issuance.journal_sqlite import SqliteJournal

CITY = 122076
OTHER_CITY = 11002


class Clock:
    """A settable clock: time is a parameter, never read from the wall in these tests."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Env:
    chain: Chain
    admin: Registry
    city: Registry
    operator: LocalAccount
    journal: SqliteJournal
    clock: Clock

    def anchorer(self, registry: Registry | None = None, **kwargs: object) -> Anchorer:
        kwargs.setdefault("receipt_timeout", 2.0)
        return Anchorer(self.journal, registry or self.city, clock=self.clock, **kwargs)  # type: ignore[arg-type]

    def issue(self, n: int) -> list[str]:
        entries = [CredentialEntry(new_credential_id(), os.urandom(32)) for _ in range(n)]
        self.journal.add_credentials(entries, at=self.clock())
        return [e.credential_id for e in entries]


def _make_env(chain: Chain, tmp_path: Path) -> Env:
    admin_account, operator = dev_account(chain), dev_account(chain)
    admin = Registry.deploy(chain, admin_account)
    admin.register_municipality(CITY, operator.address)
    journal = SqliteJournal(tmp_path / "journal.db")
    return Env(chain, admin, Registry(chain, admin.address, operator), operator, journal, Clock())


@pytest.fixture
def env(tmp_path: Path) -> Env:
    made = _make_env(connect("embedded"), tmp_path)
    yield made  # type: ignore[misc]
    made.journal.close()


@pytest.fixture
def anvil_env(anvil_chain: Chain, tmp_path: Path) -> Env:
    """The same on the session's real anvil (a fresh registry and accounts per test)."""
    made = _make_env(anvil_chain, tmp_path)
    yield made  # type: ignore[misc]
    made.journal.close()


def _check_receipt(env: Env, credential_id: str) -> dict[str, object]:
    receipt = Anchorer(env.journal, env.city).receipt(credential_id)
    assert receipt is not None
    assert set(receipt) == {"v", "chain_id", "registry", "root", "index", "size", "proof", "tx", "block", "anchored_at"}
    assert receipt["v"] == 1
    assert receipt["chain_id"] == env.chain.chain_id
    assert receipt["registry"] == env.city.address
    root = bytes.fromhex(str(receipt["root"])[2:])
    info = env.city.root(CITY, root)
    assert info is not None
    assert info.municipality == CITY
    assert (info.leaf_count, info.block_number, info.anchored_at) == (
        receipt["size"],
        receipt["block"],
        receipt["anchored_at"],
    )
    proof = [bytes.fromhex(p[2:]) for p in receipt["proof"]]  # type: ignore[attr-defined]
    credential_hash = env.journal.credential(credential_id).credential_hash
    assert verify_inclusion(credential_hash, receipt["index"], receipt["size"], proof, root)  # type: ignore[arg-type]
    tx = env.chain.w3.eth.get_transaction_receipt(str(receipt["tx"]))  # type: ignore[arg-type]
    assert tx["blockNumber"] == receipt["block"]
    return receipt


def _anchor_events(env: Env) -> list[bytes]:
    """Roots of the BatchAnchored logs sent by our operator (other municipalities may log the same roots)."""
    topic = Web3.keccak(text="BatchAnchored(bytes32)").to_0x_hex()
    logs = env.chain.w3.eth.get_logs({"address": env.city.address, "fromBlock": 0, "topics": [topic]})
    ours = [
        log for log in logs if env.chain.w3.eth.get_transaction(log["transactionHash"])["from"] == env.operator.address
    ]
    return [bytes(log["topics"][1]) for log in ours]


def _dead_registry(env: Env) -> Registry:
    """The same registry reached through a node that is down (nothing listens on port 9)."""
    w3 = Web3(HTTPProvider("http://127.0.0.1:9", request_kwargs={"timeout": 2}, exception_retry_configuration=None))
    dead = Chain(w3=w3, chain_id=env.chain.chain_id, url="http://127.0.0.1:9", kind="rpc")
    return Registry(dead, env.city.address, env.operator)


def test_flush_anchors_pending_credentials_and_every_receipt_verifies(env: Env) -> None:
    ids = env.issue(7)
    outcomes = env.anchorer().flush(force=True)
    assert [(o.state, o.size, o.error) for o in outcomes] == [(BatchState.ANCHORED, 7, None)]
    assert outcomes[0].gas_used is not None
    assert outcomes[0].gas_used < 60_000
    for cid in ids:
        assert env.journal.credential(cid).state is CredentialState.ANCHORED
        _check_receipt(env, cid)
    assert env.anchorer().status()["anchored"] == 7
    assert _anchor_events(env) == [outcomes[0].root]


def test_receipts_of_a_whole_batch_match_single_receipts(env: Env) -> None:
    ids = env.issue(11)
    (outcome,) = env.anchorer().flush(force=True)
    anchorer = Anchorer(env.journal, env.city)  # a fresh instance rebuilds the tree from the journal
    all_receipts = anchorer.receipts(outcome.batch_id)
    assert list(all_receipts) == ids
    assert all(all_receipts[cid] == anchorer.receipt(cid) for cid in ids)


def test_batches_are_cut_only_when_full_or_old_unless_forced(env: Env) -> None:
    env.issue(3)
    anchorer = env.anchorer(max_batch=5, max_age_seconds=60)
    assert anchorer.flush() == []
    assert env.journal.status_counts()["pending"] == 3
    env.clock.now += 61
    (outcome,) = anchorer.flush()
    assert (outcome.state, outcome.size) == (BatchState.ANCHORED, 3)
    env.issue(12)
    outcomes = anchorer.flush()  # two full batches are due; the remaining 2 are young
    assert [o.size for o in outcomes] == [5, 5]
    assert env.journal.status_counts()["pending"] == 2
    assert [o.size for o in anchorer.flush(force=True)] == [2]


def test_progress_reports_credentials_done_out_of_total(env: Env) -> None:
    env.issue(25)
    seen: list[tuple[int, int]] = []
    outcomes = env.anchorer(max_batch=10).flush(force=True, progress=lambda d, t: seen.append((d, t)))
    assert [o.size for o in outcomes] == [10, 10, 5]
    assert seen == [(10, 25), (20, 25), (25, 25)]


def test_receipt_is_none_until_anchored_and_unknown_id_is_a_journal_error(env: Env) -> None:
    (cid,) = env.issue(1)
    anchorer = env.anchorer()
    assert anchorer.receipt(cid) is None
    with pytest.raises(JournalError) as err:
        anchorer.receipt("no-such-credential")
    assert err.value.code is ReasonCode.CREDENTIAL_UNKNOWN


def test_resume_broadcasts_the_journaled_raw_tx_that_never_left(env: Env) -> None:
    """What a kill -9 between journaling and sending leaves behind."""
    ids = env.issue(4)
    env.anchorer().flush()  # not due: nothing happens
    pending = env.journal.pending(10)
    tree = MerkleTree([c.credential_hash for c in pending])
    batch = env.journal.create_batch([c.credential_id for c in pending], tree.root)
    signed = env.city.build_anchor(tree.root, 4)
    env.journal.mark_sent(batch.batch_id, signed.raw, bytes.fromhex(signed.hash[2:]), signed.nonce)

    (outcome,) = env.anchorer().resume()
    assert outcome.state is BatchState.ANCHORED
    assert outcome.tx_hash == signed.hash  # the SAME transaction was mined
    for cid in ids:
        _check_receipt(env, cid)


def test_root_already_anchored_by_us_is_adopted_never_anchored_twice(env: Env) -> None:
    ids = env.issue(3)
    pending = env.journal.pending(10)
    root = MerkleTree([c.credential_hash for c in pending]).root
    env.journal.create_batch([c.credential_id for c in pending], root)
    mined = env.city.anchor(root, 3)  # e.g. an earlier run whose journal update was lost

    (outcome,) = env.anchorer().flush()
    assert outcome.state is BatchState.ANCHORED
    assert outcome.tx_hash == mined.tx_hash
    assert outcome.block_number == mined.block_number
    assert _anchor_events(env) == [root]
    _check_receipt(env, ids[0])


def test_another_city_anchoring_our_root_first_does_not_affect_us(env: Env) -> None:
    other = dev_account(env.chain)
    env.admin.register_municipality(OTHER_CITY, other.address)
    ids = env.issue(2)
    pending = env.journal.pending(10)
    root = MerkleTree([c.credential_hash for c in pending]).root
    env.journal.create_batch([c.credential_id for c in pending], root)
    squat = Registry(env.chain, env.city.address, other).anchor(root, 2)  # front-run from the mempool

    (outcome,) = env.anchorer().flush()
    assert (outcome.state, outcome.error) == (BatchState.ANCHORED, None)
    assert outcome.tx_hash != squat.tx_hash  # our own anchor, not theirs
    assert outcome.block_number != squat.block_number
    assert env.journal.status_counts()["failed"] == 0
    assert _anchor_events(env) == [root]
    _check_receipt(env, ids[0])


@pytest.mark.anvil
def test_adoption_picks_our_log_when_another_city_logs_the_same_root_in_the_same_block(anvil_env: Env) -> None:
    """BatchAnchored carries only the root: the adopted tx must be ours, not the other city's in that block."""
    env = anvil_env
    other = dev_account(env.chain)
    env.admin.register_municipality(OTHER_CITY, other.address)
    ids = env.issue(3)
    pending = env.journal.pending(10)
    root = MerkleTree([c.credential_hash for c in pending]).root
    env.journal.create_batch([c.credential_id for c in pending], root)
    squat = Registry(env.chain, env.city.address, other).build_anchor(root, 1)
    lost = env.city.build_anchor(root, 3)  # e.g. an earlier run whose journal update was lost
    provider = env.chain.w3.provider
    provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        env.city.send_raw(squat)  # first in the block
        env.city.send_raw(lost)
        provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    finally:
        provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
    mined = env.city.wait_for_receipt(lost.hash, timeout=5)
    theirs = env.city.wait_for_receipt(squat.hash, timeout=5)
    assert mined is not None
    assert theirs is not None
    assert mined.block_number == theirs.block_number

    (outcome,) = env.anchorer().flush()
    assert (outcome.state, outcome.tx_hash, outcome.block_number) == (
        BatchState.ANCHORED,
        lost.hash,
        mined.block_number,
    )
    _check_receipt(env, ids[0])


def test_node_outage_is_recorded_with_capped_exponential_backoff_then_resumed(env: Env) -> None:
    ids = env.issue(5)
    down = env.anchorer(registry=_dead_registry(env), backoff_base=2.0, backoff_cap=10.0)
    (first,) = down.flush(force=True)  # must not raise
    assert (first.state, first.error) == (BatchState.BUILT, ReasonCode.CHAIN_UNREACHABLE)
    assert first.next_attempt_at == env.clock.now + 2
    status = down.status()
    assert (status["batched"], status["failed"], status["last_error"]) == (5, 5, "chain_unreachable")
    assert status["next_attempt_at"] == env.clock.now + 2

    (waiting,) = down.flush()  # backoff not over: not even attempted
    assert env.journal.batch(waiting.batch_id).attempts == 1
    delays = []
    for _ in range(4):
        env.clock.now = env.journal.batch(first.batch_id).next_attempt_at or 0
        (again,) = down.flush()
        delays.append((again.next_attempt_at or 0) - env.clock.now)
    assert delays == [4, 8, 10, 10]

    (back,) = env.anchorer().resume()  # node back: resume ignores the backoff
    assert (back.state, back.error) == (BatchState.ANCHORED, None)
    assert env.anchorer().status()["failed"] == 0
    _check_receipt(env, ids[-1])


@pytest.mark.anvil
def test_journaled_tx_whose_nonce_was_taken_is_resigned_and_anchored_once(anvil_env: Env) -> None:
    """Real anvil: the node's own "nonce too low" rejection (the embedded EVM raises a non-chain error)."""
    env = anvil_env
    ids = env.issue(2)
    pending = env.journal.pending(10)
    root = MerkleTree([c.credential_hash for c in pending]).root
    batch = env.journal.create_batch([c.credential_id for c in pending], root)
    signed = env.city.build_anchor(root, 2)
    env.journal.mark_sent(batch.batch_id, signed.raw, bytes.fromhex(signed.hash[2:]), signed.nonce)
    # another transaction of the same account (e.g. from another host) takes that nonce first
    other = env.city.build_anchor(os.urandom(32), 1, nonce=signed.nonce)
    env.city.send_raw(other)
    assert env.city.wait_for_receipt(other.hash, timeout=5) is not None
    assert env.chain.w3.eth.get_transaction_count(env.operator.address) > signed.nonce

    (outcome,) = env.anchorer().resume()
    assert outcome.state is BatchState.ANCHORED
    assert outcome.tx_hash != signed.hash
    assert _anchor_events(env)[1:] == [root]
    _check_receipt(env, ids[0])


def test_revocation_is_journaled_then_sent_with_its_twin(env: Env) -> None:
    digital, paper = new_credential_id(), new_credential_id()
    h_digital, h_paper = os.urandom(32), os.urandom(32)
    env.journal.add_credentials(
        [
            CredentialEntry(digital, h_digital, CredentialKind.DIGITAL, twin_id=paper),
            CredentialEntry(paper, h_paper, CredentialKind.PAPER, twin_id=digital),
        ]
    )
    outcome = env.anchorer().revoke([digital], reason=2)
    assert outcome is not None
    assert (outcome.state, outcome.error) == (RevocationState.CONFIRMED, None)
    assert set(outcome.credential_ids) == {digital, paper}
    assert env.city.revocation(CITY, h_digital) is not None
    assert env.city.revocation(CITY, h_paper) is not None
    assert env.anchorer().revoke([paper], reason=2) is None  # already requested


def test_revocation_during_outage_stays_journaled_and_resume_sends_it(env: Env) -> None:
    (cid,) = env.issue(1)
    outcome = env.anchorer(registry=_dead_registry(env)).revoke([cid], reason=1)
    assert outcome is not None
    assert (outcome.state, outcome.error) == (RevocationState.REQUESTED, ReasonCode.CHAIN_UNREACHABLE)
    assert env.journal.status_counts()["revocations_open"] == 1
    env.anchorer().resume()
    assert env.journal.revocations(RevocationState.CONFIRMED)[0].credential_ids == (cid,)
    revoked = env.city.revocation(CITY, env.journal.credential(cid).credential_hash)
    assert revoked is not None
    assert revoked[0] == 1


def test_reconcile_reanchors_a_batch_whose_anchor_vanished(env: Env) -> None:
    """Embedded-EVM variant of the reorg (anvil test in test_anchor_crash.py)."""
    ids = env.issue(3)
    snapshot = env.chain.w3.testing.snapshot()
    (outcome,) = env.anchorer().flush(force=True)
    assert outcome.state is BatchState.ANCHORED
    env.chain.w3.testing.revert(snapshot)
    assert env.city.root(CITY, outcome.root) is None

    (again,) = env.anchorer().reconcile()
    assert again.state is BatchState.ANCHORED
    assert env.city.root(CITY, outcome.root) is not None
    _check_receipt(env, ids[0])
    assert env.anchorer().reconcile() == []  # nothing else changed


def test_batch_counts_as_anchored_only_after_the_configured_confirmations(env: Env) -> None:
    (cid,) = env.issue(1)
    anchorer = env.anchorer(confirmations=2, receipt_timeout=0.1)
    (mined,) = anchorer.flush(force=True)
    assert (mined.state, mined.error) == (BatchState.SENT, None)  # in a block, not confirmed yet
    assert anchorer.receipt(cid) is None
    env.chain.w3.testing.mine(1)
    (still,) = anchorer.flush()
    assert still.state is BatchState.SENT
    env.chain.w3.testing.mine(1)
    (done,) = anchorer.flush()
    assert (done.state, done.tx_hash) == (BatchState.ANCHORED, mined.tx_hash)
    _check_receipt(env, cid)


def test_registry_refusal_is_reported_and_retried_not_raised(env: Env) -> None:
    (cid,) = env.issue(1)
    env.admin.suspend(CITY)
    (refused,) = env.anchorer().flush(force=True)
    assert (refused.state, refused.error) == (BatchState.BUILT, ReasonCode.MUNICIPALITY_SUSPENDED)
    assert env.anchorer().status()["last_error"] == "municipality_suspended"
    env.admin.unsuspend(CITY)
    (done,) = env.anchorer().resume()
    assert done.state is BatchState.ANCHORED
    _check_receipt(env, cid)


def test_anchorer_rejects_a_registry_without_signer(env: Env) -> None:
    with pytest.raises(ValueError, match="operator account"):
        Anchorer(env.journal, Registry(env.chain, env.city.address))
