"""Real anvil: kill -9 at every step, node outage with a state file, and a reorg (evm_snapshot/evm_revert)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from civiccert.chain.merkle import verify_inclusion
from civiccert.chain.nodes import AnvilNode, Chain, connect, dev_account
from civiccert.chain.registry import Registry
from civiccert.errors import ConfigError, ReasonCode
from civiccert.issuance.anchoring import Anchorer
from civiccert.issuance.journal import BatchState, CredentialEntry, CredentialKind, new_credential_id
from civiccert.issuance.journal_sqlite import SqliteJournal

pytestmark = pytest.mark.anvil

CITY = 122076
WORKER = Path(__file__).with_name("crash_worker.py")
_TOPIC = Web3.keccak(text="BatchAnchored(bytes32)").to_0x_hex()


def _city(chain: Chain) -> tuple[Registry, LocalAccount]:
    admin_account, operator = dev_account(chain), dev_account(chain)
    admin = Registry.deploy(chain, admin_account)
    admin.register_municipality(CITY, operator.address)
    return Registry(chain, admin.address, operator), operator


def _issue_twins(journal: SqliteJournal, pairs: int) -> list[str]:
    entries = []
    for _ in range(pairs):
        digital, paper = new_credential_id(), new_credential_id()
        entries += [
            CredentialEntry(digital, os.urandom(32), CredentialKind.DIGITAL, twin_id=paper),
            CredentialEntry(paper, os.urandom(32), CredentialKind.PAPER, twin_id=digital),
        ]
    journal.add_credentials(entries)
    return [e.credential_id for e in entries]


def _assert_anchored_exactly_once(journal: SqliteJournal, city: Registry, ids: list[str]) -> None:
    logs = city.chain.w3.eth.get_logs({"address": city.address, "fromBlock": 0, "topics": [_TOPIC]})
    roots = [bytes(log["topics"][1]) for log in logs]  # only our city anchors in these tests
    assert len(roots) == len(set(roots)), "a root was anchored twice"
    batches = journal.batches()
    assert sorted(roots) == sorted(b.root for b in batches)
    assert all(b.state is BatchState.ANCHORED for b in batches)
    anchorer = Anchorer(journal, city)
    for cid in ids:
        receipt = anchorer.receipt(cid)
        assert receipt is not None, cid
        root = bytes.fromhex(receipt["root"][2:])
        info = city.root(CITY, root)
        assert info is not None
        assert (info.municipality, info.leaf_count, info.block_number) == (CITY, receipt["size"], receipt["block"])
        proof = [bytes.fromhex(p[2:]) for p in receipt["proof"]]
        leaf = journal.credential(cid).credential_hash
        assert verify_inclusion(leaf, receipt["index"], receipt["size"], proof, root)


def _run_worker(
    journal: Path, city: Registry, key: str, crash_at: str, max_batch: int = 10_000
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CIVICCERT_CRASH_AT": crash_at, "CIVICCERT_MAX_BATCH": str(max_batch)}
    return subprocess.run(
        [sys.executable, str(WORKER), str(journal), city.chain.url, city.address, key],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("crash_at", "left_in"),
    [
        ("before_build", BatchState.BUILT),
        ("before_send", BatchState.SENT),
        ("after_send", BatchState.SENT),
        ("after_receipt", BatchState.SENT),
    ],
)
def test_kill_9_at_each_step_then_restart_anchors_every_credential_exactly_once(
    anvil_chain: Chain, tmp_path: Path, crash_at: str, left_in: BatchState
) -> None:
    city, operator = _city(anvil_chain)
    path = tmp_path / "journal.db"
    journal = SqliteJournal(path)
    ids = _issue_twins(journal, 15)  # 30 credentials, 2 batches of at most 16
    key = operator.key.hex()

    crashed = _run_worker(path, city, key, crash_at, max_batch=16)
    assert crashed.returncode == -9, crashed.stderr[-2000:]
    first = journal.batches()[0]
    assert first.state is left_in
    mined = first.tx_hash is not None and city.wait_for_receipt("0x" + first.tx_hash.hex(), timeout=0)
    assert bool(mined) is (crash_at in ("after_send", "after_receipt"))

    restarted = _run_worker(path, city, key, "", max_batch=16)
    assert restarted.returncode == 0, restarted.stderr[-2000:]
    report = json.loads(restarted.stdout)
    assert report["errors"] == []
    assert (report["status"]["anchored"], report["status"]["pending"]) == (30, 0)
    assert [b.size for b in journal.batches()] == [16, 14]
    if crash_at != "before_build":
        assert journal.batch(first.batch_id).tx_hash == first.tx_hash  # the SAME journaled tx was mined
    _assert_anchored_exactly_once(journal, city, ids)
    journal.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def own_anvil(tmp_path: Path) -> Iterator[AnvilNode]:
    """A private anvil on a fixed port with a state file, so it can be stopped and restarted."""
    node = AnvilNode(state_path=tmp_path / "anvil-state.json", port=_free_port())
    try:
        node.start()
    except ConfigError:
        pytest.skip("anvil binary not found (run scripts/setup or set CIVICCERT_ANVIL)")
    yield node
    node.stop()


def test_node_outage_keeps_credentials_batched_with_backoff_and_resume_anchors_after_restart(
    own_anvil: AnvilNode, tmp_path: Path
) -> None:
    chain = connect(own_anvil.url, timeout=2)
    city, _ = _city(chain)
    journal = SqliteJournal(tmp_path / "journal.db")
    ids = _issue_twins(journal, 3)
    now = [1_000_000.0]
    anchorer = Anchorer(journal, city, clock=lambda: now[0], receipt_timeout=2)

    own_anvil.stop()  # SIGTERM: anvil writes its state file
    (outcome,) = anchorer.flush(force=True)  # never raises for an outage
    assert (outcome.state, outcome.error) == (BatchState.BUILT, ReasonCode.CHAIN_UNREACHABLE)
    status = anchorer.status()
    assert (status["batched"], status["failed"], status["last_error"]) == (6, 6, "chain_unreachable")
    assert status["next_attempt_at"] == now[0] + 2
    assert anchorer.receipt(ids[0]) is None

    own_anvil.start()  # same port, state loaded: the registry is still there
    assert city.root(CITY, b"\x01" * 32) is None
    (resumed,) = anchorer.resume()
    assert (resumed.state, resumed.error) == (BatchState.ANCHORED, None)
    assert anchorer.status()["failed"] == 0
    _assert_anchored_exactly_once(journal, city, ids)
    journal.close()


def test_reorg_dropping_the_anchor_is_detected_and_reanchored(own_anvil: AnvilNode, tmp_path: Path) -> None:
    chain = connect(own_anvil.url)
    city, _ = _city(chain)
    journal = SqliteJournal(tmp_path / "journal.db")
    ids = _issue_twins(journal, 4)
    anchorer = Anchorer(journal, city, receipt_timeout=2)

    snapshot = chain.w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    (anchored,) = anchorer.flush(force=True)
    assert anchored.state is BatchState.ANCHORED
    reverted = chain.w3.provider.make_request("evm_revert", [snapshot])  # type: ignore[arg-type]
    assert reverted["result"] is True
    assert city.root(CITY, anchored.root) is None  # the anchor is gone; the journal still says anchored
    chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

    (again,) = anchorer.reconcile()
    assert again.state is BatchState.ANCHORED
    assert city.root(CITY, anchored.root) is not None
    assert anchorer.reconcile() == []
    _assert_anchored_exactly_once(journal, city, ids)
    journal.close()
