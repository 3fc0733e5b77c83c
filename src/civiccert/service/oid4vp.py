"""OpenID for Verifiable Presentations 1.0: a business asks a wallet for chosen claims and gets the verdict.

The relying party's system (role verifier) calls ``POST /v1/presentations`` with the credential type and the
claims it needs; the answer is an authorization request (``response_type=vp_token``,
``response_mode=direct_post``, DCQL) passed by value, to show as a QR or open as a link. The
wallet posts its ``vp_token`` to ``/oid4vp/response``; the presentation is checked by
:class:`civiccert.Verifier` with ``Policy(require_holder_binding=True, aud=client_id, nonce=nonce)`` (so a
presentation made for another verifier or another transaction fails ``holder_binding``), then against the
DCQL query. The relying party polls ``GET /v1/presentations/{id}``. Transactions are single use and expire;
they live in the process like the issuance offers (civiccert.service.offers).

The client identifier uses the ``redirect_uri:`` prefix (§5.9.3): the request MUST NOT be signed and the
response goes only to ``response_uri``. There is therefore no ``request_uri``: a request object by
reference is a JAR, which wallets expect signed (``@openid4vc/openid4vp`` refuses an unsecured one, and
refuses any request object for this prefix). Passing it by reference needs a signing verifier identity
(``x509_san_dns:`` / ``x509_hash:``).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from civiccert.credentials.jose import json_parse
from civiccert.errors import CivicCertError, ReasonCode, RecordError, ServiceError
from civiccert.service.auth import Principal, Role
from civiccert.service.dcql import QUERY_ID, build_query, missing_claims
from civiccert.service.oid4vci import form_fields, issuer_identifier
from civiccert.verifier import Policy, Verifier

__all__ = ["TRANSACTION_TTL", "oid4vp_router"]

TRANSACTION_TTL = 300.0


@dataclass
class _Transaction:
    transaction_id: str
    nonce: str
    state: str
    client_id: str
    response_uri: str
    dcql: dict[str, Any]
    expires_at: float
    outcome: dict[str, Any] | None = None
    error: str | None = None
    done: bool = False
    created: float = field(default_factory=time.time)

    def request(self) -> dict[str, Any]:
        return {"client_id": self.client_id, "response_type": "vp_token", "response_mode": "direct_post",
                "response_uri": self.response_uri, "nonce": self.nonce, "state": self.state,
                "dcql_query": self.dcql}  # fmt: skip


class _Transactions:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[str, _Transaction] = {}

    def add(self, tx: _Transaction) -> None:
        with self._lock:
            now = time.time()
            for key in [k for k, t in self._by_id.items() if now > t.expires_at + 3600]:
                del self._by_id[key]
            self._by_id[tx.transaction_id] = tx

    def get(self, transaction_id: str) -> _Transaction:
        with self._lock:
            tx = self._by_id.get(transaction_id)
        if tx is None:
            raise ServiceError(ReasonCode.NOT_FOUND, "no such transaction", field="transaction_id")
        return tx

    def claim(self, state: object) -> _Transaction:
        """The pending transaction of ``state``, now closed (NONCE_INVALID when unknown, used or expired)."""
        with self._lock:
            tx = next((t for t in self._by_id.values() if isinstance(state, str)
                       and secrets.compare_digest(t.state, state)), None)  # fmt: skip
            if tx is None or tx.done or time.time() > tx.expires_at:
                raise ServiceError(ReasonCode.NONCE_INVALID, "the state names no open transaction", field="state")
            tx.done = True
            return tx


def oid4vp_router(service: Any, principal: Callable[..., Principal]) -> APIRouter:
    """The verifier's routes; presentations are checked against ``service.issuer``'s trust export."""
    router = APIRouter(tags=["wallet presentation"])
    transactions = _Transactions()

    @router.post("/v1/presentations", status_code=201, tags=["verify"],
                 summary="Relying party: an OpenID4VP request for chosen claims (DCQL)")  # fmt: skip
    async def create(request: Request) -> dict[str, Any]:
        principal(request, Role.VERIFIER, Role.CLERK, Role.SUPERVISOR)
        try:
            document = json_parse(await request.body(), field="body")
        except CivicCertError as exc:
            raise RecordError(ReasonCode.JSON_INVALID, "the body is not strict JSON", field="body") from exc
        if not isinstance(document, dict):
            raise RecordError(ReasonCode.FIELD_INVALID, "an object is required", field="body")
        claims = document.get("claims")
        query = build_query(str(document.get("credential_type")), claims if isinstance(claims, list) else [])
        base = issuer_identifier(request)
        response_uri = f"{base}/oid4vp/response"
        tx = _Transaction(transaction_id=secrets.token_urlsafe(16), nonce=secrets.token_urlsafe(24),
                          state=secrets.token_urlsafe(24), client_id=f"redirect_uri:{response_uri}",
                          response_uri=response_uri, dcql=query, expires_at=time.time() + TRANSACTION_TTL)  # fmt: skip
        transactions.add(tx)
        by_value = {k: json.dumps(v, ensure_ascii=False) if isinstance(v, dict) else v for k, v in tx.request().items()}
        return {"transaction_id": tx.transaction_id, "expires_at": int(tx.expires_at), "request": tx.request(),
                "request_url": "openid4vp://?" + urlencode(by_value)}  # fmt: skip

    @router.post("/oid4vp/response", summary="direct_post: the wallet's vp_token")
    async def response(request: Request) -> Response:
        form = await form_fields(request)
        try:
            tx = transactions.claim(form.get("state"))
        except ServiceError as exc:
            return JSONResponse({"error": "invalid_request", "code": exc.code.value, "field": exc.field}, 400)
        if "error" in form:  # the wallet or the user declined
            tx.error = form["error"][:64]
            return JSONResponse({})
        try:
            tokens = json_parse(form.get("vp_token", ""), field="vp_token")
            presentations = tokens.get(QUERY_ID) if isinstance(tokens, dict) else None
            if not isinstance(presentations, list) or len(presentations) != 1 or not isinstance(presentations[0], str):
                raise RecordError(ReasonCode.FIELD_INVALID, f"vp_token must be {{{QUERY_ID!r}: [presentation]}}",
                                  field="vp_token")  # fmt: skip
        except CivicCertError as exc:
            tx.error = exc.code.value
            return JSONResponse({"error": "invalid_request", "code": exc.code.value, "field": exc.field}, 400)
        policy = Policy(require_holder_binding=True, aud=tx.client_id, nonce=tx.nonce)
        result = Verifier(trust=service.issuer.trust_export(), policy=policy).verify(presentations[0])
        missing = missing_claims(tx.dcql, result.vct, result.claims)
        tx.outcome = {"verdict": result.verdict.value, "result": result.to_dict(),
                      "dcql": {"satisfied": not missing, "missing": missing,
                               "code": (ReasonCode.PRESENTATION_UNSATISFIED if missing else ReasonCode.OK).value}}
        return JSONResponse({})  # fmt: skip

    @router.get("/v1/presentations/{transaction_id}", tags=["verify"], summary="Relying party: the verdict")
    def result(transaction_id: str, request: Request) -> dict[str, Any]:
        principal(request, Role.VERIFIER, Role.CLERK, Role.SUPERVISOR)
        tx = transactions.get(transaction_id)
        status = "error" if tx.error else "done" if tx.outcome else "expired" if time.time() > tx.expires_at \
            else "pending"  # fmt: skip
        return {"transaction_id": tx.transaction_id, "status": status, "error": tx.error, **(tx.outcome or {})}

    return router
