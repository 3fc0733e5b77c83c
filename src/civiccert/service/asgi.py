"""The cheap parts of the request/response path: the body cap, request metrics and logs as a plain ASGI
middleware, and JSON responses serialized once with orjson.

Starlette's ``BaseHTTPMiddleware`` (``@app.middleware("http")``) wraps every request in a task group and
re-streams its body and response through memory channels; on the issue path that cost more CPU than the
record checks. This middleware only reads the ``Content-Length`` header and watches the response status.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from civiccert.errors import ReasonCode
from civiccert.service.logs import log_event
from civiccert.service.metrics import Metrics

__all__ = ["CapAndLog", "json_bytes", "json_response"]


def json_bytes(body: Any) -> bytes:
    """``body`` as compact UTF-8 JSON (non-ASCII kept as is, like Starlette's JSONResponse)."""
    return orjson.dumps(body)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None,
                  *, data: bytes | None = None) -> Response:  # fmt: skip
    """A JSON response; ``data`` when ``body`` is already serialized (by :func:`json_bytes`)."""
    return Response(json_bytes(body) if data is None else data, status, headers, media_type="application/json")


class CapAndLog:
    """Refuse bodies over the route's cap (413 before the body is read), then count and log each request by
    its route template and status (never its URL: ids only, and no query strings)."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics, cap_for: Callable[[str], int]) -> None:
        self.app = app
        self.metrics = metrics
        self.cap_for = cap_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception escaping the app: the outer error middleware answers 500

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        length = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        cap = self.cap_for(scope["path"])
        try:
            if length is not None and (not length.isdigit() or int(length) > cap):
                body = {"code": ReasonCode.INPUT_TOO_LARGE.value, "field": "body",
                        "message": f"bodies are capped at {cap} bytes"}  # fmt: skip
                await json_response(body, 413)(scope, receive, watch)
            else:
                await self.app(scope, receive, watch)
        finally:
            template = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.request(template, status)
            log_event("request", method=scope["method"], route=template, status=status,
                      ms=round((time.perf_counter() - started) * 1000, 2))  # fmt: skip
