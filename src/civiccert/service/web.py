"""The verifier web page: a business at a counter checks a printed copy, a photo of one, or a credential file
in a browser, without installing anything.

The page and its assets ship in the package (``service/web/``), with no external CDN. It posts what it was
given to ``POST /verify/check``, which is public (no client registration: a shop has no key pair) and made
safe for that by what it accepts, not by who calls: the body is the file itself (raw bytes, no multipart, so
no file name that could hold a person's name reaches the server), capped at :data:`PAGE_MAX_BYTES`; its type
is sniffed from its first bytes by :func:`civiccert.inputs.read_inputs`, exactly as ``civiccert verify``
does; at most :data:`PAGE_CONCURRENCY` scans run at once so the public page cannot starve the back-office API
of threads. The camera path sends video frames (JPEG snapshots) to the same endpoint: one QR decoder (the
server's, the one the CLI and the tests trust) instead of a second one vendored into the page.

The server's verifier checks this issuer's keys (its trust export) and, when the home anchors, the chain
(anchor and revocation) through a read-only registry client. Answers are ``no-store``; logs carry the route
template and status only, as everywhere in the service.
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import anyio
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from civiccert.cli.render import check_label, claim_rows, outcome_text, verdict_text
from civiccert.errors import CivicCertError, ReasonCode, RecordError
from civiccert.inputs import read_inputs
from civiccert.issuance.issuer import Issuer
from civiccert.records.wareki import JST, to_wareki
from civiccert.verification.online import OnlineRegistry
from civiccert.verification.verifier import Verifier

__all__ = ["PAGE_CONCURRENCY", "PAGE_MAX_BYTES", "PAGE_VERIFY_PATH", "install_verify_page"]

PAGE_VERIFY_PATH = "/verify/check"
PAGE_MAX_BYTES = 16 * 1024 * 1024  # a phone photo (JPEG, 12 MP) or a multi-page PDF; the API's 4 MiB is too small
PAGE_CONCURRENCY = 2  # scans at a time (rasterising and QR search are CPU-bound)
LANGS = ("ja", "en")
_ASSETS = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob: mediastream:; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Permissions-Policy": "camera=(self)",
}  # fmt: skip


def install_verify_page(app: FastAPI, issuer: Issuer) -> None:
    """Add ``GET /``, ``GET /verify``, its assets and ``POST /verify/check`` to ``app``."""
    limiter = anyio.CapacityLimiter(PAGE_CONCURRENCY)
    registry = _registry(issuer)

    @app.get("/", include_in_schema=False)
    def root() -> Response:
        return RedirectResponse("/verify", status_code=307)

    @app.get("/verify", tags=["verify page"], summary="The verifier web page (HTML, Japanese with an English switch)",
             response_class=Response)  # fmt: skip
    def page() -> Response:
        return Response(_asset("index.html"), media_type="text/html; charset=utf-8",
                        headers={**_SECURITY_HEADERS, "Cache-Control": "no-cache"})  # fmt: skip

    @app.get("/verify/assets/{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        media_type = _ASSETS.get(name)
        if media_type is None:
            return JSONResponse({"code": ReasonCode.NOT_FOUND.value, "field": None, "message": "no such asset"}, 404)
        return Response(_asset(name), media_type=media_type, headers={**_SECURITY_HEADERS, "Cache-Control": "no-cache"})

    @app.post(PAGE_VERIFY_PATH, tags=["verify page"], response_class=JSONResponse,
              summary=f"Verify an uploaded PDF, image or credential file (raw body, at most {PAGE_MAX_BYTES} bytes); "
                      "public, used by the page")  # fmt: skip
    async def check(request: Request) -> Response:
        data = await _read_capped(request)

        def work() -> list[dict[str, Any]]:
            verifier = Verifier(trust=issuer.trust_export(), registry=registry)
            with tempfile.TemporaryDirectory(prefix="civiccert-page-") as folder:
                path = Path(folder) / "upload"  # no suffix: the type comes from the bytes, never from a name
                path.write_bytes(data)
                results = verifier.verify_items(read_inputs(path))
            return [_with_display(r.to_dict()) for r in results]

        results = await anyio.to_thread.run_sync(work, limiter=limiter)
        return JSONResponse({"results": results}, headers={"Cache-Control": "no-store"})


def _registry(issuer: Issuer) -> OnlineRegistry | None:
    """A read-only registry client on the home's chain (connected on first use), or None when it anchors nowhere."""
    settings = issuer.config.chain
    if settings is None:
        return None

    def connect() -> Any:
        registry = issuer.registry  # ChainError when the node is down: the checks become unknown
        assert registry is not None
        return registry.chain

    return OnlineRegistry.lazy(connect, settings.registry)


async def _read_capped(request: Request) -> bytes:
    """The body, refused beyond the cap even when the client sent no Content-Length (chunked)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > PAGE_MAX_BYTES:
            raise RecordError(ReasonCode.INPUT_TOO_LARGE, f"uploads are capped at {PAGE_MAX_BYTES} bytes", field="body")
        chunks.append(chunk)
    if size == 0:
        raise RecordError(ReasonCode.FIELD_MISSING, "the body must be the file to verify", field="body")
    return b"".join(chunks)


def _asset(name: str) -> bytes:
    return resources.files("civiccert.service").joinpath("web", name).read_bytes()


def _with_display(result: dict[str, Any]) -> dict[str, Any]:
    """The result plus its texts in both languages, rendered by the CLI's renderer (labels, 和暦 dates)."""
    result["display"] = {lang: _display(result, lang) for lang in LANGS}
    return result


def _display(result: dict[str, Any], lang: str) -> dict[str, Any]:
    issuer = result.get("issuer") or {}
    return {
        "verdict": verdict_text(result["verdict"], lang),
        "checks": [{"label": check_label(c["check"], lang), "outcome": outcome_text(c["outcome"], lang)}
                   for c in result["checks"]],
        "claims": [asdict(row) for row in claim_rows(result.get("claims") or {}, lang)],
        "issuer": " ".join(str(p) for p in (issuer.get("name"), f"({issuer['code']})" if issuer.get("code") else None)
                           if p),
        "issued_at": _date(result.get("issued_at"), lang),
        "expires_at": _date(result.get("expires_at"), lang),
    }  # fmt: skip


def _date(timestamp: object, lang: str) -> str | None:
    if not isinstance(timestamp, int):
        return None
    day = datetime.fromtimestamp(timestamp, JST).date()
    if lang == "ja":
        try:
            return to_wareki(day)
        except CivicCertError:
            return day.isoformat()
    return day.isoformat()
