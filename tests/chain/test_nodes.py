"""Chain access: connect errors, managed anvil persistence, ganache, and the pinned compiler artifact."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from civiccert.chain.nodes import AnvilNode, Chain, GanacheNode, connect, dev_account
from civiccert.chain.registry import Registry
from civiccert.errors import ChainError, ConfigError, ReasonCode

from chainkit import CITY

REPO = Path(__file__).resolve().parents[2]


def test_unreachable_url_fails_fast() -> None:
    started = time.monotonic()
    with pytest.raises(ChainError) as info:
        connect("http://127.0.0.1:9", timeout=2)
    assert info.value.code is ReasonCode.CHAIN_UNREACHABLE
    assert time.monotonic() - started < 2


def test_bad_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        connect("ws://127.0.0.1:8545")
    assert info.value.code is ReasonCode.CONFIG_INVALID


def test_embedded_chain_id_mismatch() -> None:
    with pytest.raises(ChainError) as info:
        connect("embedded", expected_chain_id=1)
    assert info.value.code is ReasonCode.CHAIN_ID_MISMATCH


@pytest.mark.anvil
def test_anvil_chain_id_mismatch_and_kind(anvil: AnvilNode) -> None:
    chain = connect(anvil.url)
    assert (chain.kind, chain.chain_id) == ("anvil", 31337)
    with pytest.raises(ChainError) as info:
        connect(anvil.url, expected_chain_id=1)
    assert info.value.code is ReasonCode.CHAIN_ID_MISMATCH


@pytest.mark.anvil
def test_dev_account_refuses_non_dev_chains(anvil_chain: Chain) -> None:
    with pytest.raises(ConfigError) as info:
        dev_account(replace(anvil_chain, kind="rpc"))
    assert info.value.code is ReasonCode.CONFIG_INVALID


@pytest.mark.anvil
def test_no_registry_at_address(anvil_chain: Chain) -> None:
    empty = Registry(anvil_chain, "0x" + "11" * 20)
    with pytest.raises(ChainError) as info:
        empty.root(CITY, os.urandom(32))
    assert info.value.code is ReasonCode.REGISTRY_NOT_DEPLOYED


def test_node_that_dies_at_start_reports_unreachable(tmp_path: Path) -> None:
    node = AnvilNode(binary=Path("/bin/false"), startup_timeout=5)
    with pytest.raises(ChainError) as info:
        node.start()
    assert info.value.code is ReasonCode.CHAIN_UNREACHABLE
    assert not node.running


@pytest.mark.anvil
@pytest.mark.slow
def test_anvil_state_survives_restart_and_kill_9(tmp_path: Path) -> None:
    state = tmp_path / "anvil-state.json"
    root_a, root_b = os.urandom(32), os.urandom(32)
    with AnvilNode(state_path=state) as node:
        chain = connect(node.url)
        admin, operator = dev_account(chain), dev_account(chain)
        registry = Registry.deploy(chain, admin)
        registry.register_municipality(CITY, operator.address)
        Registry(chain, registry.address, operator).anchor(root_a, 1)
    # clean stop: state dumped at exit
    with AnvilNode(state_path=state) as node:
        chain = connect(node.url)
        city = Registry(chain, registry.address, operator)
        assert city.root(CITY, root_a) is not None
        city.anchor(root_b, 2)
        time.sleep(2.5)  # --state-interval 1 dumps at least once
        node.kill()
    # after SIGKILL: what the interval dump saved is there
    with AnvilNode(state_path=state) as node:
        city = Registry(connect(node.url), registry.address, operator)
        assert city.root(CITY, root_a) is not None
        info = city.root(CITY, root_b)
        assert info is not None
        assert info.leaf_count == 2


@pytest.mark.ganache
@pytest.mark.slow
def test_ganache_deploy_anchor_status(ganache: GanacheNode) -> None:
    chain = connect(ganache.url)
    assert chain.kind == "ganache"
    admin, operator = dev_account(chain), dev_account(chain)
    registry = Registry.deploy(chain, admin)
    registry.register_municipality(CITY, operator.address)
    city = Registry(chain, registry.address, operator)
    root, cred = os.urandom(32), os.urandom(32)
    city.anchor(root, 3)
    city.revoke([cred], 1)
    status = city.status(CITY, root, cred)
    assert (status.municipality, status.leaf_count, status.revoked) == (CITY, 3, True)
    unknown = os.urandom(32)
    assert city.statuses([(CITY, root, cred), (CITY, unknown, cred)]) == [status, city.status(CITY, unknown, cred)]
    with pytest.raises(ChainError) as info:
        city.anchor(root, 3)
    assert info.value.code is ReasonCode.ROOT_ALREADY_ANCHORED


@pytest.mark.node
def test_shipped_artifact_is_what_the_pinned_solc_builds() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "compile_contracts.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
