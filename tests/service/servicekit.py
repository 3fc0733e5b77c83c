"""Start ``civiccert serve`` in a subprocess on a free 127.0.0.1 port, with registered clients per role.

``served(world, folder)`` is the usual setup: an issuer world's home handed to one server that must stop cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from civiccert.issuance.home import HomeConfig

from pgkit import free_port
from worldkit import PASSPHRASE, World

REPO = Path(__file__).resolve().parents[2]
ROLES = ("clerk", "supervisor", "auditor", "verifier")


class Clients:
    """One key per role; ``token(role)`` signs a bearer token like a registered back-office system."""

    def __init__(self, folder: Path) -> None:
        self.keys = {role: ec.generate_private_key(ec.SECP256R1()) for role in ROLES}
        entries = [{"client_id": f"{role}-system", "role": role,
                    "jwk": json.loads(ECAlgorithm.to_jwk(key.public_key()))} for role, key in self.keys.items()]
        self.path = folder / "clients.json"
        self.path.write_text(json.dumps({"clients": entries}), encoding="utf-8")

    def token(self, role: str, *, lifetime: int = 120, age: int = 0, key: Any = None) -> str:
        now = int(time.time()) - age
        claims = {"iss": f"{role}-system", "sub": f"{role}-system", "aud": "civiccert", "iat": now,
                  "exp": now + lifetime}
        return jwt.encode(claims, key or self.keys[role], algorithm="ES256")

    def headers(self, role: str, idempotency_key: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token(role)}"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        return headers


class Server:
    """A ``civiccert serve`` process; stopped by its PID (SIGTERM, or SIGKILL with ``kill``)."""

    def __init__(self, home: Path, clients: Clients, *, passphrase: bytes, journal_url: str | None = None,
                 worker: bool = True, port: int | None = None, extra_args: tuple[str, ...] = ()) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "CIVICCERT_KEY_PASSPHRASE": passphrase.decode()}
        if journal_url:
            env["CIVICCERT_JOURNAL_URL"] = journal_url
        args = [sys.executable, "-m", "civiccert.cli", "--home", str(home), "serve", "--clients", str(clients.path),
                "--port", str(self.port), "--worker-interval", "0.2"]
        if not worker:
            args.append("--no-worker")
        args.extend(extra_args)
        self.log = home.parent / f"server-{self.port}.log"
        self._log = self.log.open("wb")
        self.proc = subprocess.Popen(args, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited: " + self.log.read_text(errors="replace")[-2000:])
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(30)
        finally:
            self._log.close()
        return code

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(30)
        self._log.close()


def hand_over(world: World, folder: Path, *, batch_age: int | None = None,
              extra: Mapping[str, Any] | None = None) -> Clients:  # fmt: skip
    """Ready ``world``'s home for ``civiccert serve``: close its issuer (a server opens the home itself), set
    ``max_batch_age_seconds`` and merge ``extra`` into the home config when given, and register one client per
    role in ``folder``. Start servers with ``Server(world.home, clients, passphrase=PASSPHRASE, ...)``."""
    world.issuer.close()
    if batch_age is not None or extra:
        config = HomeConfig.load(world.home)
        age = config.max_batch_age_seconds if batch_age is None else batch_age
        replace(config, max_batch_age_seconds=age, extra={**config.extra, **(extra or {})}).save(world.home)
    return Clients(folder)


@contextmanager
def served(world: World, folder: Path, *, batch_age: int | None = None, extra: Mapping[str, Any] | None = None,
           **options: Any) -> Iterator[tuple[Clients, Server]]:  # fmt: skip
    """``hand_over`` then one ``Server(**options)`` for the block; leaving it stops the server, which must exit 0
    with no traceback in its log (not checked when the block raised: its error is the one to see)."""
    clients = hand_over(world, folder, batch_age=batch_age, extra=extra)
    server = Server(world.home, clients, passphrase=PASSPHRASE, **options)
    try:
        yield clients, server
    finally:
        code = server.stop()
    log = server.log.read_text(errors="replace")
    assert code == 0, log[-3000:]
    assert "Traceback" not in log


class AppClient:
    """An ASGI app called in process through httpx (starlette's TestClient wants a package we do not use)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async def call() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://app.test") as client:
                return await client.request(method, path, **kwargs)

        return anyio.run(call)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)
