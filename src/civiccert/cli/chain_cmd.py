"""``civiccert chain``: a local anvil with persisted state, registry deployment, and joining an existing registry.

A city on a real network never deploys: the registry's admin adds its municipality (``add-municipality``),
the city attaches its home (``attach``), funds its chain account (``account`` shows it) and registers its
signing key (``register-key``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit

import typer

from civiccert.cli.common import emit_json, info, open_issuer, passphrase, require_home, state_of
from civiccert.errors import ChainError, ConfigError, ReasonCode
from civiccert.i18n import _

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from civiccert.chain.nodes import Chain
    from civiccert.issuance.issuer import Issuer

app = typer.Typer(help="Local chain for development, registry deployment on any EVM JSON-RPC network, and "
                       "joining an existing registry.", no_args_is_help=True, rich_markup_mode=None)

# anvil's first well-known development key: public knowledge, funded only on local dev chains
_ANVIL_DEV_ADMIN_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ADMIN_KEYSTORE_ENV = "CIVICCERT_ADMIN_PASSPHRASE"
DEFAULT_PORT = 8545  # the README's and the verifiers' URL: http://127.0.0.1:8545
_LOCAL_KINDS = ("anvil", "ganache")

_CONFIRMATIONS = typer.Option(min=0, help="Blocks on top before a batch counts as anchored (default: the "
                              "home's current setting, else 0).")
_CHAIN_ID = typer.Option(help="Expected chain id (refuse another chain).")
_ADMIN_KEYSTORE = typer.Option(help=f"Admin account keystore (Ethereum JSON); passphrase from {ADMIN_KEYSTORE_ENV}. "
                               "Omit on local dev chains (anvil's first dev account is the admin).")


def _chain_dir(ctx: typer.Context) -> Path:
    home = state_of(ctx).home
    return (home / "chain") if home else Path(".civiccert-chain")


# --------------------------------------------------------------------------------------------------------
# Local anvil
# --------------------------------------------------------------------------------------------------------


@app.command()
def up(
    ctx: typer.Context,
    port: Annotated[int | None, typer.Option(help="Port on 127.0.0.1 (0: any free one). Default: the port "
                                             f"recorded by an earlier 'chain up', else {DEFAULT_PORT}.")] = None,
    confirmations: Annotated[int | None, _CONFIRMATIONS] = None,
) -> None:
    """Start (or restart) a local anvil with state in HOME/chain/, deploy the registry once, register HOME's issuer.

    A restart keeps the recorded URL, registry and chain; with HOME, batches the journal holds as anchored
    but the chain lost (anvil killed before it saved its state) are put back to be anchored again.
    """
    from civiccert.chain.nodes import AnvilNode, connect
    from civiccert.chain.registry import Registry
    from civiccert.fileio import write_atomic

    chain_dir = _chain_dir(ctx)
    chain_dir.mkdir(parents=True, exist_ok=True)
    pid_file = chain_dir / "anvil.pid"
    info_file = chain_dir / "chain.json"
    saved: dict[str, Any] = json.loads(info_file.read_text()) if info_file.exists() else {}
    if pid_file.exists() and _our_anvil(pid_file) and "url" in saved:
        url = str(saved["url"])
        info(_("anvil already running at {url} (pid {pid})").format(
            url=url, pid=pid_file.read_text().strip()))
        if port is not None and port != urlsplit(url).port:
            info(_("--port ignored: run 'civiccert chain down' first to move the node to another port"))
    else:
        state = chain_dir / "anvil-state.json"
        _keep_state_copy(state)
        node = AnvilNode(state_path=state, port=_choose_port(port, saved, info_file))
        pid = node.start_detached(chain_dir / "anvil.log")
        pid_file.write_text(f"{pid}\n")
        url = node.url
        info(_("anvil started at {url} (pid {pid}, state in {chain_dir})").format(
            url=url, pid=pid, chain_dir=chain_dir))
    chain = connect(url)
    if chain.kind != "anvil":
        raise ConfigError(ReasonCode.CONFIG_INVALID, "chain up manages only a local anvil", field="url")
    admin = _local_admin(chain)
    address = saved.get("registry")
    if not address or saved.get("chain_id") != chain.chain_id or not _deployed(chain, address):
        address = Registry.deploy(chain, admin).address
        info(_("registry deployed at {address}").format(
            address=address))
    record = {"url": url, "chain_id": chain.chain_id, "registry": address}
    write_atomic(info_file, json.dumps(record, indent=2).encode("utf-8"), mode=0o644)
    if state_of(ctx).home is not None:
        issuer = _register_home(ctx, chain, Registry(chain, address, account=admin), address, confirmations)
        try:
            _report_lost_anchors(issuer)
        finally:
            issuer.close()
    typer.echo(json.dumps(record))


def _choose_port(requested: int | None, saved: dict[str, Any], info_file: Path) -> int:
    """--port if given, else the recorded port (verifiers hold that URL), else 8545 if free, else any."""
    from civiccert.chain.nodes import port_in_use_error, port_is_free

    recorded = urlsplit(str(saved["url"])).port if "url" in saved else None
    port = requested if requested is not None else recorded
    if port is None:
        if port_is_free(DEFAULT_PORT):
            return DEFAULT_PORT
        info(_("port {port} is in use: anvil takes a free port instead (recorded in {info_file})").format(
            port=DEFAULT_PORT, info_file=info_file))
        return 0
    if port and not port_is_free(port):
        raise port_in_use_error(port)  # never silently move a URL that verifiers hold
    return port


def _keep_state_copy(state: Path) -> None:
    """Copy a loadable state file to ``*.prev`` before anvil starts; refuse a torn one, naming that copy.

    anvil rewrites its state file in place (no temporary file, no fsync): a kill during a save leaves a
    file it will not load. The copy is the chain as of the last good start.
    """
    import shutil

    if not state.exists():
        return
    previous = state.with_name(state.name + ".prev")
    try:
        json.loads(state.read_bytes())
    except ValueError:
        raise ConfigError(ReasonCode.CONFIG_INVALID, f"{state} is torn (anvil was stopped while saving it): "
                          f"replace it with {previous} (the chain at the last 'chain up') and run 'chain up' "
                          "again; anchors made since are then put back to be anchored", field="state") from None
    shutil.copyfile(state, previous)


@app.command()
def down(ctx: typer.Context) -> None:
    """Stop the local anvil started by 'chain up' (its state and recorded URL stay on disk)."""
    from civiccert.chain.nodes import stop_pid

    pid_file = _chain_dir(ctx) / "anvil.pid"
    if not pid_file.exists():
        info(_("no local anvil recorded"))
        return
    if not _our_anvil(pid_file):  # a stale file: the PID may belong to an unrelated process by now
        pid_file.unlink()
        info(_("anvil was not running"))
        return
    stopped = stop_pid(int(pid_file.read_text()))
    pid_file.unlink()
    info(_("anvil stopped") if stopped else _("anvil was not running"))


def _report_lost_anchors(issuer: Issuer) -> None:
    """Tell the operator which anchors the restarted chain lost; the journal has them back as to be sent."""
    from civiccert.issuance.journal import BatchState

    changed = issuer.check_anchors()
    lost = [o for o in changed if o.error is None and o.state is BatchState.SENT]
    if lost:
        credentials = sum(o.size for o in lost)
        info(_("{n} batch(es) ({credentials} credentials) the journal held as anchored are not on this "
               "chain (the node stopped before saving them); they are pending again: run 'civiccert --home "
               "{home} anchor'").format(
            n=len(lost), credentials=credentials, home=issuer.home))
    if any(o.error is not None for o in changed):
        info(_("not every anchored batch could be checked (the node stopped answering); 'civiccert anchor' "
               "re-checks recent ones"))


# --------------------------------------------------------------------------------------------------------
# Any EVM network: deploy, or join an existing registry
# --------------------------------------------------------------------------------------------------------


@app.command()
def deploy(
    ctx: typer.Context,
    rpc: Annotated[str, typer.Option(help="JSON-RPC URL.")],
    admin_keystore: Annotated[Path | None, _ADMIN_KEYSTORE] = None,
    chain_id: Annotated[int | None, _CHAIN_ID] = None,
    confirmations: Annotated[int | None, _CONFIRMATIONS] = None,
) -> None:
    """Deploy a NEW registry on any EVM JSON-RPC network; with --home, register that issuer too."""
    from civiccert.chain.nodes import connect
    from civiccert.chain.registry import Registry

    chain = connect(rpc, expected_chain_id=chain_id)
    admin = _keystore_account(admin_keystore) if admin_keystore else _local_admin(chain)
    registry = Registry.deploy(chain, admin)
    info(_("registry deployed at {address} (admin {address2})").format(
        address=registry.address, address2=admin.address))
    if state_of(ctx).home is not None:
        _register_home(ctx, chain, registry, registry.address, confirmations).close()
    typer.echo(json.dumps({"url": rpc, "chain_id": chain.chain_id, "registry": registry.address}))


@app.command()
def attach(
    ctx: typer.Context,
    rpc: Annotated[str, typer.Option(help="JSON-RPC URL of the network the registry is on.")],
    registry: Annotated[str, typer.Option(help="Address of the existing registry.")],
    chain_id: Annotated[int | None, _CHAIN_ID] = None,
    confirmations: Annotated[int | None, _CONFIRMATIONS] = None,
) -> None:
    """Make HOME anchor with an existing registry (no deployment); says what registration is still missing."""
    from civiccert.chain.nodes import connect, fund_dev_account
    from civiccert.chain.registry import Registry
    from civiccert.issuance.issuer import Issuer

    home = require_home(ctx)
    address = _address(registry, "--registry")
    chain = connect(rpc, expected_chain_id=chain_id)
    Registry(chain, address).ensure_deployed()
    issuer = Issuer.open(home, passphrase=passphrase(), chain=chain)
    try:
        account = _issuer_account(issuer)
        if chain.kind in _LOCAL_KINDS:
            fund_dev_account(chain, account)
        issuer.use_chain(chain, address, confirmations=_confirmations_of(issuer, confirmations))
        info(_("home {home} now anchors with registry {address} on chain {chain_id}").format(
            home=home, address=address, chain_id=chain.chain_id))
        _report_registration(issuer, rpc)
    finally:
        issuer.close()
    typer.echo(json.dumps({"url": rpc, "chain_id": chain.chain_id, "registry": address, "account": account}))


@app.command("add-municipality")
def add_municipality(
    rpc: Annotated[str, typer.Option(help="JSON-RPC URL.")],
    registry: Annotated[str, typer.Option(help="Registry address.")],
    code: Annotated[str, typer.Option(help="全国地方公共団体コード, 6 digits with check digit.")],
    operator: Annotated[str, typer.Option(help="The city's chain account ('civiccert --home H chain account').")],
    admin_keystore: Annotated[Path | None, _ADMIN_KEYSTORE] = None,
    chain_id: Annotated[int | None, _CHAIN_ID] = None,
) -> None:
    """For the registry's admin: register a new municipality with its first operator account."""
    from civiccert.chain.nodes import connect
    from civiccert.chain.registry import Registry
    from civiccert.errors import RecordError
    from civiccert.records.codes import check_municipality_code

    try:
        check_municipality_code(code, field="code")
    except RecordError as exc:
        raise typer.BadParameter(exc.message, param_hint="--code") from exc
    operator = _address(operator, "--operator")
    chain = connect(rpc, expected_chain_id=chain_id)
    admin = _keystore_account(admin_keystore) if admin_keystore else _local_admin(chain)
    client = Registry(chain, _address(registry, "--registry"), account=admin)
    client.ensure_deployed()
    current = client.municipality(code)
    if current is None:
        client.register_municipality(code, operator)
        info(_("municipality {code} registered with operator {operator}").format(
            code=code, operator=operator))
    elif operator in current.operators:
        info(_("municipality {code} already has operator {operator}").format(
            code=code, operator=operator))
    else:  # the admin cannot add operators to a registered city (docs/trust.md): its own operators do
        raise ChainError(ReasonCode.UNAUTHORIZED, f"municipality {code} is registered already: only its own "
                         "operators can add operators (Registry.add_operator), the admin cannot")
    info(_("next, the city runs: civiccert --home HOME chain register-key"))


