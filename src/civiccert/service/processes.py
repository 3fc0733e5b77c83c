"""``civiccert serve --workers N``: N server processes, each listening on its own socket of the same port.

uvicorn's supervisor gives every worker one shared listening socket, and a worker's event loop, once woken,
accepts every pending connection at once: a burst of keep-alive connections (a gateway's pool, a load test's
clients) lands almost whole on one process — 30 of 32 measured (docs/benchmarks.md) — while the other idles.
Here each process opens its own socket with ``SO_REUSEPORT`` and the kernel spreads new connections over
them by their addresses' hash. The supervisor holds the port (bound, not listening: nothing else can take it),
starts a new process when one dies, and on SIGTERM/SIGINT stops them all (each finishes its requests) and
returns.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import time
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType

from civiccert.service.logs import log_event

__all__ = ["run_processes"]

_APP_FACTORY = "civiccert.service.workers:create_from_env"
_STOP_GRACE_SECONDS = 60.0  # each process finishes its requests in flight, then the databases are closed
_RESTART_PAUSE_SECONDS = 1.0  # a process that dies at start-up is not restarted in a tight loop


def _listener(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` in the port's SO_REUSEPORT group (not yet listening)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def _serve_one(host: str, port: int) -> None:
    """One worker process: the app of :mod:`civiccert.service.workers` on a socket of its own."""
    import uvicorn

    config = uvicorn.Config(_APP_FACTORY, factory=True, log_level="warning", access_log=False, server_header=False)
    uvicorn.Server(config).run(sockets=[_listener(host, port)])


def run_processes(count: int, host: str, port: int) -> None:
    """Serve with ``count`` processes until SIGTERM/SIGINT (blocks); OSError when the port is taken."""
    holder = _listener(host, port)
    context = multiprocessing.get_context("spawn")  # a fresh interpreter each: no threads or locks forked
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        log_event("signal", signal=signal.Signals(signum).name)

    def start() -> BaseProcess:
        process = context.Process(target=_serve_one, args=(host, port), name="civiccert-serve", daemon=False)
        process.start()
        return process

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    processes = [start() for _ in range(count)]
    started = [time.monotonic()] * count
    try:
        while not stopping:
            ended = set(wait([p.sentinel for p in processes], timeout=0.5))
            for i, process in enumerate(processes):
                if process.sentinel in ended and not stopping:
                    log_event("worker_process_died", level=logging.WARNING, pid=process.pid,
                              exit_code=process.exitcode)  # fmt: skip
                    time.sleep(max(0.0, started[i] + _RESTART_PAUSE_SECONDS - time.monotonic()))
                    processes[i], started[i] = start(), time.monotonic()
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes the requests in flight
        deadline = time.monotonic() + _STOP_GRACE_SECONDS
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
        holder.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
