"""``civiccert chain``: start a local anvil with persisted state, deploy the registry, register an issuer."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from civiccert.cli.common import info, passphrase, state_of
from civiccert.errors import ConfigError, ReasonCode

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from civiccert.chain.nodes import Chain

app = typer.Typer(help="Local chain for development, and registry deployment on any EVM JSON-RPC network.",
                  no_args_is_help=True, rich_markup_mode=None)

# anvil's first well-known development key: public knowledge, funded only on local dev chains
_ANVIL_DEV_ADMIN_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ADMIN_KEYSTORE_ENV = "CIVICCERT_ADMIN_PASSPHRASE"


def _chain_dir(ctx: typer.Context) -> Path:
    home = state_of(ctx).home
    return (home / "chain") if home else Path(".civiccert-chain")


@app.command()
def up(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0: a free one, recorded in the home).")] = 0,
    confirmations: Annotated[int, typer.Option(min=0, help="Blocks on top before a batch counts as anchored.")] = 0,
) -> None:
    """Start a local anvil (state persisted in HOME/chain/), deploy the registry and register HOME's issuer."""
    from civiccert.chain.nodes import AnvilNode, connect
    from civiccert.chain.registry import Registry

    chain_dir = _chain_dir(ctx)
    chain_dir.mkdir(parents=True, exist_ok=True)
    pid_file = chain_dir / "anvil.pid"
    info_file = chain_dir / "chain.json"
    if pid_file.exists() and _our_anvil(pid_file):
        url = json.loads(info_file.read_text())["url"]
        info(f"anvil already running at {url} (pid {pid_file.read_text().strip()})")
    else:
        node = AnvilNode(state_path=chain_dir / "anvil-state.json", port=port)
        pid = node.start_detached(chain_dir / "anvil.log")
        pid_file.write_text(f"{pid}\n")
        url = node.url
        info(f"anvil started at {url} (pid {pid}, state in {chain_dir})")
    chain = connect(url)
    admin = _dev_admin(chain)
    saved = json.loads(info_file.read_text()) if info_file.exists() else {}
    address = saved.get("registry")
    if not address or saved.get("chain_id") != chain.chain_id or not _deployed(chain, address):
        address = Registry.deploy(chain, admin).address
        info(f"registry deployed at {address}")
    info_file.write_text(json.dumps({"url": url, "chain_id": chain.chain_id, "registry": address}, indent=2))
    if state_of(ctx).home is not None:
        _register_home(ctx, chain, Registry(chain, address, account=admin), address, confirmations)
    typer.echo(json.dumps({"url": url, "chain_id": chain.chain_id, "registry": address}))


@app.command()
def down(ctx: typer.Context) -> None:
    """Stop the local anvil started by 'chain up' (its state stays on disk)."""
    from civiccert.chain.nodes import stop_pid

    pid_file = _chain_dir(ctx) / "anvil.pid"
    if not pid_file.exists():
        info("no local anvil recorded")
        return
    if not _our_anvil(pid_file):  # a stale file: the PID may belong to an unrelated process by now
        pid_file.unlink()
        info("anvil was not running")
        return
    stopped = stop_pid(int(pid_file.read_text()))
    pid_file.unlink()
    info("anvil stopped" if stopped else "anvil was not running")


@app.command()
def deploy(
    ctx: typer.Context,
    rpc: Annotated[str, typer.Option(help="JSON-RPC URL.")],
    admin_keystore: Annotated[Path | None, typer.Option(help="Admin account keystore (Ethereum JSON); "
                              f"passphrase from {ADMIN_KEYSTORE_ENV}. Omit on local dev chains.")] = None,
    chain_id: Annotated[int | None, typer.Option(help="Expected chain id (refuse another chain).")] = None,
    confirmations: Annotated[int, typer.Option(min=0, help="Blocks on top before a batch counts as anchored.")] = 0,
) -> None:
    """Deploy the registry on any EVM JSON-RPC network; with --home, register that issuer too."""
    from civiccert.chain.nodes import connect, dev_account
    from civiccert.chain.registry import Registry

    chain = connect(rpc, expected_chain_id=chain_id)
    admin = _keystore_account(admin_keystore) if admin_keystore else dev_account(chain)
    registry = Registry.deploy(chain, admin)
    info(f"registry deployed at {registry.address} (admin {admin.address})")
    if state_of(ctx).home is not None:
        _register_home(ctx, chain, registry, registry.address, confirmations)
    typer.echo(json.dumps({"url": rpc, "chain_id": chain.chain_id, "registry": registry.address}))


def _register_home(ctx: typer.Context, chain: Chain, admin_registry: object, address: str,
                   confirmations: int) -> None:
    from civiccert.chain.nodes import fund_dev_account
    from civiccert.chain.registry import Registry
    from civiccert.issuer import Issuer

    home = state_of(ctx).home
    if home is None or not isinstance(admin_registry, Registry):
        raise ConfigError(ReasonCode.HOME_MISSING, "registering an issuer needs --home")
    issuer = Issuer.open(home, passphrase=passphrase(), chain=chain)
    try:
        if issuer.account is None:
            raise ConfigError(ReasonCode.CONFIG_INVALID, "issuer home has no chain account")
        if chain.kind in ("anvil", "ganache", "embedded"):
            fund_dev_account(chain, issuer.account.address)
        issuer.use_chain(chain, address, confirmations=confirmations)
        issuer.register_on_chain(admin_registry)
        info(f"{issuer.config.municipality_name} ({issuer.config.municipality_code}) registered; "
             f"home {home} now anchors on chain {chain.chain_id}")
    finally:
        issuer.close()


def _dev_admin(chain: Chain) -> LocalAccount:
    from eth_account import Account

    if chain.kind != "anvil":
        raise ConfigError(ReasonCode.CONFIG_INVALID, "chain up manages only a local anvil")
    account: LocalAccount = Account.from_key(_ANVIL_DEV_ADMIN_KEY)
    return account


def _keystore_account(path: Path) -> LocalAccount:
    from eth_account import Account

    secret = os.environ.get(ADMIN_KEYSTORE_ENV)
    if not secret:
        raise ConfigError(ReasonCode.PASSPHRASE_MISSING, f"set {ADMIN_KEYSTORE_ENV} for the admin keystore")
    try:
        key = Account.decrypt(json.loads(path.read_text(encoding="utf-8")), secret)
    except (OSError, ValueError) as exc:
        raise ConfigError(ReasonCode.PASSPHRASE_WRONG, "admin keystore cannot be opened") from exc
    account: LocalAccount = Account.from_key(key)
    return account


def _deployed(chain: Chain, address: str) -> bool:
    return len(chain.w3.eth.get_code(chain.w3.to_checksum_address(address))) > 0


def _our_anvil(pid_file: Path) -> bool:
    """Whether the PID in ``pid_file`` is still the anvil that 'chain up' started (not a reused PID)."""
    try:
        pid = int(pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return False
    return bool(cmdline) and Path(cmdline[0].decode(errors="replace")).name == "anvil" and any(
        str(pid_file.parent).encode() in part for part in cmdline)
