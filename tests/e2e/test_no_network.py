"""Offline verification makes no network call at all; online verification talks only to the configured node."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

import civiccert as cc

from worldkit import World


def test_offline_verification_opens_no_socket(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cred = world.issue_anchored()
    pdf = world.issuer.print_pdf(cred, tmp_path / "copy.pdf")
    shown = cc.present(cred, ["members[0].name"])
    verifier = world.offline_verifier()
    attempts: list[Any] = []

    def refuse(self: socket.socket, address: Any) -> None:
        attempts.append(address)
        raise OSError("network use during offline verification")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: attempts.append(a) or [])
    results = [verifier.verify(cred), verifier.verify(shown), *verifier.verify_path(pdf)]
    assert [r.verdict for r in results] == [cc.Verdict.VALID] * 3
    assert attempts == []


@pytest.mark.anvil
def test_online_verification_talks_only_to_the_configured_node(anvil: cc.AnvilNode, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from worldkit import make_world

    chain = cc.connect(anvil.url)
    world = make_world(tmp_path, chain=chain)
    cred = world.issue_anchored()
    fresh = cc.OnlineRegistry.lazy(lambda: cc.connect(anvil.url), world.registry.address)  # new connections
    verifier = cc.Verifier(registry=fresh)
    seen: set[Any] = set()
    real_connect = socket.socket.connect

    def record(self: socket.socket, address: Any) -> None:
        seen.add(tuple(address)[:2] if isinstance(address, tuple) else address)
        real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", record)
    assert verifier.verify(cred).verdict is cc.Verdict.VALID
    assert seen == {("127.0.0.1", anvil.port)}
    world.issuer.close()
