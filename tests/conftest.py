"""Shared chain fixtures (owned by the chain module; others use them, never redefine them).

- `anvil`: one real anvil process per test session (per xdist worker), on a free 127.0.0.1 port; skipped
  with a clear reason only when the binary is absent.
- `anvil_chain`: a `Chain` connected to it.
- `embedded_chain`: a fresh in-process py-evm chain per test (cheap, isolated).
- `ganache`: one ganache 7 process per session (marker `ganache`; skipped when Node.js/ganache is absent).
- `chain`: parametrized over embedded and anvil, for tests that must hold on both.
- `dev_accounts`: a factory of fresh funded accounts on a chain: `dev_accounts(chain, n)`.
- `deployed`: a registry on `chain` with municipality 122076 and its operator (see `Deployed`).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from civiccert.chain.nodes import AnvilNode, Chain, GanacheNode, connect, dev_account, find_anvil
from civiccert.chain.registry import Registry
from civiccert.errors import ConfigError

from chainkit import CITY, Deployed  # tests/ is on sys.path (rootdir conftest)
from pgkit import PostgresServer, find_pg_bin

REPO = Path(__file__).resolve().parent.parent


def _anvil_binary() -> Path | None:
    try:
        return find_anvil()
    except ConfigError:
        return None


@pytest.fixture(scope="session")
def anvil() -> Iterator[AnvilNode]:
    binary = _anvil_binary()
    if binary is None or not binary.exists():
        pytest.skip("anvil binary not found (run scripts/setup or set CIVICCERT_ANVIL)")
    with AnvilNode(binary=binary) as node:
        yield node


@pytest.fixture(scope="session")
def anvil_chain(anvil: AnvilNode) -> Chain:
    return connect(anvil.url, expected_chain_id=31337)


@pytest.fixture
def embedded_chain() -> Chain:
    return connect("embedded")


@pytest.fixture(scope="session")
def ganache() -> Iterator[GanacheNode]:
    if shutil.which("node") is None or not (REPO / "node_modules/ganache/dist/node/cli.js").exists():
        pytest.skip("ganache not installed (needs Node.js and node_modules/ganache)")
    with GanacheNode() as node:
        yield node


@pytest.fixture(params=["embedded", "anvil"])
def chain(request: pytest.FixtureRequest) -> Chain:
    if request.param == "embedded":
        return connect("embedded")
    anvil_chain: Chain = request.getfixturevalue("anvil_chain")
    return anvil_chain


@pytest.fixture
def dev_accounts() -> Callable[[Chain, int], list[LocalAccount]]:
    def make(on: Chain, n: int = 1) -> list[LocalAccount]:
        return [dev_account(on) for _ in range(n)]

    return make


@pytest.fixture
def deployed(chain: Chain) -> Deployed:
    admin, operator = dev_account(chain), dev_account(chain)
    registry = Registry.deploy(chain, admin)
    registry.register_municipality(CITY, operator.address)
    return Deployed(chain, admin, operator, registry, Registry(chain, registry.address, operator))


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One real PostgreSQL cluster per test session (per xdist worker); tests take databases from it."""
    bin_dir = find_pg_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL not installed (scripts/setup installs the Debian postgresql package)")
    server = PostgresServer(bin_dir).start()
    try:
        yield server
    finally:
        server.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow tests first (otherwise in collection order): under xdist (``-n 2``) the longest ones then run
    alongside the many short ones instead of trailing after them (tests/service/test_load_fault.py takes
    minutes and would otherwise start near the end)."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
