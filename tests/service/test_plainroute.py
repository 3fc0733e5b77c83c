"""The plain ASGI routes (service.plainroute): the same caps, errors and counts as a FastAPI route."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import Response

from civiccert.errors import CivicCertError, ReasonCode, ServiceError
from civiccert.service.asgi import json_response
from civiccert.service.metrics import Metrics
from civiccert.service.plainroute import PlainRoutesApp, plain_route

from servicekit import AppClient


def _app(metrics: Metrics, seen: list[bytes]) -> PlainRoutesApp:
    app = PlainRoutesApp()

    @app.post("/v1/thing")
    def declared() -> dict[str, str]:  # reached only by what the plain route does not take
        return {"via": "fastapi"}

    async def handle(headers: Headers, raw: bytes) -> Response:
        seen.append(raw)
        if headers.get("authorization") is None:
            raise ServiceError(ReasonCode.AUTH_MISSING, "a bearer token is required", field="authorization")
        if raw == b"boom":
            raise RuntimeError("not ours")
        return json_response({"via": "plain"}, 201)

    def on_error(exc: Exception) -> Response:
        if isinstance(exc, CivicCertError):
            return json_response({"code": exc.code.value, "field": exc.field}, 401)
        return json_response({"code": ReasonCode.INTERNAL_ERROR.value, "field": None}, 500)

    app.plain_routes[("POST", "/v1/thing")] = plain_route("/v1/thing", handle, cap=16, metrics=metrics,
                                                          on_error=on_error)  # fmt: skip
    return app


def test_a_plain_route_caps_answers_errors_and_counts_like_the_app() -> None:
    metrics, seen = Metrics(), list[bytes]()
    client = AppClient(_app(metrics, seen))
    ok = client.post("/v1/thing", content=b"{}", headers={"Authorization": "Bearer x"})
    assert (ok.status_code, ok.json()) == (201, {"via": "plain"})
    assert seen == [b"{}"]
    refused = client.post("/v1/thing", content=b"{}")
    assert (refused.status_code, refused.json()["code"], refused.json()["field"]) == (401, "auth_missing",
                                                                                       "authorization")
    large = client.post("/v1/thing", content=b"x" * 17, headers={"Authorization": "Bearer x"})
    assert (large.status_code, large.json()["code"], large.json()["field"]) == (413, "input_too_large", "body")
    assert len(seen) == 2  # refused by its Content-Length, before the handler
    crash = client.post("/v1/thing", content=b"boom", headers={"Authorization": "Bearer x"})
    assert (crash.status_code, crash.json()["code"]) == (500, "internal_error")
    assert client.get("/v1/thing").status_code == 405  # other methods take FastAPI's way
    assert "/v1/thing" in client.get("/openapi.json").json()["paths"]  # still declared for the document
    assert metrics._requests[("/v1/thing", 201)] == 1
    assert metrics._requests[("/v1/thing", 401)] == 1
    assert metrics._requests[("/v1/thing", 413)] == 1
