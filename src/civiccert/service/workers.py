"""Several uvicorn worker processes serving one issuer (``civiccert serve --workers N``).

One process uses at most one core (signing and record checks are CPU-bound under the GIL: ~2–3 ms per issue),
so N processes each run the whole app and every one of them issues. :mod:`civiccert.service.processes` starts
them; uvicorn in each imports :func:`create_from_env` (a factory), so the parent hands over its options in
``CIVICCERT_SERVE_OPTIONS`` (JSON, no secrets) and the key secret the way it got it: the path in
``CIVICCERT_KEY_PASSPHRASE_FILE`` / ``CIVICCERT_PKCS11_PIN_FILE`` (each worker reads the file), else the inherited
``CIVICCERT_KEY_PASSPHRASE`` / ``CIVICCERT_PKCS11_PIN`` variable, which each worker removes from its environment
once read. A secret is never on a command line or in a log.

The anchoring worker and the status publisher run in exactly one process at a time: each process waits in a
daemon thread for the *worker role* (an exclusive ``flock`` next to the SQLite journal, or a PostgreSQL
session advisory lock) and only the holder runs :class:`~civiccert.service.worker.AnchorWorker`; the others
block in the kernel or the database (no polling) and take over when the holder dies. The role only saves work:
two anchorings are still prevented by :func:`~civiccert.issuance.journal_url.anchoring_lease` around each attempt.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from civiccert.errors import ConfigError, ReasonCode
from civiccert.issuance.home import HomeConfig
from civiccert.issuance.issuer import Issuer
from civiccert.issuance.journal_url import is_postgres_url
from civiccert.service.auth import ClientRegistry
from civiccert.service.logs import configure_logging, log_event
from civiccert.service.metrics import Metrics
from civiccert.service.publisher import StatusPublisher
from civiccert.service.store import ServiceStore
from civiccert.service.worker import AnchorWorker

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["OPTIONS_ENV", "PASSPHRASE_FILE_ENV", "PIN_FILE_ENV", "ServeOptions", "WorkerRole", "create_from_env",
           "export_options", "worker_role"]

OPTIONS_ENV = "CIVICCERT_SERVE_OPTIONS"
PASSPHRASE_FILE_ENV = "CIVICCERT_KEY_PASSPHRASE_FILE"  # noqa: S105 - variable names, not secrets
PIN_FILE_ENV = "CIVICCERT_PKCS11_PIN_FILE"
_PASSPHRASE_ENV = "CIVICCERT_KEY_PASSPHRASE"  # noqa: S105
_PIN_ENV = "CIVICCERT_PKCS11_PIN"
_ROLE_LOCK_KEY = 0x63697669_63636572 + 2  # the PostgreSQL advisory lock of the worker role (anchoring is +0)
_MAX_SECRET_FILE_BYTES = 4096


@dataclass(frozen=True)
class ServeOptions:
    """What each worker process needs to build the app (never a secret: it travels in an environment variable)."""

    home: str
    clients: str
    audience: str
    journal_url: str | None
    worker: bool
    worker_interval: float
    status_every: float
    verify_page: bool

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> ServeOptions:
        raw = os.environ.get(OPTIONS_ENV)
        if raw is None:
            raise ConfigError(ReasonCode.CONFIG_INVALID, f"{OPTIONS_ENV} is not set (start with 'civiccert serve')",
                              field=OPTIONS_ENV)
        return cls(**json.loads(raw))


def _secret(file_env: str, value_env: str) -> bytes | None:
    """The secret from the file ``file_env`` names, else from ``value_env`` (then removed from the environment)."""
    path = os.environ.get(file_env)
    if path:
        data = Path(path).read_bytes()[: _MAX_SECRET_FILE_BYTES + 1]
        if len(data) > _MAX_SECRET_FILE_BYTES:
            raise ConfigError(ReasonCode.PASSPHRASE_MISSING, "the secret file is too large", field=file_env)
        return data.removesuffix(b"\n").removesuffix(b"\r")
    return os.environb.pop(value_env.encode(), None)  # read once: no later subprocess inherits it


def worker_role(target: str) -> AbstractContextManager[None]:
    """Hold the worker role on the journal at ``target`` (blocks until no other process holds it)."""
    return _pg_role(target) if is_postgres_url(target) else _file_role(target)


@contextmanager
def _file_role(path: str) -> Iterator[None]:
    with open(f"{path}.worker-lock", "a+b") as handle:  # not the anchor-lock: flock conflicts within a process too
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)  # released by the kernel when this process dies
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextmanager
def _pg_role(url: str) -> Iterator[None]:
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:  # a session of its own
        conn.execute("SELECT pg_advisory_lock(%s)", (_ROLE_LOCK_KEY,))  # waits in the server, no polling
        yield


class WorkerRole:
    """Waits for the worker role in a daemon thread, then runs ``anchor_worker`` there until stopped."""

    def __init__(self, target: str, anchor_worker: AnchorWorker, *, retry: float = 5.0) -> None:
        self._target = target
        self.anchor_worker = anchor_worker
        self._retry = retry
        self._stop = threading.Event()
        self.held = threading.Event()
        self._thread = threading.Thread(target=self._run, name="civiccert-worker-role", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with worker_role(self._target):
                    if self._stop.is_set():
                        return
                    self.held.set()
                    log_event("worker_role_acquired", pid=os.getpid())
                    self.anchor_worker.run()
                    log_event("worker_role_released", pid=os.getpid())  # logged before the lock is let go
                return
            except Exception as exc:  # database down while waiting: wait and try again
                log_event("worker_role_failed", level=logging.WARNING, error=type(exc).__name__)
                self._stop.wait(self._retry)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the anchoring worker if this process runs it; a process still waiting just exits with its thread."""
        self._stop.set()
        self.anchor_worker.request_stop()
        if self.held.is_set():
            self._thread.join(timeout)


