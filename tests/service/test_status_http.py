"""Status lists through the service: served over real HTTP, changed by supervisors, published by the worker,
anchored, and fetched by the verifier from 127.0.0.1 (``civiccert serve`` as the list's web server)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace

import httpx
import pytest

import civiccert as cc
from civiccert.credentials.sdjwt import unverified_payload
from civiccert.home import HomeConfig
from civiccert.status import Status, parse_token
from civiccert.status.publish import Manifest

from pgkit import free_port
from servicekit import Clients, Server
from worldkit import PASSPHRASE, World, make_world


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
    world.issuer.close()
    port = free_port()
    uri = f"http://127.0.0.1:{port}/status/1"
    config = HomeConfig.load(world.home)
    replace(config, max_batch_age_seconds=0, extra={**config.extra, "status_list_uri": uri}).save(world.home)
    clients = Clients(folder)
    server = Server(world.home, clients, passphrase=PASSPHRASE, port=port)
    try:
        yield Api(server, clients, world, uri)
    finally:
        code = server.stop()
    assert code == 0, server.log.read_text(errors="replace")[-3000:]
    assert "Traceback" not in server.log.read_text(errors="replace")


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

