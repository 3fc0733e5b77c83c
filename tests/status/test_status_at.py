"""``--at``: "was it valid then", from the chain's history of anchored status-list publications."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import civiccert as cc
from civiccert.errors import ReasonCode
from civiccert.status import StatusListSource
from civiccert.verification.result import CheckName, Outcome

from worldkit import World, make_world

ROOT = Path(__file__).resolve().parents[2]


def _advance(chain: cc.Chain, seconds: int) -> None:
    latest = int(chain.w3.eth.get_block("latest")["timestamp"])
    chain.w3.testing.timeTravel(latest + seconds)  # type: ignore[attr-defined]
    chain.w3.testing.mine()  # type: ignore[attr-defined]


def _revocation_at(world: World, cred: cc.CredentialFile, lists: Path, at: int, *, online: bool = True
                   ) -> tuple[Outcome, ReasonCode]:
    registry = cc.OnlineRegistry.of(world.chain, world.registry.address) if online else None
    verifier = cc.Verifier(trust=world.issuer.trust_export(), registry=registry, policy=cc.Policy(at=at),
                           status_lists=StatusListSource(directory=lists))
    check = next(c for c in verifier.verify(cred).checks if c.name is CheckName.REVOCATION)
    return check.outcome, check.code


def test_status_then_comes_from_the_publication_anchored_as_current_then(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    h = world.household()
    cred = world.issue_anchored(dataclasses.replace(h, request=dataclasses.replace(h.request, members=(0,))))
    lists = tmp_path / "published"
    world.issuer.publish_status(lists / "0")
    _advance(world.chain, 100)
    world.issuer.suspend(cred)
    world.issuer.publish_status(lists / "1")
    world.issuer.publish_status(lists / "fork", anchor=False)  # signed, never anchored: never "current"
    _advance(world.chain, 100)
    world.issuer.revoke(cred)
    world.issuer.publish_status(lists / "2")
    times = [at for _, at in world.registry.status_lists_history(world.issuer.config.municipality_code)]
    assert len(times) == 3
    assert _revocation_at(world, cred, lists, times[0] - 10) == (Outcome.UNKNOWN, ReasonCode.STATUS_LIST_UNANCHORED)
    assert _revocation_at(world, cred, lists, times[0] + 50) == (Outcome.PASSED, ReasonCode.OK)  # revoked on chain now
    assert _revocation_at(world, cred, lists, times[1] + 50) == (Outcome.FAILED, ReasonCode.SUSPENDED)
    assert _revocation_at(world, cred, lists, times[2] + 5) == (Outcome.FAILED, ReasonCode.REVOKED)
    assert _revocation_at(world, cred, lists / "1", times[2] + 5) == (  # the publication current then is missing
        Outcome.UNKNOWN, ReasonCode.STATUS_LIST_UNAVAILABLE)
    # offline: the newest list at hand issued by then (no proof it was published)
    soon = int(time.time()) + 60
    assert _revocation_at(world, cred, lists / "0", soon, online=False) == (Outcome.PASSED, ReasonCode.OK)
    assert _revocation_at(world, cred, lists / "2", soon, online=False) == (Outcome.FAILED, ReasonCode.REVOKED)
    assert _revocation_at(world, cred, lists / "0", soon + 2 * 86400, online=False) == (
        Outcome.UNKNOWN, ReasonCode.STATUS_LIST_EXPIRED)  # exp judged at that time
    assert _revocation_at(world, cred, lists, 1, online=False) == (Outcome.UNKNOWN, ReasonCode.STATUS_LIST_UNAVAILABLE)


def test_cli_at_needs_an_offset_and_answers(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    cred = world.issuer.issue(world.seal())
    world.issuer.publish_status(tmp_path / "lists", anchor=False)
    (tmp_path / "cred.json").write_text(json.dumps(cred.to_dict()), encoding="utf-8")
    world.issuer.trust_export().save(tmp_path / "trust.json")
    base = [sys.executable, "-m", "civiccert", "verify", "--trust", str(tmp_path / "trust.json"), "--offline",
            "--status-lists", str(tmp_path / "lists"), "--json", str(tmp_path / "cred.json"), "--at"]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    naive = subprocess.run([*base, "2026-11-30T10:00:00"], capture_output=True, text=True, env=env, check=False)
    assert naive.returncode == 64, naive.stderr
    before = subprocess.run([*base, "2000-01-01T00:00:00+09:00"], capture_output=True, text=True, env=env,
                            check=False)  # fmt: skip
    checks = {c["check"]: c for c in json.loads(before.stdout)["checks"]}
    assert checks["validity"]["code"] == "not_yet_valid"  # judged at that time
    assert checks["revocation"]["code"] == "status_list_unavailable"  # no list issued by then
    assert before.returncode == 1
