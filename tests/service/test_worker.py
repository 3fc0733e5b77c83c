"""The anchoring worker: anchors by the batch policy, backs off through node outages, stops on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import civiccert as cc
from civiccert.issuance.home import ChainSettings, HomeConfig
from civiccert.service.worker import AnchorWorker

from pgkit import free_port
from worldkit import PASSPHRASE, make_world

REPO = Path(__file__).resolve().parents[2]


def _set_config(home: Path, **changes: object) -> None:
    config = HomeConfig.load(home)
    replace(config, **changes).save(home)  # type: ignore[arg-type]


def test_worker_anchors_only_once_the_oldest_pending_is_old_enough(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    world.issuer.close()
    _set_config(world.home, max_batch_age_seconds=1)
    issuer = cc.Issuer.open(world.home, passphrase=PASSPHRASE, chain=world.chain)
    worker = AnchorWorker(issuer, interval=0.1)
    issuer.issue(world.household())
    assert worker.run_once() == 0.1
    assert issuer.status()["anchored"] == 0  # one young credential: not due yet
    time.sleep(1.1)
    worker.run_once()
    assert issuer.status()["anchored"] == 2
    assert worker.stats.errors == 0
    issuer.close()


def test_worker_backs_off_exponentially_while_the_node_is_down_and_never_raises(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    world.issuer.close()
    config = HomeConfig.load(world.home)
    assert config.chain is not None
    dead = ChainSettings(url=f"http://127.0.0.1:{free_port()}", chain_id=config.chain.chain_id,
                         registry=config.chain.registry)  # fmt: skip
    _set_config(world.home, chain=dead, max_batch_age_seconds=0)
    issuer = cc.Issuer.open(world.home, passphrase=PASSPHRASE)
    issuer.issue(world.household())  # issuing never needs the node
    worker = AnchorWorker(issuer, interval=0.1, backoff_base=1.0, backoff_cap=4.0)
    assert [worker.run_once() for _ in range(4)] == [1.0, 2.0, 4.0, 4.0]
    assert worker.stats.last_error == cc.ReasonCode.CHAIN_UNREACHABLE.value
    assert issuer.status()["pending"] == 2
    issuer.close()


def test_anchor_watch_anchors_in_the_background_and_stops_cleanly_on_sigterm(
    tmp_path: Path, anvil_chain: cc.Chain
) -> None:
    world = make_world(tmp_path, chain=anvil_chain)
    world.issuer.close()
    _set_config(world.home, max_batch_age_seconds=0)
    issuer = cc.Issuer.open(world.home, passphrase=PASSPHRASE)
    issuer.issue(world.household())
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "CIVICCERT_KEY_PASSPHRASE": PASSPHRASE.decode()}
    proc = subprocess.Popen(
        [sys.executable, "-m", "civiccert.cli", "--home", str(world.home), "anchor", "--watch", "--interval", "0.2"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.time() + 30
        while issuer.status()["anchored"] < 2 and time.time() < deadline:
            time.sleep(0.2)
        assert issuer.status()["anchored"] == 2
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        issuer.close()
    assert proc.returncode == 0, err.decode()[-2000:]
    events = [json.loads(line)["event"] for line in err.decode().splitlines() if line.startswith("{")]
    assert events[0] == "worker_started"
    assert "signal" in events
    assert events[-1] == "worker_stopped"
