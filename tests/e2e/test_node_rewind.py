"""A node restarted from older state (anvil killed: what it mined since its last save is gone) loses anchors the
journal holds as anchored. The next ``anchor`` sends those again first, so the transactions it signs next (with
later nonces) are mined at once instead of each waiting out the receipt timeout behind a nonce gap, and every
batch ends anchored exactly once. Found by tests/service/test_load_fault.py, whose worker stalled for minutes.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest
from hexbytes import HexBytes

import civiccert as cc
from civiccert.chain.nodes import AnvilNode
from civiccert.issuance.journal import BatchState

from pgkit import free_port
from worldkit import make_world


@pytest.mark.anvil
def test_anchors_lost_by_a_rewound_node_are_sent_again_before_new_ones(anvil: AnvilNode, tmp_path: Path) -> None:
    state = tmp_path / "anvil-state.json"
    node = AnvilNode(binary=anvil.binary, state_path=state, port=free_port()).start()
    try:
        chain = cc.connect(node.url)
        world = make_world(tmp_path, chain=chain)
        issuer, record = world.issuer, world.household()
        issuer.issue(record)
        issuer.anchor()
        time.sleep(1.5)  # anvil saves its state every second
        saved = state.read_bytes()
        json.loads(saved)  # a whole save, not one being written
        for _ in range(3):
            issuer.issue(record)
            issuer.anchor()  # mined, journaled as anchored, then lost below
        lost_from = chain.block_number()
        node.kill()
        state.write_bytes(saved)
        node.start()  # same port: the issuer's URL still holds
        assert chain.block_number() < lost_from

        issuer.issue(record)
        started = time.monotonic()
        outcomes = issuer.anchor()
        assert time.monotonic() - started < 4  # never waited a 5 s receipt timeout behind a nonce gap
        assert {o.state for o in outcomes} == {BatchState.ANCHORED}
        status = issuer.status()
        assert status["anchored"] == 10  # 5 credentials and their paper twins
        topic = HexBytes(chain.w3.keccak(text="BatchAnchored(bytes32)")).to_0x_hex()
        logs = chain.w3.eth.get_logs({"address": world.registry.address, "fromBlock": 0, "toBlock": "latest",
                                      "topics": [topic]})  # fmt: skip
        roots = Counter(bytes(HexBytes(log["topics"][1])) for log in logs)
        assert len(roots) == 10  # one digital and one paper batch per anchor call
        assert set(roots.values()) == {1}  # each root anchored once on the chain as it is now
        issuer.close()
    finally:
        node.stop()
