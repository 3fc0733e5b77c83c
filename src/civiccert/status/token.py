"""Status List Tokens (draft-ietf-oauth-status-list sec. 5): ``statuslist+jwt`` and the CWT form.

Both carry ``sub`` (the list's URI), ``iat``, ``exp``, ``ttl`` and the compressed list, signed by the
municipality's key (the one that signs its credentials). The JWT payload is
``{"iss", "sub", "iat", "exp", "ttl", "status_list": {"bits", "lst": base64url(zlib)}}``; the CWT is a
COSE_Sign1 with protected header ``{1: alg, 4: kid (32-byte thumbprint), 16: "application/statuslist+cwt"}``
and claims ``{1: iss, 2: sub, 4: exp, 6: iat, 65534: ttl, 65533: {"bits", "lst": bytes}}``.

Parsing is strict and bounded and trusts nothing; :func:`verify_token` checks the signature under a key the
caller chose from its trust sources. The token's hash (SHA-256 of its exact bytes) is what is anchored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import cbor2

from civiccert.credentials.b64url import b64url_decode, b64url_encode
from civiccert.credentials.jose import sign_compact
from civiccert.credentials.signatures import Signer, verify_signature
from civiccert.credentials.strictjson import json_dumps, json_loads
from civiccert.errors import CredentialError, ReasonCode
from civiccert.status.bits import StatusList

__all__ = [
    "CWT_STATUS_CLAIM",
    "CWT_TYP",
    "JWT_TYP",
    "StatusListToken",
    "parse_token",
    "sign_cwt",
    "sign_jwt",
    "verify_token",
]

JWT_TYP: Final = "statuslist+jwt"
CWT_TYP: Final = "application/statuslist+cwt"
MAX_TOKEN_BYTES: Final = 2 * 1024 * 1024
#: CWT claim key of the ``status`` claim in a Referenced Token (the draft's IANA registration)
CWT_STATUS_CLAIM: Final = 65535
_CWT_ISS, _CWT_SUB, _CWT_EXP, _CWT_IAT = 1, 2, 4, 6
_CWT_TTL, _CWT_STATUS_LIST = 65534, 65533
_HDR_ALG, _HDR_KID, _HDR_TYP = 1, 4, 16
_COSE_ALGS: Final = {"ES256": -7, "EdDSA": -8}
_COSE_ALG_NAMES: Final = {v: k for k, v in _COSE_ALGS.items()}
_COSE_SIGN1_TAG = 18


@dataclass(frozen=True)
class StatusListToken:
    """A parsed (not yet verified) status list token of either form."""

    form: str  # "jwt" | "cwt"
    sub: str
    iss: str | None
    iat: int
    exp: int | None
    ttl: int | None
    statuses: StatusList
    alg: str
    kid: str | None  # base64url thumbprint (JWT kid as given; CWT kid re-encoded)
    signing_input: bytes
    signature: bytes
    raw: bytes  # the exact bytes as published (compact JWS text or COSE_Sign1)

    @property
    def sha256(self) -> bytes:
        """What a publication anchors."""
        return hashlib.sha256(self.raw).digest()

    def status(self, index: int) -> int:
        """The status at ``index``; ``CredentialError(STATUS_INDEX_OUT_OF_RANGE)`` beyond the list."""
        if not 0 <= index < self.statuses.size:
            raise CredentialError(ReasonCode.STATUS_INDEX_OUT_OF_RANGE, "index beyond the status list",
                                  field="status.status_list.idx")
        return self.statuses[index]


def sign_jwt(statuses: StatusList, key: Signer, *, sub: str, iat: int, exp: int, ttl: int,
             iss: str | None = None) -> str:
    """A compact ``statuslist+jwt``."""
    payload: dict[str, Any] = {"sub": sub, "iat": iat, "exp": exp, "ttl": ttl,
                               "status_list": {"bits": statuses.bits, "lst": b64url_encode(statuses.compress())}}
    if iss is not None:
        payload["iss"] = iss
    return sign_compact({"typ": JWT_TYP}, json_dumps(payload), key)


def sign_cwt(statuses: StatusList, key: Signer, *, sub: str, iat: int, exp: int, ttl: int,
             iss: str | None = None) -> bytes:
    """A COSE_Sign1 status list CWT (tag 18)."""
    if key.alg not in _COSE_ALGS:
        raise ValueError("status list CWT supports ES256 and EdDSA only")
    claims: dict[int, Any] = {_CWT_SUB: sub, _CWT_IAT: iat, _CWT_EXP: exp, _CWT_TTL: ttl,
                              _CWT_STATUS_LIST: {"bits": statuses.bits, "lst": statuses.compress()}}
    if iss is not None:
        claims[_CWT_ISS] = iss
    protected = cbor2.dumps({_HDR_ALG: _COSE_ALGS[key.alg], _HDR_KID: b64url_decode(key.kid, field="kid"),
                             _HDR_TYP: CWT_TYP}, canonical=True)
    payload = cbor2.dumps(claims, canonical=True)
    signature = key.sign(_sig_structure(protected, payload))
    return bytes(cbor2.dumps(cbor2.CBORTag(_COSE_SIGN1_TAG, [protected, {}, payload, signature])))


def _sig_structure(protected: bytes, payload: bytes) -> bytes:
    return bytes(cbor2.dumps(["Signature1", protected, b"", payload]))


def _bad(what: str, field: str | None = None) -> CredentialError:
    return CredentialError(ReasonCode.MALFORMED, f"status list token: {what}", field=field)


def _int(value: object, name: str, *, required: bool = True) -> int | None:
    if value is None and not required:
        return None
    if type(value) is not int or value < 0:
        raise _bad(f"{name} must be a non-negative integer", name)
    return value


def parse_token(data: bytes | str) -> StatusListToken:
    """Parse a status list token (compact JWT text, or CWT bytes); checks shape only, never the signature."""
    raw = data.encode("ascii", "replace") if isinstance(data, str) else bytes(data)
    if len(raw) > MAX_TOKEN_BYTES:
        raise CredentialError(ReasonCode.INPUT_TOO_LARGE, "status list token exceeds the size cap")
    if raw[:1] in (b"\xd2", b"\x84"):
        return _parse_cwt(raw)
    return _parse_jwt(raw.strip())


def _parse_jwt(raw: bytes) -> StatusListToken:
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise _bad("not ASCII") from exc
    parts = text.split(".")
    if len(parts) != 3:
        raise _bad("not a compact JWS")
    header = json_loads(b64url_decode(parts[0], field="header"), field="header")
    if header.get("typ") != JWT_TYP:
        raise CredentialError(ReasonCode.TYP_INVALID, "not a statuslist+jwt", field="header.typ")
    if "crit" in header:
        raise CredentialError(ReasonCode.CRIT_UNSUPPORTED, "critical header extension", field="header.crit")
    alg, kid = header.get("alg"), header.get("kid")
    if not isinstance(alg, str) or (kid is not None and not isinstance(kid, str)):
        raise _bad("alg / kid", "header")
    payload = json_loads(b64url_decode(parts[1], field="payload"), field="payload", max_size=MAX_TOKEN_BYTES)
    status_list = payload.get("status_list")
    if not isinstance(status_list, Mapping) or not isinstance(status_list.get("lst"), str):
        raise _bad("status_list missing", "status_list")
    statuses = StatusList.decompress(status_list.get("bits"), b64url_decode(status_list["lst"], field="lst"))
    sub, iss = payload.get("sub"), payload.get("iss")
    if not isinstance(sub, str) or (iss is not None and not isinstance(iss, str)):
        raise _bad("sub / iss", "sub")
    return StatusListToken(
        form="jwt", sub=sub, iss=iss, iat=_int(payload.get("iat"), "iat") or 0,
        exp=_int(payload.get("exp"), "exp", required=False), ttl=_int(payload.get("ttl"), "ttl", required=False),
        statuses=statuses, alg=alg, kid=kid, signing_input=(parts[0] + "." + parts[1]).encode("ascii"),
        signature=b64url_decode(parts[2], field="signature"), raw=raw,
    )


def _loads(data: bytes) -> Any:
    try:
        return cbor2.loads(data)
    except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise _bad("not CBOR") from exc


def _parse_cwt(raw: bytes) -> StatusListToken:
    tagged = _loads(raw)
    parts = tagged.value if isinstance(tagged, cbor2.CBORTag) and tagged.tag == _COSE_SIGN1_TAG else tagged
    if not isinstance(parts, list) or len(parts) != 4 or not all(isinstance(parts[i], bytes) for i in (0, 2, 3)):
        raise _bad("not a COSE_Sign1")
    protected, payload, signature = parts[0], parts[2], parts[3]
    header = _loads(protected)
    if not isinstance(header, dict) or header.get(_HDR_TYP) != CWT_TYP:
        raise CredentialError(ReasonCode.TYP_INVALID, "not an application/statuslist+cwt", field="header.typ")
    alg_id = header.get(_HDR_ALG)
    alg = _COSE_ALG_NAMES.get(alg_id) if type(alg_id) is int else None
    kid_raw = header.get(_HDR_KID, parts[1].get(_HDR_KID) if isinstance(parts[1], dict) else None)
    claims = _loads(payload)
    if not isinstance(claims, dict):
        raise _bad("claims")
    status_list = claims.get(_CWT_STATUS_LIST)
    if not isinstance(status_list, dict) or not isinstance(status_list.get("lst"), bytes):
        raise _bad("status_list missing", "status_list")
    statuses = StatusList.decompress(status_list.get("bits"), status_list["lst"])
    sub, iss = claims.get(_CWT_SUB), claims.get(_CWT_ISS)
    if not isinstance(sub, str) or (iss is not None and not isinstance(iss, str)):
        raise _bad("sub / iss", "sub")
    return StatusListToken(
        form="cwt", sub=sub, iss=iss, iat=_int(claims.get(_CWT_IAT), "iat") or 0,
        exp=_int(claims.get(_CWT_EXP), "exp", required=False), ttl=_int(claims.get(_CWT_TTL), "ttl", required=False),
        statuses=statuses, alg=alg or "unsupported",
        kid=b64url_encode(kid_raw) if isinstance(kid_raw, bytes) else None,
        signing_input=_sig_structure(protected, payload), signature=signature, raw=raw,
    )


def verify_token(token: StatusListToken, public_key: object, *, algorithms: tuple[str, ...] = ("ES256", "EdDSA"),
                 ) -> None:
    """Raise ``CredentialError`` unless ``public_key`` signed ``token`` with an allowed algorithm."""
    if token.alg not in algorithms:
        raise CredentialError(ReasonCode.ALG_NOT_ALLOWED, "status list token alg not allowed", field="header.alg")
    if not verify_signature(token.alg, public_key, token.signing_input, token.signature):  # type: ignore[arg-type]
        raise CredentialError(ReasonCode.SIGNATURE_INVALID, "status list token signature does not verify")
