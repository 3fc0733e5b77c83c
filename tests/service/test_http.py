"""The HTTP API through real HTTP: a ``civiccert serve`` subprocess on 127.0.0.1 with its anchoring worker."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

import civiccert as cc

from servicekit import Clients, Server, served
from worldkit import World, make_world


@dataclass
class Api:
    server: Server
    clients: Clients
    world: World

    def post(self, path: str, body: object, role: str = "clerk", key: str | None = "retry-key-0001",
             **kwargs: object) -> httpx.Response:  # fmt: skip
        return httpx.post(self.server.url + path, json=body, headers=self.clients.headers(role, key), timeout=60)

    def get(self, path: str, role: str = "clerk") -> httpx.Response:
        return httpx.get(self.server.url + path, headers=self.clients.headers(role), timeout=30)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, anvil_chain: cc.Chain) -> Iterator[Api]:
    folder = tmp_path_factory.mktemp("api")
    world = make_world(folder, chain=anvil_chain)
    with served(world, folder, batch_age=0) as (clients, server):
        yield Api(server, clients, world)


def _record() -> dict[str, object]:
    return json.loads(cc.sample_record_path("household-matsudo.json").read_text(encoding="utf-8"))


def _code(response: httpx.Response) -> tuple[int, str, str | None]:
    body = response.json()
    assert set(body) == {"code", "field", "message"}
    return response.status_code, body["code"], body["field"]


def test_no_token_wrong_role_expired_or_forged_token_are_refused_with_a_reason(api: Api) -> None:
    url = api.server.url + "/v1/credentials"
    assert _code(httpx.post(url, json={"record": _record()}))[:2] == (401, "auth_missing")
    assert _code(api.post("/v1/credentials", {"record": _record()}, role="auditor"))[:2] == (403, "role_forbidden")
    expired = api.clients.token("clerk", lifetime=60, age=600)
    response = httpx.post(url, json={}, headers={"Authorization": f"Bearer {expired}"})
    assert _code(response)[:2] == (401, "auth_expired")
    forged = api.clients.token("clerk", key=api.clients.keys["auditor"])  # a clerk's claims, another key
    assert _code(httpx.post(url, json={}, headers={"Authorization": f"Bearer {forged}"}))[:2] == (401, "auth_invalid")
    too_long = api.clients.token("clerk", lifetime=3600)
    assert _code(httpx.post(url, json={}, headers={"Authorization": f"Bearer {too_long}"}))[:2] == (401, "auth_expired")
    assert _code(api.get("/v1/audit", role="clerk"))[:2] == (403, "role_forbidden")


def test_malformed_oversized_and_invalid_bodies_name_the_field(api: Api) -> None:
    headers = api.clients.headers("clerk", "malformed-0001")
    response = httpx.post(api.server.url + "/v1/credentials", content=b'{"record": {', headers=headers)
    assert _code(response) == (422, "json_invalid", "body")
    huge = b'{"record": "' + b"x" * (5 * 1024 * 1024) + b'"}'
    response = httpx.post(api.server.url + "/v1/credentials", content=huge, headers=headers)
    assert _code(response) == (413, "input_too_large", "body")
    record = _record()
    del record["members"]  # type: ignore[arg-type]
    status, code, field = _code(api.post("/v1/credentials", {"record": record}, key="invalid-0001"))
    assert (status, code) == (422, "schema_violation") or (status, code) == (422, "field_missing")
    assert field is not None
    assert field.startswith("record")
    assert _code(api.post("/v1/credentials", {"record": _record()}, key=None)) == (
        428, "idempotency_key_missing", "idempotency-key")
    assert _code(api.get("/v1/no-such-route"))[:2] == (404, "not_found")


def test_a_retried_request_returns_the_same_credential_and_a_reused_key_is_refused(api: Api) -> None:
    first = api.post("/v1/credentials", {"record": _record()}, key="same-key-0001")
    again = api.post("/v1/credentials", {"record": _record()}, key="same-key-0001")
    assert first.status_code == again.status_code == 201
    assert first.json()["credential"] == again.json()["credential"]
    assert again.headers["idempotent-replayed"] == "true"
    other = api.post("/v1/credentials", {"record": _record(), "paper": False}, key="same-key-0001")
    assert _code(other)[:2] == (422, "idempotency_key_reused")


def test_issue_is_anchored_by_the_worker_then_receipt_verify_print_revoke_and_audit(api: Api) -> None:
    issued = api.post("/v1/credentials", {"record": _record()}, key="flow-issue-0001").json()["credential"]
    deadline = time.time() + 30
    while api.get(f"/v1/credentials/{issued['id']}").json()["state"] != "anchored":
        assert time.time() < deadline, "the worker did not anchor"
        time.sleep(0.2)
    with_receipt = api.post("/v1/credentials/receipt", issued).json()
    assert with_receipt["anchored"] is True
    result = api.post("/v1/verify", {"credential": with_receipt["credential"]}, role="verifier").json()
    assert result["verdict"] == "VALID", result
    pdf = api.post("/v1/credentials/print", with_receipt["credential"])
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    revoked = api.post(f"/v1/credentials/{issued['id']}/revoke", {"reason": "superseded"}, role="supervisor",
                       key="flow-revoke-0001")  # fmt: skip
    assert revoked.status_code == 202
    assert issued["id"] in revoked.json()["credential_ids"]
    audit = api.get("/v1/audit", role="auditor")
    entries = audit.json()["entries"]
    actions = {(e["action"], e["client_id"]) for e in entries if issued["id"] in e["credential_ids"]}
    assert actions == {("issue", "clerk-system"), ("print", "clerk-system"), ("revoke", "supervisor-system")}
    assert "松戸" not in audit.text  # ids and codes only
    assert api.post("/v1/credentials/no-such-credential/revoke", {}, role="supervisor",
                    key="flow-revoke-0002").status_code == 404  # fmt: skip


def test_health_readiness_metrics_openapi_and_public_keys(api: Api) -> None:
    assert httpx.get(api.server.url + "/healthz").json() == {"status": "ok"}
    assert httpx.get(api.server.url + "/readyz").status_code == 200
    metrics = httpx.get(api.server.url + "/metrics").text
    assert "civiccert_pending_age_seconds" in metrics
    assert "civiccert_issued_total" in metrics
    spec = httpx.get(api.server.url + "/openapi.json").json()
    schema = spec["paths"]["/v1/credentials"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "members" in json.dumps(schema)  # the record schemas are the request schemas
    trust = httpx.get(api.server.url + "/v1/issuer").json()
    assert trust["source"] == "issuer"
