"""Status lists through the service: served over real HTTP, changed by supervisors, published by the worker,
anchored, and fetched by the verifier from 127.0.0.1 (``civiccert serve`` as the list's web server)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

import civiccert as cc
from civiccert.credentials.sdjwt import unverified_payload
from civiccert.errors import ReasonCode
from civiccert.issuance.publish import trust_export
from civiccert.status import Status, StatusListSource, parse_token
from civiccert.status.publish import Manifest
from civiccert.verification.result import CheckName, Outcome

from pgkit import free_port
from servicekit import REPO, Clients, Server, served
from worldkit import World, make_world


@dataclass
class Api:
    server: Server
    clients: Clients
    world: World
    uri: str

    def post(self, path: str, role: str = "supervisor", key: str | None = None, body: object = None) -> httpx.Response:
        key = key or f"k-{time.time_ns()}"
        return httpx.post(self.server.url + path, json=body or {}, headers=self.clients.headers(role, key), timeout=60)

    def issue(self) -> dict[str, object]:
        record = json.loads(cc.sample_record_path("household-matsudo.json").read_text(encoding="utf-8"))
        response = self.post("/v1/credentials", role="clerk", body={"record": record})
        assert response.status_code == 201, response.text
        credential: dict[str, object] = response.json()["credential"]
        return credential

    def served_status(self, idx: int) -> int:
        return parse_token(httpx.get(self.uri, timeout=10).content).status(idx)

    def wait_for(self, idx: int, status: Status) -> None:
        deadline = time.time() + 20
        while self.served_status(idx) != status:
            assert time.time() < deadline, f"the worker did not publish {status.name}"
            time.sleep(0.1)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, anvil_chain: cc.Chain) -> Iterator[Api]:
    folder = tmp_path_factory.mktemp("status-api")
    world = make_world(folder, chain=anvil_chain)
    port = free_port()
    uri = f"http://127.0.0.1:{port}/status/1"
    with served(world, folder, batch_age=0, extra={"status_list_uri": uri}, port=port) as (clients, server):
        yield Api(server, clients, world, uri)


def _reference(credential: dict[str, object]) -> tuple[int, str]:
    ref = unverified_payload(cc.CredentialFile.from_dict(credential).sd_jwt)["status"]["status_list"]
    return int(ref["idx"]), str(ref["uri"])


def test_lists_are_served_with_their_types_and_cache_headers(api: Api) -> None:
    idx, uri = _reference(api.issue())
    assert uri == api.uri
    jwt = httpx.get(uri, timeout=10)
    assert jwt.status_code == 200
    assert jwt.headers["content-type"] == "application/statuslist+jwt"
    token = parse_token(jwt.content)
    assert jwt.headers["cache-control"] == f"public, max-age={token.ttl}"
    assert token.sub == uri
    assert token.status(idx) == Status.VALID
    cwt = httpx.get(uri, headers={"Accept": "application/statuslist+cwt"}, timeout=10)
    assert cwt.headers["content-type"] == "application/statuslist+cwt"
    assert parse_token(cwt.content).form == "cwt"
    manifest = Manifest.parse(httpx.get(uri.rsplit("/", 1)[0] + "/status-lists.json", timeout=10).content)
    assert manifest.covers(uri, token.sha256) or manifest.covers(uri, parse_token(cwt.content).sha256)
    missing = httpx.get(uri + "0", timeout=10)
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")


def test_supervisor_changes_are_published_and_anchored_by_the_worker(api: Api) -> None:
    credential = api.issue()
    idx, _ = _reference(credential)
    cid = str(credential["id"])
    denied = api.post(f"/v1/credentials/{cid}/suspend", role="clerk")
    assert (denied.status_code, denied.json()["code"]) == (403, "role_forbidden")
    steps: list[tuple[str, Status]] = [("suspend", Status.SUSPENDED), ("reinstate", Status.VALID),
                                       ("supersede", Status.SUPERSEDED)]
    for action, status in steps:
        response = api.post(f"/v1/credentials/{cid}/{action}", key=f"{action}-{cid}")
        assert response.status_code == 200, response.text
        assert response.json()["status"] == status.name.lower()
        again = api.post(f"/v1/credentials/{cid}/{action}", key=f"{action}-{cid}")  # an idempotent retry
        assert again.headers["idempotent-replayed"] == "true"
        api.wait_for(idx, status)
    refused = api.post(f"/v1/credentials/{cid}/reinstate")
    assert (refused.status_code, refused.json()["code"]) == (409, "journal_conflict")
    unknown = api.post("/v1/credentials/no-such-credential/suspend")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "credential_unknown")
    assert api.post(f"/v1/credentials/{cid}/revoke", body={"reason": "superseded"}).status_code == 202
    api.wait_for(idx, Status.INVALID)
    deadline = time.time() + 20  # the publication's manifest is the municipality's latest anchored root
    manifest = Manifest.parse(httpx.get(api.uri.rsplit("/", 1)[0] + "/status-lists.json", timeout=10).content)
    while api.world.registry.status_lists_root("122076") != manifest.root:
        assert time.time() < deadline, "the publication was not anchored"
        time.sleep(0.2)
        manifest = Manifest.parse(httpx.get(api.uri.rsplit("/", 1)[0] + "/status-lists.json", timeout=10).content)
    audit = httpx.get(api.server.url + "/v1/audit", headers=api.clients.headers("auditor"), timeout=10).json()
    actions = [e["action"] for e in audit["entries"] if cid in e["credential_ids"]]
    assert actions == ["issue", "suspend", "reinstate", "supersede", "revoke"]



def _revocation(result: cc.VerificationResult) -> tuple[Outcome, ReasonCode, str]:
    check = next(c for c in result.checks if c.name is CheckName.REVOCATION)
    return check.outcome, check.code, check.detail


def test_verifier_fetches_the_served_list_from_loopback_only_when_allowed_and_caches_for_ttl(api: Api) -> None:
    credential = api.issue()
    cred = cc.CredentialFile.from_dict(credential)
    trust = trust_export(api.world.home)
    now = [time.time()]
    source = StatusListSource(fetch=True, allow_loopback_http=True, clock=lambda: now[0])
    verifier = cc.Verifier(trust=trust, status_lists=source)
    outcome, code, detail = _revocation(verifier.verify(cred))
    assert (outcome, code) == (Outcome.PASSED, ReasonCode.OK)
    assert "fetched" in detail
    assert api.post(f"/v1/credentials/{cred.id}/suspend").status_code == 200
    api.wait_for(_reference(credential)[0], Status.SUSPENDED)
    outcome, code, detail = _revocation(verifier.verify(cred))
    assert (outcome, code) == (Outcome.PASSED, ReasonCode.OK)  # still the cached list: ttl not over
    assert "cache" in detail
    now[0] += 3601  # past the ttl (3600 s): fetched again
    assert _revocation(verifier.verify(cred))[:2] == (Outcome.FAILED, ReasonCode.SUSPENDED)
    refused = cc.Verifier(trust=trust, status_lists=StatusListSource(fetch=True))  # the default: no loopback
    assert _revocation(refused.verify(cred))[:2] == (Outcome.UNKNOWN, ReasonCode.STATUS_FETCH_REFUSED)


def test_a_name_is_resolved_once_and_the_connection_goes_to_the_checked_address(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = socket.getaddrinfo
    answers = iter(["127.0.0.1"])  # the rebinding answer comes second: an internal address

    def rebinding(host: str, *args: Any, **kwargs: Any) -> Any:
        if host == "status.rebind.test":
            address = next(answers, "10.1.2.3")
            return real(address, *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    uri = api.uri.replace("127.0.0.1", "status.rebind.test")
    token, _, origin = StatusListSource(fetch=True, allow_loopback_http=True)._fetched(uri)
    assert origin == "fetched"
    assert token.sub == api.uri  # served by our server, reached at the first (checked) address only
    with pytest.raises(cc.CredentialError) as info:  # the next resolution is internal: refused before connecting
        StatusListSource(fetch=True, allow_loopback_http=True)._fetched(uri)
    assert info.value.code is ReasonCode.STATUS_FETCH_REFUSED


def test_cli_verify_fetch_status_from_a_local_server(api: Api, tmp_path: Path) -> None:
    credential = api.issue()
    (tmp_path / "cred.json").write_text(json.dumps(credential), encoding="utf-8")
    trust_export(api.world.home).save(tmp_path / "trust.json")
    base = [sys.executable, "-m", "civiccert", "verify", "--trust", str(tmp_path / "trust.json"), "--json",
            "--fetch-status", str(tmp_path / "cred.json")]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    refused = subprocess.run(base, capture_output=True, text=True, env=env, timeout=60, check=False)
    allowed = subprocess.run([*base[:-1], "--status-allow-http-loopback", base[-1]], capture_output=True,
                             text=True, env=env, timeout=60, check=False)  # fmt: skip
    assert refused.returncode == 2, refused.stderr  # INDETERMINATE: the list could not be fetched
    assert "Traceback" not in refused.stderr + allowed.stderr
    checks = {c["check"]: c for c in json.loads(allowed.stdout)["checks"]}
    assert checks["revocation"]["code"] == "ok", allowed.stdout
    assert allowed.returncode in (0, 2)  # VALID, or INDETERMINATE only for not being anchored yet
