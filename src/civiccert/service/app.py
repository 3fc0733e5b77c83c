"""The HTTP API: ``create_app`` wires an :class:`~civiccert.Issuer`, the client registry, the service store
(idempotency + audit log) and, optionally, the anchoring worker into a FastAPI application.

Every route names the roles allowed to call it (deny by default). Writes (issue, revoke) need an
``Idempotency-Key`` header and answer a retry with the stored response. Request bodies are capped and parsed
with the project's strict JSON parser; records are validated by the shipped record schemas (also published in
the OpenAPI document). Errors are ``{"code", "field", "message"}`` with a 4xx/5xx status, never a traceback;
ids in URLs are random credential ids, never personal data.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException

from civiccert.credential_file import CredentialFile
from civiccert.credentials.strictjson import json_parse
from civiccert.errors import CivicCertError, ReasonCode, RecordError, ServiceError
from civiccert.issuance.issuer import Issuer, RevocationReason
from civiccert.records import load_record
from civiccert.service.asgi import CapAndLog, json_bytes, json_response
from civiccert.service.auth import ClientRegistry, Principal, Role, require_role
from civiccert.service.flowstore import FlowStore
from civiccert.service.issuing import GroupIssuer, IssueJob, issue_group
from civiccert.service.logs import log_event
from civiccert.service.metrics import Metrics
from civiccert.service.oid4vci import oid4vci_router
from civiccert.service.oid4vp import oid4vp_router
from civiccert.service.plainroute import PlainRoutesApp, plain_route
from civiccert.service.schemas import ISSUE_BATCH_SCHEMA, ISSUE_SCHEMA, status_of
from civiccert.service.store import AuditNote, ServiceStore
from civiccert.service.web import PAGE_MAX_BYTES, PAGE_VERIFY_PATH, install_verify_page
from civiccert.service.worker import AnchorWorker
from civiccert.status.publish import MANIFEST_NAME
from civiccert.status.store import StatusEntry
from civiccert.status.token import parse_token
from civiccert.verification.verifier import Verifier

__all__ = ["MAX_BATCH_RECORDS", "MAX_BODY_BYTES", "Service", "create_app"]

MAX_BODY_BYTES = 4 * 1024 * 1024  # a batch of records with seal images; single records are far smaller
MAX_BATCH_RECORDS = 100
WRITE_THREADS = 2  # writes running at once: enough to sign one while another waits for its fsync; more only
# contend for the GIL (measured: 8 threads were slower and had a worse p99 than 2, docs/benchmarks.md)
ISSUE_PATH, BATCH_PATH = "/v1/credentials", "/v1/credentials/batch"
_IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9._:-]{8,128}")


@dataclass
class Service:
    """What the routes work with."""

    issuer: Issuer
    clients: ClientRegistry
    store: ServiceStore
    worker: AnchorWorker | None = None
    metrics: Metrics | None = None
    verify_page: bool = True  # the public verifier page (GET /verify, POST /verify/check); see service.web
    flows: FlowStore | None = None  # offers, nonces, presentations (default: beside ``store``)


def create_app(service: Service) -> PlainRoutesApp:
    """The ASGI application (its OpenAPI document at /openapi.json)."""
    app = PlainRoutesApp(title="civiccert", version="1", summary="Issue, anchor, revoke, print and verify "
                  "住民票の写し and 印鑑登録証明書 credentials")  # fmt: skip
    metrics = service.metrics or Metrics()
    _install_error_handlers(app, metrics)

    app.add_middleware(CapAndLog, metrics=metrics, cap_for=lambda path: PAGE_MAX_BYTES
                       if service.verify_page and path == PAGE_VERIFY_PATH else MAX_BODY_BYTES)  # fmt: skip

    def principal_of(authorization: str | None, *roles: Role) -> Principal:
        who = service.clients.authenticate(authorization)
        require_role(who, *roles)
        return who

    def principal(request: Request, *roles: Role) -> Principal:
        return principal_of(request.headers.get("authorization"), *roles)

    async def body_json(request: Request) -> Any:
        return _json_body(await request.body())

    writers = anyio.CapacityLimiter(WRITE_THREADS)
    group_issuer = GroupIssuer(partial(issue_group, store=service.store, issuer=service.issuer, load=_load,
                                       status_for=_status_for, on_issued=metrics.issued),
                               slots=WRITE_THREADS, limiter=writers, metrics=metrics)  # fmt: skip
    Outcome = tuple[int, Any, AuditNote]  # status, body, the audit entry stored with the response

    async def idempotent(request: Request, who: Principal, raw: bytes, action: Callable[[], Outcome]) -> Response:
        """Run a write once per Idempotency-Key, in the thread pool: the signing and the durable commits must
        not stall the event loop, and a request waiting for its fsync lets the others sign meanwhile."""
        key = _idempotency(request.headers.get("idempotency-key"), request.url.path, raw)
        return await anyio.to_thread.run_sync(_idempotent, who, key, action, limiter=writers)

    def _idempotent(who: Principal, key_digest: tuple[str, str], action: Callable[[], Outcome]) -> Response:
        key, digest = key_digest
        stored = service.store.begin(who.client_id, key, digest)
        if stored is not None:
            if stored.request_hash != digest:
                raise ServiceError(ReasonCode.IDEMPOTENCY_KEY_REUSED, "this key was used for another request",
                                   field="idempotency-key")  # fmt: skip
            if stored.status is None:
                raise ServiceError(ReasonCode.IDEMPOTENCY_IN_PROGRESS, "a request with this key is in progress",
                                   field="idempotency-key")  # fmt: skip
            return json_response(stored.body, stored.status, {"Idempotent-Replayed": "true"})
        try:
            status, body, note = action()
        except CivicCertError as exc:
            code = _status_for(exc.code)
            if code >= 500:
                service.store.abandon(who.client_id, key)  # nothing was done: a retry may try again
            else:
                service.store.finish(who.client_id, key, code, _error_body(exc))
            raise
        except BaseException:
            service.store.abandon(who.client_id, key)
            raise
        data = json_bytes(body)  # serialized once: stored for retries and sent
        service.store.finish(who.client_id, key, status, body, note, text=data.decode())
        return json_response(body, status, data=data)

    # --- issuing ---------------------------------------------------------------------------------------
    async def issue_plain(headers: Headers, raw: bytes) -> Response:
        who = principal_of(headers.get("authorization"), Role.CLERK)
        document = _json_body(raw)
        key, digest = _idempotency(headers.get("idempotency-key"), ISSUE_PATH, raw)
        return await group_issuer.submit(IssueJob(who, key, digest, document))

    async def issue_batch_plain(headers: Headers, raw: bytes) -> Response:
        who = principal_of(headers.get("authorization"), Role.CLERK)
        document = _json_body(raw)

        def act() -> Outcome:
            records = document.get("records") if isinstance(document, dict) else None
            if not isinstance(records, list) or not 0 < len(records) <= MAX_BATCH_RECORDS:
                raise RecordError(ReasonCode.FIELD_INVALID, f"records must be a list of 1-{MAX_BATCH_RECORDS} "
                                  "records", field="records")  # fmt: skip
            parsed = [_load(item, f"records[{i}]") for i, item in enumerate(records)]
            creds = list(service.issuer.issue_many(parsed, chunk=len(parsed)))
            metrics.issued(len(creds))
            note = AuditNote(who.client_id, who.role, "issue", tuple(c.id for c in creds), "ok")
            return 201, {"credentials": [c.to_dict() for c in creds]}, note

        key = _idempotency(headers.get("idempotency-key"), BATCH_PATH, raw)
        return await anyio.to_thread.run_sync(_idempotent, who, key, act, limiter=writers)

    # served as plain ASGI (service.plainroute: FastAPI's layers cost as much as the service's own work), and
    # declared below with the same handlers for the OpenAPI document
    for path, handler in ((ISSUE_PATH, issue_plain), (BATCH_PATH, issue_batch_plain)):
        app.plain_routes[("POST", path)] = plain_route(path, handler, cap=MAX_BODY_BYTES, metrics=metrics,
                                                       on_error=partial(_error_response, metrics))  # fmt: skip

    @app.post(ISSUE_PATH, status_code=201, tags=["issue"], openapi_extra=_body(ISSUE_SCHEMA),
              summary="Issue one certificate (digital SD-JWT VC and its printed twin)")  # fmt: skip
    async def issue(request: Request) -> Response:
        return await issue_plain(request.headers, await request.body())

    @app.post(BATCH_PATH, status_code=201, tags=["issue"], openapi_extra=_body(ISSUE_BATCH_SCHEMA),
              summary=f"Issue up to {MAX_BATCH_RECORDS} certificates in one durable journal write")  # fmt: skip
    async def issue_batch(request: Request) -> Response:
        return await issue_batch_plain(request.headers, await request.body())

    @app.get("/v1/credentials/{credential_id}", tags=["issue"], summary="Where a credential stands")
    def credential_state(credential_id: str, request: Request) -> dict[str, Any]:
        principal(request, Role.CLERK, Role.SUPERVISOR, Role.AUDITOR)
        record = service.issuer.journal.credential(credential_id)
        return {"id": record.credential_id, "kind": record.kind.value, "state": record.state.value,
                "twin_id": record.twin_id, "batch_id": record.batch_id}  # fmt: skip

    @app.post("/v1/credentials/receipt", tags=["issue"],
              summary="The credential file (request body) with its anchoring receipts, once anchored")  # fmt: skip
    async def receipt(request: Request) -> dict[str, Any]:
        principal(request, Role.CLERK)
        cred = _credential_file(await body_json(request))
        updated = service.issuer.with_receipts(cred)
        return {"anchored": updated.receipt is not None, "credential": updated.to_dict()}

    @app.post("/v1/credentials/print", tags=["issue"], response_class=Response,
              summary="Render the printed copy (PDF) of a credential file (request body)")  # fmt: skip
    async def print_pdf(request: Request) -> Response:
        who = principal(request, Role.CLERK)
        cred = _credential_file(await body_json(request))
        with tempfile.TemporaryDirectory(prefix="civiccert-print-") as folder:
            path = service.issuer.print_pdf(cred, Path(folder) / "copy.pdf")
            data = path.read_bytes()
        service.store.audit(who.client_id, who.role, "print", [cred.id], "ok")
        return Response(data, media_type="application/pdf")

    # --- revocation ------------------------------------------------------------------------------------
    @app.post("/v1/credentials/{credential_id}/revoke", tags=["revoke"],
              summary="Revoke a credential and its printed twin on chain (journaled first)")  # fmt: skip
    async def revoke(credential_id: str, request: Request) -> Response:
        who = principal(request, Role.SUPERVISOR)
        document = await body_json(request)
        raw = await request.body()

        def act() -> Outcome:
            name = document.get("reason", "unspecified") if isinstance(document, dict) else None
            reason = RevocationReason.NAMES.get(name) if isinstance(name, str) else None
            if reason is None:
                raise RecordError(ReasonCode.FIELD_INVALID, "reason must be one of "
                                  + ", ".join(RevocationReason.NAMES), field="reason")  # fmt: skip
            service.issuer.journal.credential(credential_id)  # CREDENTIAL_UNKNOWN → 404 before any chain work
            outcome = service.issuer.revoke(credential_id, reason)
            outcome_code = outcome.error.value if outcome.error else "ok"
            note = AuditNote(who.client_id, who.role, "revoke", tuple(outcome.credential_ids), outcome_code)
            if service.worker is not None:
                service.worker.wake()
            return 202, {"credential_ids": list(outcome.credential_ids), "state": outcome.state.value,
                         "error": None if outcome.error is None else outcome.error.value}, note  # fmt: skip

        return await idempotent(request, who, raw, act)

    async def change_status(action: str, request: Request, credential_id: str,
                            change: Callable[[str], StatusEntry], raw: bytes) -> Response:  # fmt: skip
        who = principal(request, Role.SUPERVISOR)

        def act() -> Outcome:
            service.issuer.journal.credential(credential_id)  # CREDENTIAL_UNKNOWN → 404
            entry = change(credential_id)
            note = AuditNote(who.client_id, who.role, action, (entry.credential_id,), "ok")
            if service.worker is not None:
                service.worker.wake()  # publish the change now, not at the next scheduled publication
            return 200, {"credential_id": entry.credential_id, "status": entry.status.name.lower(),
                         "list_uri": entry.uri}, note  # fmt: skip

        return await idempotent(request, who, raw, act)

    @app.post("/v1/credentials/{credential_id}/suspend", tags=["revoke"],
              summary="VALID → SUSPENDED in the status list (public at the next publication, published soon)")
    async def suspend(credential_id: str, request: Request) -> Response:
        return await change_status("suspend", request, credential_id, service.issuer.suspend, await request.body())

    @app.post("/v1/credentials/{credential_id}/reinstate", tags=["revoke"],
              summary="SUSPENDED → VALID (a revoked or superseded credential is never reinstated: 409)")
    async def reinstate(credential_id: str, request: Request) -> Response:
        return await change_status("reinstate", request, credential_id, service.issuer.reinstate, await request.body())

    @app.post("/v1/credentials/{credential_id}/supersede", tags=["revoke"],
              summary="VALID/SUSPENDED → superseded: the record changed and a newer copy exists")
    async def supersede(credential_id: str, request: Request) -> Response:
        return await change_status("supersede", request, credential_id, service.issuer.supersede, await request.body())

    @app.get("/status/{name}", tags=["status"], response_class=Response,
             summary="A published status list token (statuslist+jwt; CWT with Accept: application/statuslist+cwt)"
             " or the manifest status-lists.json; no auth")  # fmt: skip
    def status_list(name: str, request: Request) -> Response:
        return _status_file(service, name, request.headers.get("accept", ""))

    # --- reading -----------------------------------------------------------------------------------------
    @app.get("/v1/status", tags=["operate"], summary="Credential counts by state and the last anchoring error")
    def status(request: Request) -> dict[str, Any]:
        principal(request, Role.CLERK, Role.SUPERVISOR, Role.AUDITOR)
        return status_of(service.issuer)

    @app.get("/v1/audit", tags=["audit"], summary="Export the audit log (交付記録), oldest first, paged by seq")
    def audit(request: Request, after: int = 0, limit: int = 1000) -> dict[str, Any]:
        principal(request, Role.AUDITOR)
        entries = service.store.audit_entries(after=max(0, after), limit=min(max(1, limit), 10_000))
        return {"entries": [e.to_dict() for e in entries], "next_after": entries[-1].seq if entries else after}

    @app.get("/v1/issuer", tags=["trust"], summary="This municipality's public keys (trust export); no auth")
    def issuer_metadata() -> dict[str, Any]:
        return service.issuer.trust_export().to_dict()

    @app.post("/v1/verify", tags=["verify"], summary="Verify an SD-JWT presentation, credential file or QR text")
    async def verify(request: Request) -> dict[str, Any]:
        principal(request, Role.VERIFIER, Role.CLERK, Role.SUPERVISOR)
        document = await body_json(request)
        data = document.get("credential") if isinstance(document, dict) else None
        if isinstance(data, dict):
            data = _credential_file(data)
        elif not isinstance(data, str):
            raise RecordError(ReasonCode.FIELD_MISSING, "credential (text or credential file) is required",
                              field="credential")  # fmt: skip
        result = Verifier(trust=service.issuer.trust_export()).verify(data)
        return result.to_dict()

    # --- operations ------------------------------------------------------------------------------------
    @app.get("/healthz", tags=["operate"], summary="The process is alive")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operate"], summary="The journal database answers")
    def readyz() -> Response:
        service.issuer.journal.status_counts()  # JOURNAL_UNAVAILABLE → 503
        return JSONResponse({"status": "ready"})

    @app.get("/metrics", tags=["operate"], response_class=PlainTextResponse, summary="Prometheus metrics")
    def prometheus() -> PlainTextResponse:
        errors = service.worker.stats.errors if service.worker else 0
        return PlainTextResponse(metrics.render(service.issuer, errors), media_type="text/plain; version=0.0.4")

    flows = service.flows or FlowStore(service.store.target)  # wallet flow state, shared by every server
    app.include_router(oid4vci_router(service, principal, flows))  # wallets: OpenID4VCI and OpenID4VP (docs/wallets.md)
    app.include_router(oid4vp_router(service, principal, flows))
    if service.verify_page:
        install_verify_page(app, service.issuer)
    return app


def _status_file(service: Service, name: str, accept: str) -> Response:
    """The latest published bytes for ``name``, with the type a verifier asked for and cache headers from the
    token's ``ttl`` (capped by its ``exp``)."""
    if name == MANIFEST_NAME:
        data = service.issuer.status_store.published_file(name)
        if data is None:
            raise ServiceError(ReasonCode.NOT_FOUND, "nothing published yet", field="name")
        return Response(data, media_type="application/json", headers={"Cache-Control": "no-cache"})
    cwt = name.endswith(".cwt") or ("application/statuslist+cwt" in accept and not name.endswith(".jwt"))
    base = name.removesuffix(".cwt").removesuffix(".jwt")
    data = service.issuer.status_store.published_file(base + ".cwt" if cwt else base)
    if data is None:
        raise ServiceError(ReasonCode.NOT_FOUND, "no such status list", field="name")
    token = parse_token(data)
    now = int(time.time())
    max_age = token.ttl if token.ttl is not None else 0
    if token.exp is not None:
        max_age = max(0, min(max_age, token.exp - now))
    headers = {"Cache-Control": f"public, max-age={max_age}", "ETag": '"' + hashlib.sha256(data).hexdigest() + '"',
               "Vary": "Accept"}
    return Response(data, media_type="application/statuslist+cwt" if cwt else "application/statuslist+jwt",
                    headers=headers)


