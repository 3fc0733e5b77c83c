"""OpenID for Verifiable Presentations 1.0: a business asks a wallet for chosen claims and gets the verdict.

The relying party's system (role verifier) calls ``POST /v1/presentations`` with the credential type and the
claims it needs; the answer is an authorization request (``response_type=vp_token``,
``response_mode=direct_post``, DCQL) passed by value, to show as a QR or open as a link. The
wallet posts its ``vp_token`` to ``/oid4vp/response``; the presentation is checked by
:class:`civiccert.Verifier` with ``Policy(require_holder_binding=True, aud=client_id, nonce=nonce)`` (so a
presentation made for another verifier or another transaction fails ``holder_binding``), then against the
DCQL query. The relying party polls ``GET /v1/presentations/{id}``. Transactions are single use and expire;
they live in the service database (civiccert.service.flowstore), so any server answers any step, and the
verdict with its disclosed claims is deleted ``RESULT_KEPT`` seconds after the transaction expired.

The client identifier uses the ``redirect_uri:`` prefix (§5.9.3): the request MUST NOT be signed and the
response goes only to ``response_uri``. There is therefore no ``request_uri``: a request object by
reference is a JAR, which wallets expect signed (``@openid4vc/openid4vp`` refuses an unsecured one, and
refuses any request object for this prefix). Passing it by reference needs a signing verifier identity
(``x509_san_dns:`` / ``x509_hash:``).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from civiccert.credentials.strictjson import json_parse
from civiccert.errors import CivicCertError, ReasonCode, RecordError, ServiceError
from civiccert.service.auth import Principal, Role
from civiccert.service.dcql import QUERY_ID, build_query, missing_claims
from civiccert.service.flowstore import FlowStore, PresentationRow
from civiccert.service.oid4vci import form_fields, in_thread, issuer_identifier
from civiccert.verification.verifier import Policy, Verifier

__all__ = ["TRANSACTION_TTL", "oid4vp_router"]

TRANSACTION_TTL = 300.0
RESULT_KEPT = 600.0  # seconds the verdict (disclosed claims) stays for the relying party after expiry


def _request(client_id: str, response_uri: str, nonce: str, state: str, dcql: dict[str, Any]) -> dict[str, Any]:
    return {"client_id": client_id, "response_type": "vp_token", "response_mode": "direct_post",
            "response_uri": response_uri, "nonce": nonce, "state": state, "dcql_query": dcql}  # fmt: skip


class _Transactions:
    """Presentation transactions in the flow store: any server answers the wallet's post and the polls."""

    def __init__(self, store: FlowStore) -> None:
        self.store = store

    def add(self, request: dict[str, Any]) -> tuple[str, float]:
        transaction_id, now = secrets.token_urlsafe(16), time.time()
        expires_at = now + TRANSACTION_TTL
        self.store.add_presentation(transaction_id, request["state"], request, expires_at, expires_at + RESULT_KEPT,
                                    now=now)  # fmt: skip
        return transaction_id, expires_at

    def get(self, transaction_id: str) -> PresentationRow:
        tx = self.store.presentation(transaction_id=transaction_id)
        if tx is None:
            raise ServiceError(ReasonCode.NOT_FOUND, "no such transaction", field="transaction_id")
        return tx

    def claim(self, state: object) -> PresentationRow:
        """The pending transaction of ``state``, now closed (NONCE_INVALID when unknown, used or expired)."""
        tx = self.store.claim_presentation(state, now=time.time()) if isinstance(state, str) else None
        if tx is None:
            raise ServiceError(ReasonCode.NONCE_INVALID, "the state names no open transaction", field="state")
        return tx