@app.command("register-key")
def register_key(ctx: typer.Context) -> None:
    """Register HOME's signing key in its municipality (after the admin's 'chain add-municipality')."""
    issuer = open_issuer(ctx)
    try:
        if issuer.registry is None:
            raise ConfigError(ReasonCode.CONFIG_INVALID, "no chain configured for this issuer home "
                              "(civiccert chain attach / chain up)")
        account = _issuer_account(issuer)
        code = int(issuer.config.municipality_code)
        if issuer.registry.operator_of(account) != code:
            raise ChainError(ReasonCode.UNAUTHORIZED, f"account {account} is not an operator of municipality "
                             f"{issuer.config.municipality_code} in this registry: ask the registry's admin to run "
                             "'civiccert chain add-municipality'")
        done = issuer.register_key()
        info((_("signing key {kid} registered: ready to issue and anchor") if done else
              _("signing key {kid} was registered already: ready to issue and anchor")).format(kid=issuer.key.kid))
    finally:
        issuer.close()


@app.command()
def account(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False
            ) -> None:
    """Print HOME's chain account (it pays gas for anchoring) and, if its node answers, the balance.

    Needs no passphrase: the address is public and stored in the account's keystore.
    """
    from civiccert.chain.nodes import connect
    from civiccert.issuance.home import HomeConfig

    home = require_home(ctx)
    config = HomeConfig.load(home)
    address = _keystore_address(HomeConfig.account_path(home))
    balance: int | None = None
    settings = config.chain
    if settings is not None and settings.url != "embedded":
        try:
            balance = connect(settings.url, expected_chain_id=settings.chain_id, timeout=3).balance(address)
        except ChainError as exc:
            info(_("balance unknown: the node at {url} did not answer ({code})").format(
                url=settings.url, code=exc.code.value))
    if as_json:
        emit_json({"address": address, "chain_id": settings.chain_id if settings else None,
                   "balance_wei": balance})
        return
    typer.echo(address)
    if balance is not None and settings is not None:
        info(_("balance {eth:.6f} ETH on chain {chain_id} ({url})").format(
            eth=balance / 10**18, chain_id=settings.chain_id, url=settings.url))


