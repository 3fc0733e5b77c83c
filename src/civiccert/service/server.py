"""Run the service: open the issuer home, the client registry and the store, start the worker, serve HTTP.

``civiccert serve`` calls :func:`serve`; tests and deployments start the same thing. The worker (anchoring and
status-list publication) runs in a thread of the server process (``worker=False`` for servers that only take
requests); among several servers on
one PostgreSQL journal only the lease holder anchors at a time. SIGTERM makes uvicorn finish the requests in
flight, then the worker stops between two attempts and the databases are closed. With ``workers`` > 1,
that many processes of :mod:`civiccert.service.workers` serve instead (:mod:`civiccert.service.processes`,
one listening socket each), one of them holding the worker.
"""

from __future__ import annotations

import signal
from pathlib import Path
from types import FrameType

from civiccert.issuance.home import HomeConfig
from civiccert.issuance.issuer import Issuer
from civiccert.service.auth import DEFAULT_AUDIENCE, ClientRegistry
from civiccert.service.logs import configure_logging, log_event
from civiccert.service.metrics import Metrics
from civiccert.service.processes import run_processes
from civiccert.service.publisher import StatusPublisher
from civiccert.service.store import ServiceStore
from civiccert.service.worker import AnchorWorker

__all__ = ["serve"]


def serve(
    issuer: Issuer,
    *,
    clients: Path,
    host: str = "127.0.0.1",
    port: int = 8080,
    audience: str = DEFAULT_AUDIENCE,
    worker: bool = True,
    worker_interval: float = 1.0,
    journal_url: str | None = None,
    status_every: float = 6 * 3600.0,
    verify_page: bool = True,
    workers: int = 1,
    passphrase_file: Path | None = None,
    pin_file: Path | None = None,
    passphrase: bytes | None = None,
) -> None:
    """Serve the API until SIGTERM/SIGINT (blocks). With ``workers`` > 1, that many processes serve it
    (:mod:`civiccert.service.workers`); they reopen the home with the secret from ``passphrase_file`` /
    ``pin_file`` or the inherited environment (``passphrase`` when it was typed at a prompt)."""
    import uvicorn

    from civiccert.service.app import Service, create_app

    configure_logging()
    target = journal_url or issuer.config.journal_url or str(HomeConfig.journal_path(issuer.home))
    if workers > 1:
        from civiccert.service.workers import ServeOptions, export_options

        issuer.close()  # the workers open their own (this one proved the key opens)
        options = ServeOptions(home=str(issuer.home.resolve()), clients=str(clients.resolve()), audience=audience,
                               journal_url=journal_url, worker=worker, worker_interval=worker_interval,
                               status_every=status_every, verify_page=verify_page)
        export_options(options, passphrase_file=passphrase_file, pin_file=pin_file, passphrase=passphrase)
        log_event("serving", host=host, port=port, worker=worker, workers=workers)
        run_processes(workers, host, port)  # until SIGTERM/SIGINT: each process finishes its requests
        log_event("stopped")
        return
    registry = ClientRegistry.load(clients, audience=audience)
    store = ServiceStore(target)
    publisher = StatusPublisher(issuer, every=status_every)
    anchor_worker = AnchorWorker(issuer, interval=worker_interval, publisher=publisher) if worker else None
    app = create_app(Service(issuer, registry, store, anchor_worker, Metrics(), verify_page=verify_page))
    if anchor_worker is not None:
        anchor_worker.start()
    log_event("serving", host=host, port=port, worker=anchor_worker is not None)
    # uvicorn shuts down gracefully on SIGTERM, then re-raises it to the handler it found: ours only logs,
    # so the cleanup below runs and the process exits 0 (a clean stop for systemd and compose)
    previous = {sig: signal.signal(sig, _note_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, server_header=False)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if anchor_worker is not None:
            anchor_worker.stop()
        store.close()
        issuer.close()
        log_event("stopped")


def _note_signal(signum: int, _frame: FrameType | None) -> None:
    log_event("signal", signal=signal.Signals(signum).name)