def _idempotency(key: str | None, path: str, raw: bytes) -> tuple[str, str]:
    """The request's Idempotency-Key (428 when missing or malformed) and the hash of its path and body."""
    if key is None or not _IDEMPOTENCY_KEY.fullmatch(key):
        raise ServiceError(ReasonCode.IDEMPOTENCY_KEY_MISSING, "writes need an Idempotency-Key header of "
                           "8-128 characters [A-Za-z0-9._:-]", field="idempotency-key")  # fmt: skip
    return key, hashlib.sha256(path.encode() + b"\0" + raw).hexdigest()


def _json_body(raw: bytes) -> Any:
    if len(raw) > MAX_BODY_BYTES:
        raise RecordError(ReasonCode.INPUT_TOO_LARGE, "body too large", field="body")
    try:
        return json_parse(raw, field="body")
    except CivicCertError as exc:
        raise RecordError(ReasonCode.JSON_INVALID, "the body is not strict JSON", field="body") from exc


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _load(document: Any, field: str) -> Any:
    if not isinstance(document, dict):
        raise RecordError(ReasonCode.FIELD_INVALID, "a record must be an object", field=field)
    try:
        return load_record(document)
    except RecordError as exc:
        raise RecordError(exc.code, exc.message, field=f"{field}.{exc.field}" if exc.field else field) from exc


