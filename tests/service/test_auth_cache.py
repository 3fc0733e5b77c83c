"""Bearer tokens are verified once, then remembered until they expire (the clock is still checked)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from civiccert.errors import ReasonCode, ServiceError
from civiccert.service.auth import ClientRegistry, Role

from servicekit import Clients


def test_a_remembered_token_still_expires(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clients = Clients(tmp_path)
    registry = ClientRegistry.load(clients.path)
    token = clients.token("clerk", lifetime=60)
    assert registry.authenticate(f"Bearer {token}").role is Role.CLERK

    def no_second_check(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("verified twice")

    monkeypatch.setattr(registry, "_verify", no_second_check)
    assert registry.authenticate(f"Bearer {token}").client_id == "clerk-system"  # from the cache
    with pytest.raises(ServiceError) as caught:
        registry.authenticate(f"Bearer {token}", now=time.time() + 3600)
    assert caught.value.code is ReasonCode.AUTH_EXPIRED


def test_a_forged_token_is_not_remembered(tmp_path: Path) -> None:
    clients = Clients(tmp_path)
    registry = ClientRegistry.load(clients.path)
    forged = clients.token("clerk", key=clients.keys["auditor"])
    for _ in range(2):
        with pytest.raises(ServiceError) as caught:
            registry.authenticate(f"Bearer {forged}")
        assert caught.value.code is ReasonCode.AUTH_INVALID