# --------------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------------


def _register_home(ctx: typer.Context, chain: Chain, admin_registry: object, address: str,
                   confirmations: int | None) -> Issuer:
    """Fund (dev chains), attach and register HOME's issuer; returns it open (the caller closes it)."""
    from civiccert.chain.nodes import fund_dev_account
    from civiccert.chain.registry import Registry
    from civiccert.issuance.issuer import Issuer

    home = state_of(ctx).home
    if home is None or not isinstance(admin_registry, Registry):
        raise ConfigError(ReasonCode.HOME_MISSING, "registering an issuer needs --home")
    issuer = Issuer.open(home, passphrase=passphrase(), chain=chain)
    try:
        account = _issuer_account(issuer)
        if chain.kind in (*_LOCAL_KINDS, "embedded"):
            fund_dev_account(chain, account)
        issuer.use_chain(chain, address, confirmations=_confirmations_of(issuer, confirmations))
        issuer.register_on_chain(admin_registry)
    except BaseException:
        issuer.close()
        raise
    info(_("{name} ({code}) registered; home {home} now anchors on chain {chain_id}").format(
        name=issuer.config.municipality_name, code=issuer.config.municipality_code, home=home,
        chain_id=chain.chain_id))
    return issuer


def _report_registration(issuer: Issuer, rpc: str) -> None:
    """What the city still needs before it can anchor: funds, the admin's registration, its key."""
    registry = issuer.registry
    assert registry is not None
    account = _issuer_account(issuer)
    code = issuer.config.municipality_code
    operating = registry.operator_of(account)
    if operating is None:
        info(_("the issuer's chain account {account} must be funded (it pays gas) and registered by the "
               "registry's admin: civiccert chain add-municipality --rpc {rpc} --registry {address} --code "
               "{code} --operator {account}; then run: civiccert --home {home} chain register-key").format(
            account=account, rpc=rpc, address=registry.address, code=code, home=issuer.home))
    elif operating != int(code):
        info(_("account {account} operates for municipality {operating:06d} in this registry, not {code}: ask "
               "the registry's admin").format(
            account=account, operating=operating, code=code))
    elif registry.key(int(code), issuer.key.thumbprint) is None:
        info(_("municipality {code} is registered with this account; register the signing key: civiccert --home "
               "{home} chain register-key").format(
            code=code, home=issuer.home))
    else:
        info(_("municipality {code} and this home's signing key are registered: ready to issue and anchor").format(
            code=code))