def _credential_file(document: Any) -> CredentialFile:
    if not isinstance(document, dict):
        raise RecordError(ReasonCode.FIELD_INVALID, "a credential file object is required", field="credential")
    try:
        return CredentialFile.from_dict(document)
    except (ValueError, TypeError, KeyError) as exc:
        raise RecordError(ReasonCode.FIELD_INVALID, "not a credential file", field="credential") from exc


_STATUS = {
    ReasonCode.AUTH_MISSING: 401, ReasonCode.AUTH_INVALID: 401, ReasonCode.AUTH_EXPIRED: 401,
    ReasonCode.ROLE_FORBIDDEN: 403, ReasonCode.NOT_FOUND: 404, ReasonCode.CREDENTIAL_UNKNOWN: 404,
    ReasonCode.OFFER_EXPIRED: 410,
    ReasonCode.IDEMPOTENCY_IN_PROGRESS: 409, ReasonCode.JOURNAL_CONFLICT: 409,
    ReasonCode.INPUT_TOO_LARGE: 413, ReasonCode.IDEMPOTENCY_KEY_REUSED: 422,
    ReasonCode.IDEMPOTENCY_KEY_MISSING: 428, ReasonCode.INTERNAL_ERROR: 500,
    ReasonCode.JOURNAL_UNAVAILABLE: 503, ReasonCode.CHAIN_UNREACHABLE: 503, ReasonCode.CONFIG_INVALID: 503,
}  # fmt: skip