def _open_issuer(options: ServeOptions) -> Issuer:
    home = Path(options.home)
    passphrase = _secret(PASSPHRASE_FILE_ENV, _PASSPHRASE_ENV)
    on_token = HomeConfig.load(home).key_uri is not None
    pin = _secret(PIN_FILE_ENV, _PIN_ENV) if on_token else None
    return Issuer.open(home, passphrase=passphrase, pin=pin, journal_url=options.journal_url)


def create_from_env() -> FastAPI:
    """The app of one worker process, from the environment ``civiccert serve --workers N`` set (uvicorn factory)."""
    from civiccert.service.app import Service, create_app

    configure_logging()
    options = ServeOptions.from_env()
    issuer = _open_issuer(options)
    registry = ClientRegistry.load(Path(options.clients), audience=options.audience)
    target = options.journal_url or issuer.config.journal_url or str(HomeConfig.journal_path(issuer.home))
    store = ServiceStore(target)
    role: WorkerRole | None = None
    anchor_worker: AnchorWorker | None = None
    if options.worker:
        publisher = StatusPublisher(issuer, every=options.status_every)
        anchor_worker = AnchorWorker(issuer, interval=options.worker_interval, publisher=publisher)
        role = WorkerRole(target, anchor_worker)
    # every process wakes its worker on a status change; only the role holder's is running (the others' wake is
    # a no-op, and the holder sees the change in the shared database at its next round)
    app = create_app(Service(issuer, registry, store, anchor_worker, Metrics(), verify_page=options.verify_page))
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        async with inner(application) as state:
            if role is not None:
                role.start()
            log_event("worker_process_serving", pid=os.getpid())
            try:
                yield state
            finally:
                if role is not None:
                    role.stop()
                store.close()
                issuer.close()
                log_event("worker_process_stopped", pid=os.getpid())

    app.router.lifespan_context = lifespan
    return app


def export_options(options: ServeOptions, *, passphrase_file: Path | None, pin_file: Path | None,
                   passphrase: bytes | None) -> None:
    """Put ``options`` and the key secret where :func:`create_from_env` finds them (this process's environment,
    inherited by the worker processes): the file's path when the secret came from a file, else the
    secret itself in ``CIVICCERT_KEY_PASSPHRASE`` (never on a command line)."""
    os.environ[OPTIONS_ENV] = options.to_env()
    if passphrase_file is not None:
        os.environ[PASSPHRASE_FILE_ENV] = str(passphrase_file.resolve())
    if pin_file is not None:
        os.environ[PIN_FILE_ENV] = str(pin_file.resolve())
    elif passphrase is not None and os.environb.get(_PASSPHRASE_ENV.encode()) != passphrase:
        os.environb[_PASSPHRASE_ENV.encode()] = passphrase  # typed at the prompt: the children cannot prompt
