"""OpenID for Verifiable Credential Issuance 1.0: the pre-authorized code flow into a resident's wallet.

At the counter a clerk's system calls ``POST /v1/offers`` with the record; the answer is a credential offer
(by reference: the QR holds only a random offer id) and a six-digit PIN the clerk tells the resident. The
wallet reads the offer, exchanges the pre-authorized code and the PIN at the token endpoint, fetches a
``c_nonce``, and asks the credential endpoint with one key proof per copy (``proofs.jwt``): every copy is an
SD-JWT VC (``dc+sd-jwt``) bound (``cnf``) to its own holder key, so presentations of two copies cannot be
linked by the key. Each copy is issued by :meth:`civiccert.Issuer.issue` and journaled like any credential.

The credential issuer identifier is ``CIVICCERT_PUBLIC_URL`` (the HTTPS origin wallets see), else the URL the
request came to (tests, a local counter). OAuth endpoints answer errors as RFC 6749 ``{"error", ...}`` plus
our ``code``; the clerk endpoints answer as the rest of the API.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar
from urllib.parse import parse_qs, quote

import anyio.to_thread
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from civiccert.credentials.claims import VCT_RESIDENT_RECORD, VCT_SEAL_CERTIFICATE
from civiccert.credentials.jose import verify_compact
from civiccert.credentials.keys import public_key_from_jwk
from civiccert.errors import CivicCertError, CredentialError, ReasonCode, RecordError, ServiceError
from civiccert.records import ResidentRecord, load_record
from civiccert.service.auth import Principal, Role
from civiccert.service.flowstore import FlowStore
from civiccert.service.offers import TX_CODE_LENGTH, Offer, OfferBook, pin_matches

__all__ = ["BATCH_SIZE", "CONFIGURATIONS", "PROOF_TYP", "form_fields", "in_thread", "issuer_identifier",
           "oid4vci_router"]  # fmt: skip
_T = TypeVar("_T")

PRE_AUTHORIZED_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
PROOF_TYP = "openid4vci-proof+jwt"
BATCH_SIZE = 10  # copies (holder keys) per credential request
PROOF_MAX_AGE = 300  # seconds a key proof's iat may lie in the past (120 in the future)
_SKEW = 120

#: credential configuration id -> (vct, Japanese name, English name)
CONFIGURATIONS: dict[str, tuple[str, str, str]] = {
    "juminhyo": (VCT_RESIDENT_RECORD, "住民票の写し", "Certificate of Residence (Juminhyo)"),
    "inkan-toroku": (VCT_SEAL_CERTIFICATE, "印鑑登録証明書", "Certificate of Seal Registration"),
}
_CLAIMS: dict[str, list[tuple[list[str | None], str, str]]] = {
    "juminhyo": [(["household", "address"], "住所", "Address"), (["members", None, "name"], "氏名", "Name"),
                 (["members", None, "birth_date"], "生年月日", "Date of birth")],
    "inkan-toroku": [(["registrant", "name"], "氏名", "Name"), (["registrant", "address"], "住所", "Address"),
                     (["registrant", "birth_date"], "生年月日", "Date of birth")],
}  # fmt: skip


def issuer_identifier(request: Request) -> str:
    """The credential issuer identifier (also the audience of key proofs)."""
    configured = os.environ.get("CIVICCERT_PUBLIC_URL")
    return (configured or str(request.base_url)).rstrip("/")


def oid4vci_router(service: Any, principal: Callable[..., Principal], flows: FlowStore) -> APIRouter:
    """The issuer's routes over ``service.issuer`` (a :class:`civiccert.service.app.Service`); offers, tokens and
    nonces live in ``flows`` (shared by every server on the database)."""
    router = APIRouter(tags=["wallet issuance"])
    offers = OfferBook(flows)

    @router.get("/.well-known/openid-credential-issuer", summary="OpenID4VCI credential issuer metadata")
    def issuer_metadata(request: Request) -> dict[str, Any]:
        base = issuer_identifier(request)
        config = service.issuer.config
        return {
            "credential_issuer": base,
            "credential_endpoint": f"{base}/oid4vci/credential",
            "nonce_endpoint": f"{base}/oid4vci/nonce",
            "batch_credential_issuance": {"batch_size": BATCH_SIZE},
            "display": [{"name": config.municipality_name, "locale": "ja"},
                        {"name": f"{config.municipality_name} ({config.municipality_code})", "locale": "en"}],
            "credential_configurations_supported": {cid: _configuration(cid) for cid in CONFIGURATIONS},
        }  # fmt: skip

    @router.get("/.well-known/oauth-authorization-server", summary="OAuth metadata (pre-authorized code grant)")
    def authorization_server_metadata(request: Request) -> dict[str, Any]:
        base = issuer_identifier(request)
        return {"issuer": base, "token_endpoint": f"{base}/oid4vci/token",
                "grant_types_supported": [PRE_AUTHORIZED_GRANT], "response_types_supported": [],
                "pre-authorized_grant_anonymous_access_supported": True,
                "token_endpoint_auth_methods_supported": ["none"]}  # fmt: skip

    @router.post("/v1/offers", status_code=201, tags=["issue"],
                 summary="Clerk: a single-use credential offer (QR) and its PIN for a record")  # fmt: skip
    async def create_offer(request: Request) -> dict[str, Any]:
        return await in_thread(create_offer_now, request, await request.body())

    def create_offer_now(request: Request, raw: bytes) -> dict[str, Any]:
        who = principal(request, Role.CLERK)
        document = _json(raw)
        record_doc = document.get("record") if isinstance(document, dict) else None
        if not isinstance(record_doc, dict):
            raise RecordError(ReasonCode.FIELD_MISSING, "an object with a record is required", field="record")
        record = load_record(record_doc)
        configuration = "juminhyo" if isinstance(record, ResidentRecord) else "inkan-toroku"
        offer, pin = offers.create(record_doc, configuration, (who.client_id, who.role.value))
        base = issuer_identifier(request)
        uri = f"{base}/oid4vci/offers/{offer.offer_id}"
        service.store.audit(who.client_id, who.role, "offer", [], "ok")
        return {"offer_id": offer.offer_id, "tx_code": pin, "expires_at": int(offer.expires_at),
                "credential_configuration_id": configuration, "credential_offer_uri": uri,
                "offer_url": "openid-credential-offer://?credential_offer_uri=" + quote(uri, safe=""),
                "qr_svg": f"{base}/v1/offers/{offer.offer_id}/qr.svg"}  # fmt: skip

    @router.get("/v1/offers/{offer_id}/qr.svg", tags=["issue"], response_class=Response,
                summary="Clerk: the offer as a QR code (SVG) to show at the counter or print on the receipt")
    def offer_qr(offer_id: str, request: Request) -> Response:
        principal(request, Role.CLERK)
        offers.by_id(offer_id)
        uri = f"{issuer_identifier(request)}/oid4vci/offers/{offer_id}"
        return Response(_qr_svg("openid-credential-offer://?credential_offer_uri=" + quote(uri, safe="")),
                         media_type="image/svg+xml")  # fmt: skip

    @router.post("/v1/offers/{offer_id}/receipt.pdf", tags=["issue"], response_class=Response,
                 summary="Clerk: the 交付 receipt (offer QR, PIN, expiry) as PDF; body {tx_code}")  # fmt: skip
    async def offer_receipt(offer_id: str, request: Request) -> Response:
        return await in_thread(offer_receipt_now, offer_id, request, await request.body())

    def offer_receipt_now(offer_id: str, request: Request, raw: bytes) -> Response:
        from civiccert.paper.receipt import render_offer_receipt

        principal(request, Role.CLERK)
        offer = offers.by_id(offer_id)
        document = _json(raw)
        pin = document.get("tx_code") if isinstance(document, dict) else None
        # the PIN is kept only as a hash: the clerk's system sends it back, and a wrong one is never printed
        if not isinstance(pin, str) or not pin_matches(pin, offer):
            raise RecordError(ReasonCode.TX_CODE_WRONG, "tx_code is not this offer's PIN", field="tx_code")
        uri = f"{issuer_identifier(request)}/oid4vci/offers/{offer_id}"
        pdf = render_offer_receipt("openid-credential-offer://?credential_offer_uri=" + quote(uri, safe=""), pin,
                                   offer.expires_at)  # fmt: skip
        return Response(pdf, media_type="application/pdf")

    @router.get("/oid4vci/offers/{offer_id}", summary="The credential offer object (credential_offer_uri)")
    def credential_offer(offer_id: str, request: Request) -> dict[str, Any]:
        offer = offers.by_id(offer_id)
        return _offer_object(issuer_identifier(request), offer)

    @router.post("/oid4vci/token", summary="Token endpoint: pre-authorized code + tx_code")
    async def token(request: Request) -> Response:
        return await in_thread(token_now, await form_fields(request))

    def token_now(form: dict[str, str]) -> Response:
        try:
            if form.get("grant_type") != PRE_AUTHORIZED_GRANT:
                return _oauth_error(400, "unsupported_grant_type", ReasonCode.FIELD_INVALID, "grant_type")
            code, tx_code = form.get("pre-authorized_code"), form.get("tx_code")
            if not isinstance(code, str) or not code:
                return _oauth_error(400, "invalid_request", ReasonCode.FIELD_MISSING, "pre-authorized_code")
            offer = offers.redeem(code, tx_code if isinstance(tx_code, str) else None)
        except ServiceError as exc:
            return _oauth_error(400, "invalid_grant", exc.code, exc.field)
        assert offer.access_token is not None
        return JSONResponse({"access_token": offer.access_token, "token_type": "Bearer",
                             "expires_in": int(offers.token_ttl)}, headers={"Cache-Control": "no-store"})  # fmt: skip

    @router.post("/oid4vci/nonce", summary="Nonce endpoint: a fresh c_nonce for key proofs")
    def nonce() -> Response:
        return JSONResponse({"c_nonce": offers.new_nonce()}, headers={"Cache-Control": "no-store"})

    @router.post("/oid4vci/credential", summary="Credential endpoint: one copy per key proof (proofs.jwt)")
    async def credential(request: Request) -> Response:
        return await in_thread(credential_now, request, await request.body())

    def credential_now(request: Request, raw: bytes) -> Response:
        scheme, _, access_token = (request.headers.get("authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not access_token:
            return _oauth_error(401, "invalid_token", ReasonCode.AUTH_MISSING, "authorization")
        try:
            offer = offers.by_token(access_token.strip())
        except ServiceError as exc:
            return _oauth_error(401, "invalid_token", exc.code, exc.field)
        try:
            document = _json(raw)
            keys = _proof_keys(document, offer, issuer_identifier(request), offers)
        except CivicCertError as exc:
            error = "invalid_nonce" if exc.code is ReasonCode.NONCE_INVALID else "invalid_proof"
            if exc.field in ("credential_configuration_id", "body"):
                error = "invalid_credential_request"
            return _oauth_error(400, error, exc.code, exc.field)
        try:
            offers.claim(offer)  # once, whichever server the wallet's requests reach
        except ServiceError as exc:
            return _oauth_error(401, "invalid_token", exc.code, exc.field)
        try:
            record = load_record(offer.record or {})
            creds = [service.issuer.issue(record, holder_jwk=jwk, paper=False) for jwk in keys]
        except BaseException:
            offers.release(offer)  # nothing was issued: the wallet may retry with its token
            raise
        offers.mark_used(offer, [c.id for c in creds])
        service.store.audit(offer.clerk[0], offer.clerk[1], "issue", [c.id for c in creds], "ok")
        return JSONResponse({"credentials": [{"credential": c.sd_jwt} for c in creds]},
                            headers={"Cache-Control": "no-store"})  # fmt: skip

    return router


def _configuration(cid: str) -> dict[str, Any]:
    vct, name_ja, name_en = CONFIGURATIONS[cid]
    claims = [{"path": path, "display": [{"name": ja, "locale": "ja"}, {"name": en, "locale": "en"}]}
              for path, ja, en in _CLAIMS[cid]]  # fmt: skip
    return {
        "format": "dc+sd-jwt", "vct": vct, "scope": cid,
        "cryptographic_binding_methods_supported": ["jwk"],
        "credential_signing_alg_values_supported": ["ES256"],
        "proof_types_supported": {"jwt": {"proof_signing_alg_values_supported": ["ES256"]}},
        "credential_metadata": {"display": [{"name": name_ja, "locale": "ja"}, {"name": name_en, "locale": "en"}],
                                "claims": claims},
    }  # fmt: skip


def _offer_object(base: str, offer: Offer) -> dict[str, Any]:
    grant = {"pre-authorized_code": offer.pre_authorized_code,
             "tx_code": {"input_mode": "numeric", "length": TX_CODE_LENGTH,
                         "description": "窓口でお伝えした暗証番号 / the PIN given at the counter"}}  # fmt: skip
    return {"credential_issuer": base, "credential_configuration_ids": [offer.configuration_id],
            "grants": {PRE_AUTHORIZED_GRANT: grant}}  # fmt: skip


def _proof_keys(document: Any, offer: Offer, audience: str, offers: OfferBook) -> list[dict[str, Any]]:
    """The holder keys of the request's key proofs, each proof checked (typ, signature by its jwk, aud,
    iat, c_nonce); the c_nonce is used up only when every proof passed."""
    if not isinstance(document, dict) or document.get("credential_configuration_id") != offer.configuration_id:
        raise CredentialError(ReasonCode.FIELD_INVALID, "credential_configuration_id is not the offered one",
                              field="credential_configuration_id")  # fmt: skip
    proofs = document.get("proofs")
    jwts = proofs.get("jwt") if isinstance(proofs, dict) and set(proofs) == {"jwt"} else None
    if not isinstance(jwts, list) or not 0 < len(jwts) <= BATCH_SIZE or not all(isinstance(j, str) for j in jwts):
        raise CredentialError(ReasonCode.FIELD_INVALID, f"proofs.jwt must hold 1-{BATCH_SIZE} key proofs",
                              field="proofs.jwt")  # fmt: skip
    keys: list[dict[str, Any]] = []
    nonces: set[object] = set()
    now = time.time()
    for token in jwts:
        verified = verify_compact(token, algorithms=["ES256"], resolve_key=_header_jwk, expected_typ=PROOF_TYP)
        payload = json.loads(verified.payload)
        if not isinstance(payload, dict) or payload.get("aud") != audience:
            raise CredentialError(ReasonCode.KEY_PROOF_INVALID, "the proof's aud is not this credential issuer",
                                  field="proofs.jwt.aud")  # fmt: skip
        iat = payload.get("iat")
        if not isinstance(iat, int | float) or not now - PROOF_MAX_AGE <= iat <= now + _SKEW:
            raise CredentialError(ReasonCode.KEY_PROOF_INVALID, "the proof's iat is not fresh", field="proofs.jwt.iat")
        nonces.add(payload.get("nonce"))
        keys.append(dict(verified.header["jwk"]))
    if len(nonces) != 1:
        raise CredentialError(ReasonCode.NONCE_INVALID, "the proofs name different nonces", field="proofs.jwt.nonce")
    offers.consume_nonce(nonces.pop())
    return keys


def _header_jwk(header: dict[str, Any], _payload: bytes) -> Any:
    jwk = header.get("jwk")
    if not isinstance(jwk, dict) or "d" in jwk or "kid" in header or "x5c" in header:
        raise CredentialError(ReasonCode.KEY_PROOF_INVALID, "a key proof must carry its public key as jwk (only)",
                              field="proofs.jwt.jwk")  # fmt: skip
    return public_key_from_jwk(jwk)


async def form_fields(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (each field once; a repeated field is refused)."""
    try:
        fields = parse_qs((await request.body()).decode("utf-8"), keep_blank_values=True, strict_parsing=False,
                          max_num_fields=50)  # fmt: skip
    except (UnicodeDecodeError, ValueError) as exc:
        raise RecordError(ReasonCode.FIELD_INVALID, "the body is not a form", field="body") from exc
    if any(len(v) != 1 for v in fields.values()):
        raise RecordError(ReasonCode.FIELD_INVALID, "a form field is repeated", field="body")
    return {k: v[0] for k, v in fields.items()}


async def in_thread(fn: Callable[..., _T], *args: Any) -> _T:
    """``fn(*args)`` in the thread pool: the flow store (SQLite/PostgreSQL), signing and verifying block, and
    must not stall the event loop that serves every other request."""
    return await anyio.to_thread.run_sync(partial(fn, *args))


def _json(raw: bytes) -> Any:
    from civiccert.credentials.strictjson import json_parse

    try:
        return json_parse(raw, field="body")
    except CivicCertError as exc:
        raise RecordError(ReasonCode.JSON_INVALID, "the body is not strict JSON", field="body") from exc


def _oauth_error(status: int, error: str, code: ReasonCode, field: str | None) -> JSONResponse:
    headers = {"Cache-Control": "no-store"}
    if status == 401:
        headers["WWW-Authenticate"] = f'Bearer error="{error}"'
    return JSONResponse({"error": error, "error_description": f"{code.value} ({field})", "code": code.value,
                         "field": field}, status, headers=headers)  # fmt: skip


def _qr_svg(text: str) -> str:
    import zxingcpp

    barcode = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    return str(barcode.to_svg(add_quiet_zones=True))