def _status_for(code: ReasonCode) -> int:
    return _STATUS.get(code, 422)


def _error_body(exc: CivicCertError) -> dict[str, Any]:
    return {"code": exc.code.value, "field": exc.field, "message": exc.message}


def _error(status: int, code: ReasonCode, field: str | None, message: str) -> JSONResponse:
    return JSONResponse({"code": code.value, "field": field, "message": message}, status)


def _error_response(metrics: Metrics, exc: Exception) -> Response:
    """The answer to what a handler raised: ours with its status and field, anything else 500 (logged)."""
    if isinstance(exc, CivicCertError):
        metrics.error(exc.code.value)
        headers = {"WWW-Authenticate": "Bearer"} if _status_for(exc.code) == 401 else None
        return json_response(_error_body(exc), _status_for(exc.code), headers)
    metrics.error(ReasonCode.INTERNAL_ERROR.value)
    log_event("internal_error", level=40, error=type(exc).__name__)
    return json_response({"code": ReasonCode.INTERNAL_ERROR.value, "field": None,
                          "message": "internal error (logged)"}, 500)  # fmt: skip


def _install_error_handlers(app: FastAPI, metrics: Metrics) -> None:
    @app.exception_handler(CivicCertError)
    async def civiccert_error(_request: Request, exc: CivicCertError) -> Response:
        return _error_response(metrics, exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        field = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
        metrics.error(ReasonCode.FIELD_INVALID.value)
        return _error(422, ReasonCode.FIELD_INVALID, field, "a parameter has the wrong type")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = ReasonCode.NOT_FOUND if exc.status_code in (404, 405) else ReasonCode.FIELD_INVALID
        message = "no such endpoint" if code is ReasonCode.NOT_FOUND else "bad request"
        return _error(exc.status_code, code, None, message)

    @app.exception_handler(Exception)
    async def internal_error(_request: Request, exc: Exception) -> Response:
        return _error_response(metrics, exc)