def _confirmations_of(issuer: Issuer, requested: int | None) -> int:
    if requested is not None:
        return requested
    return issuer.config.chain.confirmations if issuer.config.chain is not None else 0


def _issuer_account(issuer: Issuer) -> str:
    if issuer.account is None:
        raise ConfigError(ReasonCode.CONFIG_INVALID, "issuer home has no chain account")
    return str(issuer.account.address)


def _address(value: str, option: str) -> str:
    from web3 import Web3

    if not Web3.is_address(value):
        raise typer.BadParameter("not an Ethereum address (0x + 40 hex digits)", param_hint=option)
    return str(Web3.to_checksum_address(value))


def _keystore_address(path: Path) -> str:
    """The address an Ethereum keystore JSON records in clear (no passphrase needed)."""
    from civiccert.credentials.strictjson import json_parse
    from civiccert.errors import CivicCertError

    try:
        raw = json_parse(path.read_bytes(), field="address")["address"]
        return _address(raw if raw.startswith("0x") else "0x" + raw, "address")
    except (OSError, CivicCertError, KeyError, TypeError, AttributeError, typer.BadParameter) as exc:
        raise ConfigError(ReasonCode.CONFIG_INVALID, "the home's chain account keystore is missing or has no "
                          "address", field="keys/chain.json") from exc


def _local_admin(chain: Chain) -> LocalAccount:
    """The registry admin on a local dev chain: anvil's first dev key (funded), so 'chain up', 'deploy' and
    'add-municipality' agree on it across runs; a fresh funded account on the embedded chain."""
    from eth_account import Account

    from civiccert.chain.nodes import dev_account, fund_dev_account

    if chain.kind == "embedded":
        return dev_account(chain)
    if chain.kind not in _LOCAL_KINDS:
        raise ConfigError(ReasonCode.CONFIG_INVALID, "on this network the admin signs with --admin-keystore",
                          field="admin_keystore")
    admin: LocalAccount = Account.from_key(_ANVIL_DEV_ADMIN_KEY)
    if chain.balance(admin.address) < 10**18:
        fund_dev_account(chain, admin.address)
    return admin


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
