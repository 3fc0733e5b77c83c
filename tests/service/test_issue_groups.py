"""Concurrent single-issue requests share their commits (service.issuing) and still each get their own answer:
its credential or its error naming the field, its stored response for a retry, its audit entry."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

import civiccert as cc
from civiccert.errors import ReasonCode

from servicekit import Clients, Server

PASSPHRASE = b"group passphrase"


def _metric(text: str, name: str) -> float:
    return float(next(line.split()[-1] for line in text.splitlines() if line.startswith(name + " ")))


def test_concurrent_issues_are_grouped_and_each_answered_alone(tmp_path: Path) -> None:
    home = tmp_path / "home"
    cc.Issuer.init(home, municipality_code="122076", municipality_name="松戸市", passphrase=PASSPHRASE).close()
    clients = Clients(tmp_path)
    server = Server(home, clients, passphrase=PASSPHRASE, worker=False)
    good = json.loads(cc.sample_record_path("household-matsudo.json").read_text(encoding="utf-8"))
    bad = json.loads(json.dumps(good))
    bad["members"][1]["sex"] = "X"
    bodies = {f"group-good-{i:04d}": {"record": good} for i in range(18)}
    bodies |= {f"group-nopaper-{i:04d}": {"record": good, "paper": False} for i in range(3)}
    bodies |= {f"group-bad-{i:04d}": {"record": bad} for i in range(3)}
    other = json.loads(json.dumps(good))
    other["municipality"] = {"code": "131016", "name": "千代田区"}
    bodies |= {f"group-other-{i:04d}": {"record": other} for i in range(2)}
    token = clients.token("clerk", lifetime=300)

    def post(key: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
        return httpx.post(server.url + "/v1/credentials", json=bodies[key], headers=headers, timeout=60)

    try:
        with ThreadPoolExecutor(len(bodies)) as pool:
            first = dict(zip(bodies, pool.map(post, bodies), strict=True))
        retried = {key: post(key) for key in bodies}
        audit = httpx.get(server.url + "/v1/audit", headers=clients.headers("auditor"), timeout=30).json()
        metrics = httpx.get(server.url + "/metrics", timeout=30).text
    finally:
        assert server.stop() == 0
    ids = set()
    for key, response in first.items():
        if key.startswith("group-other"):  # valid record, another city: refused by the issuer, alone
            assert (response.status_code, response.json()["field"]) == (422, "municipality")
            assert response.json()["code"] == ReasonCode.FIELD_INVALID.value
            continue
        if key.startswith("group-bad"):
            assert response.status_code == 422
            assert response.json()["code"] == ReasonCode.SCHEMA_VIOLATION.value
            assert response.json()["field"] == "record.members[1].sex"
            assert retried[key].json() == response.json()
            continue
        assert response.status_code == 201, response.text
        cred = response.json()["credential"]
        assert (cred["paper"] is None) == key.startswith("group-nopaper")
        assert retried[key].status_code == 201
        assert retried[key].headers["Idempotent-Replayed"] == "true"
        assert retried[key].json() == response.json()
        ids.add(cred["id"])
    assert len(ids) == 21
    issued = [e for e in audit["entries"] if e["action"] == "issue"]
    assert sorted(i for e in issued for i in e["credential_ids"]) == sorted(ids)  # one entry per credential
    assert _metric(metrics, "civiccert_issue_group_requests_total") == 2 * len(bodies)  # the retries one by one
    assert _metric(metrics, "civiccert_issue_groups_total") < 2 * len(bodies)  # concurrent ones shared groups
    assert _metric(metrics, "civiccert_issued_total") == 21