def oid4vp_router(service: Any, principal: Callable[..., Principal], flows: FlowStore) -> APIRouter:
    """The verifier's routes; presentations are checked against ``service.issuer``'s trust export, transactions
    live in ``flows``."""
    router = APIRouter(tags=["wallet presentation"])
    transactions = _Transactions(flows)

    @router.post("/v1/presentations", status_code=201, tags=["verify"],
                 summary="Relying party: an OpenID4VP request for chosen claims (DCQL)")  # fmt: skip
    async def create(request: Request) -> dict[str, Any]:
        return await in_thread(create_now, request, await request.body())

    def create_now(request: Request, raw: bytes) -> dict[str, Any]:
        principal(request, Role.VERIFIER, Role.CLERK, Role.SUPERVISOR)
        try:
            document = json_parse(raw, field="body")
        except CivicCertError as exc:
            raise RecordError(ReasonCode.JSON_INVALID, "the body is not strict JSON", field="body") from exc
        if not isinstance(document, dict):
            raise RecordError(ReasonCode.FIELD_INVALID, "an object is required", field="body")
        claims = document.get("claims")
        query = build_query(str(document.get("credential_type")), claims if isinstance(claims, list) else [])
        base = issuer_identifier(request)
        response_uri = f"{base}/oid4vp/response"
        auth_request = _request(f"redirect_uri:{response_uri}", response_uri, secrets.token_urlsafe(24),
                                secrets.token_urlsafe(24), query)  # fmt: skip
        transaction_id, expires_at = transactions.add(auth_request)
        by_value = {k: json.dumps(v, ensure_ascii=False) if isinstance(v, dict) else v for k, v in auth_request.items()}
        return {"transaction_id": transaction_id, "expires_at": int(expires_at), "request": auth_request,
                "request_url": "openid4vp://?" + urlencode(by_value)}  # fmt: skip

    @router.post("/oid4vp/response", summary="direct_post: the wallet's vp_token")
    async def response(request: Request) -> Response:
        return await in_thread(response_now, await form_fields(request))

    def response_now(form: dict[str, str]) -> Response:
        try:
            tx = transactions.claim(form.get("state"))
        except ServiceError as exc:
            return JSONResponse({"error": "invalid_request", "code": exc.code.value, "field": exc.field}, 400)
        if "error" in form:  # the wallet or the user declined
            transactions.store.settle_presentation(tx.transaction_id, error=form["error"][:64])
            return JSONResponse({})
        try:
            tokens = json_parse(form.get("vp_token", ""), field="vp_token")
            presentations = tokens.get(QUERY_ID) if isinstance(tokens, dict) else None
            if not isinstance(presentations, list) or len(presentations) != 1 or not isinstance(presentations[0], str):
                raise RecordError(ReasonCode.FIELD_INVALID, f"vp_token must be {{{QUERY_ID!r}: [presentation]}}",
                                  field="vp_token")  # fmt: skip
        except CivicCertError as exc:
            transactions.store.settle_presentation(tx.transaction_id, error=exc.code.value)
            return JSONResponse({"error": "invalid_request", "code": exc.code.value, "field": exc.field}, 400)
        policy = Policy(require_holder_binding=True, aud=tx.request["client_id"], nonce=tx.request["nonce"])
        result = Verifier(trust=service.issuer.trust_export(), policy=policy).verify(presentations[0])
        missing = missing_claims(tx.request["dcql_query"], result.vct, result.claims)
        code = ReasonCode.PRESENTATION_UNSATISFIED if missing else ReasonCode.OK
        outcome = {"verdict": result.verdict.value, "result": result.to_dict(),
                   "dcql": {"satisfied": not missing, "missing": missing, "code": code.value}}  # fmt: skip
        transactions.store.settle_presentation(tx.transaction_id, outcome=outcome)
        return JSONResponse({})

    @router.get("/v1/presentations/{transaction_id}", tags=["verify"], summary="Relying party: the verdict")
    def result(transaction_id: str, request: Request) -> dict[str, Any]:
        principal(request, Role.VERIFIER, Role.CLERK, Role.SUPERVISOR)
        tx = transactions.get(transaction_id)
        status = "error" if tx.error else "done" if tx.outcome else "expired" if time.time() > tx.expires_at \
            else "pending"  # fmt: skip
        return {"transaction_id": tx.transaction_id, "status": status, "error": tx.error, **(tx.outcome or {})}

    return router
