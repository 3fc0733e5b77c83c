"""Where the chain is: one `Chain` handle for the embedded EVM, a managed anvil/ganache, or any JSON-RPC URL.

    chain = connect("embedded")                                  # in-process py-evm, a NEW chain per call
    chain = connect("http://127.0.0.1:8545", expected_chain_id=31337)
    with AnvilNode(state_path=Path("chain.json")) as node:       # real anvil on a free 127.0.0.1 port
        chain = connect(node.url)
        admin = dev_account(chain)                               # funded; local dev chains only

Everything above `chain/` talks to a `Chain` (its `w3`), never to a node type: JSON-RPC is the interface, so
production can be any EVM network (geth, an L2, ...). `kind` ("embedded" | "anvil" | "ganache" | "rpc", from
`web3_clientVersion`) is informational; only `dev_account` looks at it.

Errors: an unreachable node raises ChainError(CHAIN_UNREACHABLE) within `timeout`, a node that answers too
slowly ChainError(CHAIN_TIMEOUT) within `deadline`, whatever it sends (no retries, no hang); a
node on another chain than `expected_chain_id` raises ChainError(CHAIN_ID_MISMATCH); a URL that is neither
"embedded" nor http(s) raises ConfigError(CONFIG_INVALID, field="url").

Managed nodes (`AnvilNode`, `GanacheNode`) are for tests and development: they listen on 127.0.0.1 only,
are stopped by PID (SIGTERM, then SIGKILL), and report the tail of the node's output when they fail to start.
The anvil binary is found via $CIVICCERT_ANVIL, else <repo or cwd>/node_modules/@foundry-rs/anvil-linux-amd64/
bin/anvil (the real binary, not the npm launcher, which orphans it on SIGKILL), else PATH.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

import requests
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import EthereumTesterProvider, Web3
from web3.exceptions import Web3Exception
from web3.middleware import ExtraDataToPOAMiddleware
from web3.types import Wei

from civiccert.chain.transport import DEFAULT_DEADLINE, DEFAULT_MAX_RESPONSE_BYTES, BoundedHTTPProvider
from civiccert.errors import ChainError, ConfigError, ReasonCode
from civiccert.extras import EMBEDDED_CHAIN, require_extra

__all__ = [
    "ANVIL_INSTALL_HINT",
    "EMBEDDED",
    "AnvilNode",
    "Chain",
    "ChainKind",
    "GanacheNode",
    "connect",
    "dev_account",
    "find_anvil",
    "fund_dev_account",
    "port_in_use_error",
    "port_is_free",
    "stop_pid",
]

EMBEDDED = "embedded"
ChainKind = Literal["embedded", "anvil", "ganache", "rpc"]

_REPO_ROOT = Path(__file__).resolve().parents[3]
_ANVIL_REL = Path("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")
_GANACHE_REL = Path("node_modules/ganache/dist/node/cli.js")
_DEV_FUNDING_WEI = 10_000 * 10**18


@dataclass(frozen=True)
class Chain:
    """A connected chain. `w3` is the only way up the stack; `url` is what `connect` was given."""

    w3: Web3
    chain_id: int
    url: str
    kind: ChainKind

    def block_number(self) -> int:
        """The latest block number (ChainError(CHAIN_UNREACHABLE) when the node is gone)."""
        try:
            return int(self.w3.eth.block_number)
        except _TRANSPORT_ERRORS as exc:
            raise ChainError(ReasonCode.CHAIN_UNREACHABLE, "node did not answer") from exc

    def balance(self, address: str) -> int:
        """The balance of ``address`` in wei (ChainError(CHAIN_UNREACHABLE) when the node is gone)."""
        try:
            return int(self.w3.eth.get_balance(self.w3.to_checksum_address(address)))
        except _TRANSPORT_ERRORS as exc:
            raise ChainError(ReasonCode.CHAIN_UNREACHABLE, "node did not answer") from exc


_TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    requests.exceptions.RequestException,  # refused, timed out, or an HTTP error status (503, 429, …)
    ConnectionError,
    TimeoutError,
)
_PROBE_ERRORS: tuple[type[BaseException], ...] = (*_TRANSPORT_ERRORS, Web3Exception, ValueError)
_KIND_PROBE_ERRORS: tuple[type[BaseException], ...] = (*_PROBE_ERRORS, ChainError)


def connect(url: str, *, expected_chain_id: int | None = None, timeout: float = 10,
            deadline: float = DEFAULT_DEADLINE, max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES) -> Chain:
    """Connect to `url` ("embedded" or an http(s) JSON-RPC endpoint) and check its chain id.

    "embedded" starts a fresh in-process py-evm chain on every call (state is not shared between calls;
    keep the returned `Chain` to keep the chain). An HTTP call fails after `timeout` seconds of silence and,
    whatever the node trickles, after `deadline` seconds in all (ChainError(CHAIN_TIMEOUT)); a reply larger
    than `max_response_bytes` is dropped unread (ChainError(CHAIN_RESPONSE_TOO_LARGE)); see chain/transport.py.
    Calls are never retried here, so a dead node fails fast; chain-id and other immutable answers are cached.
    """
    if url == EMBEDDED:
        require_extra(EMBEDDED_CHAIN, "eth_tester", "eth")  # py-evm, behind web3's EthereumTesterProvider
        w3 = Web3(EthereumTesterProvider())
        kind: ChainKind = "embedded"
    elif url.startswith(("http://", "https://")):
        try:
            provider = BoundedHTTPProvider(url, deadline=deadline, max_response_bytes=max_response_bytes,
                                           idle_timeout=min(timeout, deadline))
        except ValueError as exc:
            raise ConfigError(ReasonCode.CONFIG_INVALID, "chain URL or limits are malformed", field="url") from exc
        w3 = Web3(provider)
        # PoA chains and many L2s put more than 32 bytes into extraData.
        w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
        kind = "rpc"
    else:
        raise ConfigError(ReasonCode.CONFIG_INVALID, "chain URL must be 'embedded' or http(s)", field="url")
    try:
        chain_id = int(w3.eth.chain_id)
    except _PROBE_ERRORS as exc:
        raise ChainError(ReasonCode.CHAIN_UNREACHABLE, "JSON-RPC node did not answer eth_chainId") from exc
    if expected_chain_id is not None and chain_id != expected_chain_id:
        raise ChainError(ReasonCode.CHAIN_ID_MISMATCH, f"node is on chain {chain_id}, not {expected_chain_id}")
    if kind == "rpc":
        kind = _detect_kind(w3)
    return Chain(w3=w3, chain_id=chain_id, url=url, kind=kind)


def _detect_kind(w3: Web3) -> ChainKind:
    try:
        version = str(w3.client_version).lower()
    except _KIND_PROBE_ERRORS:
        return "rpc"  # some nodes disable the web3_ namespace
    if version.startswith("anvil/"):
        return "anvil"
    if version.startswith("ganache/"):
        return "ganache"
    return "rpc"


def dev_account(chain: Chain, *, balance_wei: int = _DEV_FUNDING_WEI) -> LocalAccount:
    """A fresh, funded account on a LOCAL DEV chain (embedded, anvil, ganache); refuses anything else.

    Fresh keys keep parallel users of one node from sharing nonces.
    """
    account: LocalAccount = Account.create()
    fund_dev_account(chain, account.address, balance_wei=balance_wei)
    return account


def fund_dev_account(chain: Chain, address: str, *, balance_wei: int = _DEV_FUNDING_WEI) -> None:
    """Give ``address`` ether on a LOCAL DEV chain: the embedded chain's unlocked account sends it,
    anvil/ganache set the balance with their cheat RPC. Refuses real networks (ConfigError)."""
    w3 = chain.w3
    if chain.kind == "embedded":
        funder = w3.eth.accounts[0]
        tx_hash = w3.eth.send_transaction({"from": funder, "to": address, "value": Wei(balance_wei)})
        w3.eth.wait_for_transaction_receipt(tx_hash)
    elif chain.kind in ("anvil", "ganache"):
        method = "anvil_setBalance" if chain.kind == "anvil" else "evm_setAccountBalance"
        response = w3.provider.make_request(method, [address, hex(balance_wei)])  # type: ignore[arg-type]
        if "error" in response:
            raise ChainError(ReasonCode.TRANSACTION_FAILED, f"{method} failed")
    else:
        raise ConfigError(
            ReasonCode.CONFIG_INVALID, "dev accounts exist only on local dev chains", field="url"
        )


# --------------------------------------------------------------------------------------------------------
# Managed local nodes
# --------------------------------------------------------------------------------------------------------


ANVIL_INSTALL_HINT = "install it with 'npm i @foundry-rs/anvil' in the project, or set CIVICCERT_ANVIL to its path"


def find_anvil() -> Path:
    """The anvil binary: $CIVICCERT_ANVIL, else node_modules (repo or cwd), else PATH.

    ConfigError(CONFIG_INVALID, field="anvil") saying how to install it when none is found (or when
    CIVICCERT_ANVIL names no file).
    """
    env = os.environ.get("CIVICCERT_ANVIL")
    if env:
        if Path(env).is_file():
            return Path(env)
        raise ConfigError(ReasonCode.CONFIG_INVALID, f"CIVICCERT_ANVIL names no file: {ANVIL_INSTALL_HINT}",
                          field="anvil")
    for base in (_REPO_ROOT, Path.cwd()):
        candidate = base / _ANVIL_REL
        if candidate.is_file():
            return candidate
    found = shutil.which("anvil")
    if found:
        return Path(found)
    raise ConfigError(ReasonCode.CONFIG_INVALID, f"anvil binary not found: {ANVIL_INSTALL_HINT}", field="anvil")


def _find_ganache() -> Path:
    for base in (_REPO_ROOT, Path.cwd()):
        candidate = base / _GANACHE_REL
        if candidate.is_file():
            return candidate
    raise ConfigError(ReasonCode.CONFIG_INVALID, "ganache not found in node_modules")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Whether a node could listen on 127.0.0.1:``port`` now.

    Binds with SO_REUSEADDR as anvil does, so connections of a stopped node lingering in TIME_WAIT do not
    count as "in use"; only a listening socket does.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def port_in_use_error(port: int) -> ConfigError:
    """The error for a port another process holds (the message says what to do)."""
    return ConfigError(ReasonCode.CONFIG_INVALID, f"port {port} on 127.0.0.1 is in use by another process: stop "
                       "it, or choose another port with --port (verifiers holding the old URL need the new one)",
                       field="port")


class _ManagedNode:
    """A local node process: start, wait until eth_chainId answers, stop by PID."""

    _name = "node"

    def __init__(self, *, port: int, startup_timeout: float) -> None:
        self._requested_port = port
        self.port = port
        self.startup_timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None  # tempfile handle holding the node's stdout+stderr

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _discover_port(self, output: str) -> int | None:
        return self.port or None

    def start(self) -> Self:
        """Launch the node and wait until it answers eth_chainId (ChainError(CHAIN_UNREACHABLE) if not)."""
        if self.running:
            return self
        self.port = self._requested_port
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process
        self._proc = subprocess.Popen(
            self._command(), stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                break
            port = self._discover_port(self.output())
            if port and self._answers(port):
                self.port = port
                return self
            time.sleep(0.05)
        tail = self.output()[-2000:]
        self.stop()
        raise ChainError(ReasonCode.CHAIN_UNREACHABLE, f"{self._name} did not become ready; output:\n{tail}")

    def start_detached(self, log_path: Path) -> int:
        """Launch the node in its own session so that it outlives this process (``civiccert chain up``).

        Its output is appended to ``log_path``; the port is read only from what THIS run appended (an
        earlier run's "Listening on" line names an earlier port). Returns the PID once the node answers;
        stop it later with :func:`stop_pid`. A port another process holds raises ConfigError(field="port").
        """
        with log_path.open("ab") as log:
            offset = log.tell()
            proc = subprocess.Popen(
                self._command(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _DETACHED.append(proc)  # it outlives us by design: keep the handle so it is never reaped as garbage
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline and proc.poll() is None:
            port = self._discover_port(_read_from(log_path, offset))
            if port and self._answers(port):
                self.port = port
                return proc.pid
            time.sleep(0.05)
        stop_pid(proc.pid)
        if "Address already in use" in _read_from(log_path, offset):
            raise port_in_use_error(self._requested_port)
        raise ChainError(ReasonCode.CHAIN_UNREACHABLE, f"{self._name} did not become ready; see {log_path}")

    def _answers(self, port: int) -> bool:
        try:
            response = requests.post(
                f"http://127.0.0.1:{port}",
                json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
                timeout=1,
            )
            return response.ok and "result" in response.json()
        except (requests.exceptions.RequestException, ValueError):
            return False

    def output(self) -> str:
        """Everything the node printed so far (for diagnostics)."""
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        data: bytes = self._log.read()
        return data.decode("utf-8", "replace")

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, wait up to `timeout`, then SIGKILL; always by this node's PID."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def kill(self) -> None:
        """SIGKILL without a chance to save state (crash simulation)."""
        if self._proc is not None and self._proc.poll() is None:
            os.kill(self._proc.pid, signal.SIGKILL)
            self._proc.wait(5)
        self.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


_DETACHED: list[subprocess.Popen[bytes]] = []


def _read_from(path: Path, offset: int) -> str:
    with path.open("rb") as log:
        log.seek(offset)
        return log.read().decode("utf-8", "replace")


def stop_pid(pid: int, timeout: float = 5.0) -> bool:
    """SIGTERM a detached node by PID, then SIGKILL after ``timeout``; False if it was not running."""
    own = next((p for p in _DETACHED if p.pid == pid), None)
    if own is not None:  # started by this process: let Popen reap it
        _DETACHED.remove(own)
        if own.poll() is not None:
            return False
        own.terminate()
        try:
            own.wait(timeout)
        except subprocess.TimeoutExpired:
            own.kill()
            own.wait(timeout)
        return True
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        except ChildProcessError:  # not our child: poll for its disappearance
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return True


_LISTENING = re.compile(r"Listening on 127\.0\.0\.1:(\d+)")


class AnvilNode(_ManagedNode):
    """A real anvil process on 127.0.0.1 (port 0 = anvil picks a free one and we read it back).

    With `state_path`, anvil loads the state at start and dumps it every second and at exit
    (`--state PATH --state-interval 1`), so the chain survives restarts. A kill -9, power loss or OOM kill
    loses what was mined since the last dump (up to ~1 s; anvil 1.x has no per-block or fsync'd dump, and
    1 s is its smallest interval): ``civiccert chain up`` then finds the journal's anchored batches that the
    chain lacks and puts them back to be anchored again.
    """

    _name = "anvil"

    def __init__(
        self,
        *,
        state_path: Path | None = None,
        block_time: float | None = None,
        chain_id: int | None = None,
        port: int = 0,
        binary: Path | None = None,
        hardfork: str | None = None,
        extra_args: tuple[str, ...] = (),
        startup_timeout: float = 15.0,
    ) -> None:
        super().__init__(port=port, startup_timeout=startup_timeout)
        self.state_path = state_path
        self.block_time = block_time
        self.chain_id = chain_id
        self.binary = binary
        self.hardfork = hardfork
        self.extra_args = extra_args

    def _command(self) -> list[str]:
        cmd = [str(self.binary or find_anvil()), "--host", "127.0.0.1", "--port", str(self._requested_port)]
        if self.state_path is not None:
            cmd += ["--state", str(self.state_path), "--state-interval", "1"]
        if self.block_time is not None:
            cmd += ["--block-time", str(self.block_time)]
        if self.chain_id is not None:
            cmd += ["--chain-id", str(self.chain_id)]
        if self.hardfork is not None:
            cmd += ["--hardfork", self.hardfork]
        return cmd + list(self.extra_args)

    def _discover_port(self, output: str) -> int | None:
        match = _LISTENING.search(output)
        return int(match.group(1)) if match else None


class GanacheNode(_ManagedNode):
    """ganache 7 (Node.js) on 127.0.0.1, hardfork shanghai; `db_path` persists the chain across restarts.

    ganache cannot bind port 0, so a free port is picked first (a race with other processes is possible
    but harmless in tests: start() then fails with CHAIN_UNREACHABLE and the node's output).
    """

    _name = "ganache"

    def __init__(
        self,
        *,
        db_path: Path | None = None,
        chain_id: int | None = None,
        port: int = 0,
        extra_args: tuple[str, ...] = (),
        startup_timeout: float = 30.0,
    ) -> None:
        super().__init__(port=port, startup_timeout=startup_timeout)
        self.db_path = db_path
        self.chain_id = chain_id
        self.extra_args = extra_args

    def start(self) -> Self:
        if not self.running and self._requested_port == 0:
            self._requested_port = _free_port()
        return super().start()

    def _command(self) -> list[str]:
        node = shutil.which("node")
        if node is None:
            raise ConfigError(ReasonCode.CONFIG_INVALID, "node (Node.js) not found on PATH")
        cmd = [
            node,
            str(_find_ganache()),
            "--server.host",
            "127.0.0.1",
            "--server.port",
            str(self._requested_port),
            "--chain.hardfork",
            "shanghai",
            "--logging.quiet",
        ]
        if self.db_path is not None:
            cmd += ["--database.dbPath", str(self.db_path)]
        if self.chain_id is not None:
            cmd += ["--chain.chainId", str(self.chain_id)]
        return cmd + list(self.extra_args)
