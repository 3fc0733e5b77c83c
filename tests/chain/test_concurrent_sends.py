"""Nonce management under concurrent anchoring: many threads, one operator account, every anchor mined once."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from civiccert.chain.nodes import Chain, dev_account
from civiccert.chain.registry import Registry

from chainkit import CITY


@pytest.mark.anvil
def test_threads_anchoring_with_one_account_never_collide_on_nonces(anvil_chain: Chain) -> None:
    admin, operator = dev_account(anvil_chain), dev_account(anvil_chain)
    registry = Registry.deploy(anvil_chain, admin)
    registry.register_municipality(CITY, operator.address)
    roots = [os.urandom(32) for _ in range(24)]

    def anchor(root: bytes) -> int:
        client = Registry(anvil_chain, registry.address, operator)  # separate clients, one account
        return client.anchor(root, 1).block_number

    with ThreadPoolExecutor(max_workers=6) as pool:
        blocks = list(pool.map(anchor, roots))
    assert len(blocks) == len(roots)
    for root in roots:
        assert registry.root(CITY, root) is not None
    nonce = anvil_chain.w3.eth.get_transaction_count(operator.address)
    assert nonce == len(roots)  # no transaction lost, none replaced
