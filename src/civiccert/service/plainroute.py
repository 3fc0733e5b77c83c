"""The hot write routes (``POST /v1/credentials`` and its batch) served as plain ASGI, beside FastAPI.

A FastAPI request passes seven middleware and exception layers, the router's scan of every route, and the
dependency solver before the handler runs: on the issue route that cost as much CPU as the service's own work
(profiled, docs/benchmarks.md). :class:`PlainRoutesApp` is the FastAPI application with a table of exact
(method, path) pairs answered directly; everything else takes the usual way. The routes stay declared in
FastAPI too (so the OpenAPI document lists them, and the answers are the same either way); only their dispatch
is shorter. A plain route keeps what the middleware and handlers gave: the body cap (413 before reading), the
``{"code", "field", "message"}`` errors with their status, the request count and log line.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from civiccert.errors import ReasonCode, RecordError
from civiccert.service.asgi import json_response
from civiccert.service.logs import log_event
from civiccert.service.metrics import Metrics

__all__ = ["Handler", "PlainRoutesApp", "plain_route"]

Handler = Callable[[Headers, bytes], Awaitable[Response]]  # (request headers, whole body) → response
ASGIHandler = Callable[[Scope, Receive, Send], Awaitable[None]]


class PlainRoutesApp(FastAPI):
    """FastAPI, with ``plain_routes[(method, path)]`` answered without its layers."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.plain_routes: dict[tuple[str, str], ASGIHandler] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            route = self.plain_routes.get((scope["method"], scope["path"]))
            if route is not None:
                await route(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def plain_route(template: str, handle: Handler, *, cap: int, metrics: Metrics,
                on_error: Callable[[Exception], Response]) -> ASGIHandler:  # fmt: skip
    """An ASGI callable running ``handle``; ``on_error`` answers what it raises (as the app's error handlers)."""

    async def route(scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        headers = Headers(scope=scope)
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > cap):
            response = json_response({"code": ReasonCode.INPUT_TOO_LARGE.value, "field": "body",
                                      "message": f"bodies are capped at {cap} bytes"}, 413)  # fmt: skip
        else:
            try:
                raw = await _body(receive, cap)
                if raw is None:  # the client went away
                    return
                response = await handle(headers, raw)
            except Exception as exc:  # answered as the app's exception handlers would
                response = on_error(exc)
        try:
            await response(scope, receive, send)
        finally:
            metrics.request(template, response.status_code)
            log_event("request", method=scope["method"], route=template, status=response.status_code,
                      ms=round((time.perf_counter() - started) * 1000, 2))  # fmt: skip

    return route


async def _body(receive: Receive, cap: int) -> bytes | None:
    """The whole request body (RecordError INPUT_TOO_LARGE past ``cap``), or None on a disconnect."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > cap:
            raise RecordError(ReasonCode.INPUT_TOO_LARGE, "body too large", field="body")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)
