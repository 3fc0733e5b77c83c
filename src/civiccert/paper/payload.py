"""The signed paper form: plain claims -> CBOR -> COSE_Sign1 (CWT) -> [cose, receipt] -> zlib -> Base45 "CC1:".

Low-level; the Issuer prints and the Verifier reads through these functions. The pipeline follows the EU
Digital COVID Certificate: a CWT (RFC 8392) whose private claim ``-65537`` holds our body with integer keys
(``_claimtable``), signed as COSE_Sign1 (RFC 9052, tag 18) by the issuer key of the digital credential.

- Protected header: ``{1: alg (-7 ES256 | -8 EdDSA), 3: 61 (application/cwt), 4: kid}``, where kid is the full
  32-byte RFC 7638 thumbprint (no prefix: a kid must name one key, and 32 bytes cost ~40 QR characters), or,
  for a key certified by an X.509 leaf, the leaf's 8-byte certificate kid (SHA-256 of its DER, as EU DCC).
- The paper credential hash is SHA-256 of the COSE Sig_structure (what was signed); it is anchored beside its
  digital twin.
- The anchoring receipt travels OUTSIDE the signature (it exists only after the batch is anchored):
  QR content = CBOR ``[cose_sign1_bytes, receipt_or_null]``; compact receipt =
  ``[1, chain_id, registry(20), root(32), index, size, [proof(32)...], block, anchored_at_or_null]``.
- The 個人番号 is dropped unless ``include_individual_number=True``; the seal PNG unless
  ``include_seal_image=True`` (its SHA-256 and printed size stay signed).

Decoding is strict and bounded: the text length is capped before Base45, the inflated size is capped
before CBOR, and anything unexpected is QR_PAYLOAD_INVALID (unknown prefix: PAYLOAD_VERSION_UNSUPPORTED).
"""

from __future__ import annotations

import hashlib
import io
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import base45
import cbor2

from civiccert.credentials._native import sdissue as _sdissue_c  # None: cbor2 alone
from civiccert.credentials.b64url import b64url_decode, b64url_encode
from civiccert.credentials.sdjwt import strip_sd
from civiccert.credentials.signatures import Signer, signature_sha256, verify_signature
from civiccert.errors import PaperError, ReasonCode
from civiccert.paper._claimtable import pack_body, pack_marked_body, unpack_body

__all__ = [
    "MAX_QR_TEXT_CHARS",
    "PREFIX",
    "PaperPayload",
    "Signer",
    "decode_qr_text",
    "encode_paper",
    "encode_paper_hashed",
    "qr_text",
    "verify_paper_signature",
]

PREFIX = "CC1:"
MAX_QR_TEXT_CHARS = 4296  # alphanumeric capacity of QR version 40-L: no real QR holds more
_MAX_INFLATED = 64 * 1024  # zlib bomb cap; a six-person household inflates to ~2 KiB

_COSE_SIGN1_TAG = 18
_HDR_ALG, _HDR_CT, _HDR_KID = 1, 3, 4
_CT_CWT = 61  # CoAP content-format of application/cwt
_CWT_ISS, _CWT_EXP, _CWT_NBF, _CWT_IAT, _CWT_CTI = 1, 4, 5, 6, 7
_CWT_BODY = -65537  # first private-use CWT claim key (RFC 8392 sec. 9.1)
_CWT_STATUS = 65535  # the Token Status List's ``status`` claim: {"status_list": {"idx", "uri"}}
_ALGS = {"ES256": -7, "EdDSA": -8}
_ALG_NAMES = {v: k for k, v in _ALGS.items()}
_RECEIPT_VERSION = 1
_KID_SIZES = (8, 32)  # certificate kid (first 8 bytes of SHA-256 of the leaf DER, as EU DCC) | key thumbprint


@dataclass(frozen=True)
class PaperPayload:
    """A decoded QR. Nothing here is trusted until ``verify_paper_signature`` (and the issuer key) agree."""

    vct: str
    claims: dict[str, Any]
    iss: str
    iat: int
    exp: int
    nbf: int | None
    alg: str
    kid: str  # base64url of the 32-byte thumbprint (as IssuerKey.kid / JWS kid) or of an 8-byte certificate kid
    signature: bytes
    sig_structure: bytes  # the COSE Sig_structure bytes the signature covers
    cose: bytes
    credential_hash: bytes  # SHA-256(Sig_structure): the Merkle leaf input and the revocation key
    receipt: dict[str, Any] | None  # DESIGN.md receipt shape without "tx"; None when printed without one
    cti: bytes | None = None  # CWT ID: the issuer puts the first 8 bytes of the digital twin's hash here
    status: dict[str, Any] | None = None  # status claim (65535): {"status_list": {"idx", "uri"}}, as signed


def _sig_structure(protected: bytes, payload: bytes) -> bytes:
    return cbor2.dumps(["Signature1", protected, b"", payload])


def encode_paper(
    vct: str,
    claims: Mapping[str, Any],
    signer: Signer,
    *,
    iss: str,
    iat: int,
    exp: int,
    nbf: int | None = None,
    include_individual_number: bool = False,
    include_seal_image: bool = False,
    cti: bytes | None = None,
    status: Mapping[str, Any] | None = None,
    cose_kid: bytes | None = None,
) -> bytes:
    """Sign the plain claims as a COSE_Sign1 CWT and return its bytes (hash them for the Merkle leaf).

    The 個人番号 is dropped unless ``include_individual_number``; the seal impression's PNG bytes are
    dropped unless ``include_seal_image`` (a PNG alone fills a version-40 code), keeping its SHA-256 and size.
    ``cose_kid`` (8 bytes) names a certified key as EU DCC does, by its certificate (``civiccert.pki.cert_kid``).
    ``cti`` (CWT ID) makes two copies of the same record issued in the same second distinct documents (the
    issuer passes the first 8 bytes of the digital twin's credential hash, which also links the two).
    """
    return encode_paper_hashed(
        vct, claims, signer, iss=iss, iat=iat, exp=exp, nbf=nbf, include_individual_number=include_individual_number,
        include_seal_image=include_seal_image, cti=cti, status=status, cose_kid=cose_kid,
    )[0]


def encode_paper_hashed(
    vct: str,
    claims: Mapping[str, Any],
    signer: Signer,
    *,
    iss: str,
    iat: int,
    exp: int,
    nbf: int | None = None,
    include_individual_number: bool = False,
    include_seal_image: bool = False,
    cti: bytes | None = None,
    status: Mapping[str, Any] | None = None,
    cose_kid: bytes | None = None,
    marked: bool = False,
) -> tuple[bytes, bytes]:
    """``encode_paper`` and the paper credential hash (``paper_credential_hash`` of it), from the
    Sig_structure as it was signed rather than by decoding the COSE again (the Issuer's path).

    ``marked``: ``claims`` still carry the SD-JWT's ``Sd`` markers (the Issuer's body); they are stripped
    while the claim table is packed."""
    if signer.alg not in _ALGS:
        raise PaperError(ReasonCode.ALGORITHM_UNSUPPORTED, "paper form supports ES256 and EdDSA only")
    kid = cose_kid if cose_kid is not None else _kid_bytes(signer.kid)
    if len(kid) not in _KID_SIZES:
        raise ValueError("the kid must be an RFC 7638 thumbprint (32 bytes) or a certificate kid (8 bytes)")
    if marked and "seal" in claims:  # the seal's items are read below: plain claims
        claims, marked = strip_sd(claims), False
    seal = claims.get("seal")
    if seal is not None and isinstance(seal, Mapping):  # None (a 住民票) skips two ABC checks
        if "image_png" in seal and "image_phash" not in seal:
            seal = {**seal, "image_phash": _seal_phash(seal["image_png"])}
            claims = {**claims, "seal": seal}
        if not include_seal_image and "image_png" in seal:
            claims = {**claims, "seal": {k: v for k, v in seal.items() if k != "image_png"}}
    pack = pack_marked_body if marked else pack_body
    body = pack(vct, claims, without_individual_number=not include_individual_number)
    cwt: dict[int, Any] = {_CWT_ISS: iss, _CWT_IAT: iat, _CWT_EXP: exp, _CWT_BODY: body}
    if nbf is not None:
        cwt[_CWT_NBF] = nbf
    if cti is not None:
        if not isinstance(cti, bytes) or not 1 <= len(cti) <= 32:
            raise ValueError("cti must be 1..32 bytes")
        cwt[_CWT_CTI] = cti
    if status is not None:  # the same list entry as the digital twin's (draft-ietf-oauth-status-list)
        cwt[_CWT_STATUS] = {"status_list": dict(status["status_list"])}
    payload = _canonical(cwt)
    protected = _protected_bstr(_ALGS[signer.alg], kid)
    payload = _bstr(payload)
    # The Sig_structure ["Signature1", protected, h'', payload] and the tagged COSE_Sign1 array
    # [protected, {}, payload, signature], written head by head: the same bytes as _canonical of the arrays.
    signed = _SIG_STRUCTURE_HEAD + protected + b"\x40" + payload
    signature, digest = signature_sha256(signer, signed)
    cose = b"\xd2\x84" + protected + b"\xa0" + payload + _bstr(signature)
    return cose, digest


#: A 4-element array's head, then the text "Signature1" (RFC 9052 §4.4).
_SIG_STRUCTURE_HEAD = b"\x84\x6aSignature1"


@lru_cache(maxsize=32)
def _protected(alg: int, kid: bytes) -> bytes:
    """The protected header's CBOR, once per key."""
    return _canonical({_HDR_ALG: alg, _HDR_CT: _CT_CWT, _HDR_KID: kid})


@lru_cache(maxsize=32)
def _protected_bstr(alg: int, kid: bytes) -> bytes:
    """The protected header as the byte string both COSE arrays carry, once per key."""
    return _bstr(_protected(alg, kid))


@lru_cache(maxsize=32)
def _kid_bytes(kid: str) -> bytes:
    """A signer's JOSE kid as the COSE kid bytes, decoded once per key."""
    return b64url_decode(kid, field="kid")


def _bstr(data: bytes) -> bytes:
    """A CBOR byte string: its shortest head (RFC 8949 §4.2.1), then the bytes."""
    size = len(data)
    if size < 24:
        return (0x40 | size).to_bytes(1, "big") + data
    if size < 0x100:
        return b"\x58" + size.to_bytes(1, "big") + data
    if size < 0x10000:
        return b"\x59" + size.to_bytes(2, "big") + data
    if size < 0x1_0000_0000:
        return b"\x5a" + size.to_bytes(4, "big") + data
    return b"\x5b" + size.to_bytes(8, "big") + data


def _canonical(obj: Any) -> bytes:
    """``cbor2.dumps(obj, canonical=True)``, by the compiled encoder when it takes ``obj``."""
    if _sdissue_c is not None:
        encoded = _sdissue_c.cbor_canonical(obj)
        if encoded is not None:
            return encoded
    return bytes(cbor2.dumps(obj, canonical=True))


def _hex(raw: bytes) -> str:
    return "0x" + raw.hex()


def _unhex(text: Any, size: int, field: str) -> bytes:
    if not isinstance(text, str) or not text.startswith("0x"):
        raise ValueError(f"receipt.{field} must be 0x-prefixed hex")
    raw = bytes.fromhex(text[2:])
    if len(raw) != size:
        raise ValueError(f"receipt.{field} must be {size} bytes")
    return raw


def _compact_receipt(receipt: Mapping[str, Any]) -> list[Any]:
    """DESIGN.md receipt JSON -> compact CBOR array (``tx`` is left out: the root identifies the batch)."""
    anchored_at = receipt.get("anchored_at")
    return [
        _RECEIPT_VERSION,
        int(receipt["chain_id"]),
        _unhex(receipt["registry"], 20, "registry"),
        _unhex(receipt["root"], 32, "root"),
        int(receipt["index"]),
        int(receipt["size"]),
        [_unhex(p, 32, "proof") for p in receipt["proof"]],
        int(receipt["block"]),
        None if anchored_at is None else int(anchored_at),
    ]


def qr_text(cose: bytes, receipt: Mapping[str, Any] | None = None) -> str:
    """The QR content for a signed paper form, with the anchoring receipt when there is one."""
    compact = None if receipt is None else _compact_receipt(receipt)
    packed = zlib.compress(cbor2.dumps([cose, compact]), 9)
    text = PREFIX + bytes(base45.b45encode(packed)).decode("ascii")
    if len(text) > MAX_QR_TEXT_CHARS:
        raise PaperError(ReasonCode.PAYLOAD_TOO_LARGE, "paper form exceeds the largest QR code")
    return text


def _invalid(what: str) -> PaperError:
    return PaperError(ReasonCode.QR_PAYLOAD_INVALID, f"QR payload is not a valid civiccert paper form: {what}")


def _int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _invalid("expected an integer")
    return value


def _bytes(value: Any, size: int | None = None) -> bytes:
    if not isinstance(value, bytes) or (size is not None and len(value) != size):
        raise _invalid("expected a byte string")
    return value


def _decode_receipt(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or len(raw) != 9 or raw[0] != _RECEIPT_VERSION:
        raise _invalid("receipt")
    proof = raw[6]
    if not isinstance(proof, list):
        raise _invalid("receipt proof")
    anchored_at = None if raw[8] is None else _int(raw[8])
    receipt: dict[str, Any] = {
        "v": _RECEIPT_VERSION,
        "chain_id": _int(raw[1]),
        "registry": _hex(_bytes(raw[2], 20)),
        "root": _hex(_bytes(raw[3], 32)),
        "index": _int(raw[4]),
        "size": _int(raw[5]),
        "proof": [_hex(_bytes(p, 32)) for p in proof],
        "block": _int(raw[7]),
    }
    if anchored_at is not None:
        receipt["anchored_at"] = anchored_at
    return receipt


def _inflate(text: str) -> bytes:
    if not text.startswith(PREFIX):
        version = text[2:].split(":", 1)[0] if ":" in text else ""
        if text.startswith("CC") and version.isdigit():
            raise PaperError(ReasonCode.PAYLOAD_VERSION_UNSUPPORTED, "unknown paper form version")
        raise _invalid("no civiccert prefix")
    if len(text) > MAX_QR_TEXT_CHARS:
        raise _invalid("too long")
    try:
        packed = base45.b45decode(text[len(PREFIX) :])
    except (ValueError, TypeError) as exc:
        raise _invalid("base45") from exc
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(packed, _MAX_INFLATED)
    except zlib.error as exc:
        raise _invalid("zlib") from exc
    if inflater.unconsumed_tail:
        raise _invalid("inflated size over the cap")
    if not inflater.eof or inflater.unused_data:
        raise _invalid("zlib stream truncated or followed by data")
    return data


def _loads(data: bytes) -> Any:
    stream = io.BytesIO(data)
    try:
        value = cbor2.CBORDecoder(stream).decode()
    except Exception as exc:  # cbor2 raises a variety of types on hostile input
        raise _invalid("cbor") from exc
    if stream.tell() != len(data):
        raise _invalid("trailing bytes after cbor")
    return value


def paper_credential_hash(cose: bytes) -> bytes:
    """SHA-256 of what the issuer signed (the COSE Sig_structure), not of the COSE bytes: re-encoding the
    container or re-randomising an ECDSA signature yields the same hash, so a revocation cannot be dodged."""
    tagged = _loads(cose)
    if not isinstance(tagged, cbor2.CBORTag) or tagged.tag != _COSE_SIGN1_TAG or len(tagged.value) != 4:
        raise _invalid("COSE_Sign1 structure")
    return hashlib.sha256(_sig_structure(_bytes(tagged.value[0]), _bytes(tagged.value[2]))).digest()


def _seal_phash(image_png: object) -> str:
    """The impression's 64-bit pHash, so a photo of the page can be compared with it (paper.sealphoto)."""
    import base64
    import binascii

    from civiccert.paper.sealphoto import phash

    try:
        return phash(base64.b64decode(str(image_png), validate=True))
    except (binascii.Error, OSError, ValueError) as exc:
        raise PaperError(ReasonCode.SEAL_IMAGE_INVALID, "seal impression is not a readable PNG",
                         field="seal.image_png") from exc


def decode_qr_text(text: str) -> PaperPayload:
    """Parse a QR text into its (unverified) parts; strict, bounded, never trusts the content."""
    outer = _loads(_inflate(text.strip()))
    if not isinstance(outer, list) or len(outer) != 2:
        raise _invalid("outer array")
    cose = _bytes(outer[0])
    receipt = _decode_receipt(outer[1])
    tagged = _loads(cose)
    if not isinstance(tagged, cbor2.CBORTag) or tagged.tag != _COSE_SIGN1_TAG:
        raise _invalid("COSE_Sign1 tag")
    parts = tagged.value
    if not isinstance(parts, list | tuple) or len(parts) != 4 or parts[1] != {}:
        raise _invalid("COSE_Sign1 structure")
    protected, payload, signature = _bytes(parts[0]), _bytes(parts[2]), _bytes(parts[3])
    header = _loads(protected)
    if not isinstance(header, dict) or set(header) != {_HDR_ALG, _HDR_CT, _HDR_KID}:
        raise _invalid("protected header")
    if type(header[_HDR_ALG]) is not int or header[_HDR_ALG] not in _ALG_NAMES or header[_HDR_CT] != _CT_CWT:
        raise _invalid("alg or content type")
    kid = _bytes(header[_HDR_KID])
    if len(kid) not in _KID_SIZES:
        raise _invalid("kid")
    cwt = _loads(payload)
    if not isinstance(cwt, dict) or not {_CWT_ISS, _CWT_IAT, _CWT_EXP, _CWT_BODY} <= set(cwt):
        raise _invalid("CWT claims")
    if not set(cwt) <= {_CWT_ISS, _CWT_IAT, _CWT_EXP, _CWT_NBF, _CWT_CTI, _CWT_BODY, _CWT_STATUS}:
        raise _invalid("unknown CWT claim")
    iss = cwt[_CWT_ISS]
    if not isinstance(iss, str):
        raise _invalid("iss")
    if _CWT_CTI in cwt and not isinstance(cwt[_CWT_CTI], bytes):
        raise _invalid("cti")
    status = cwt.get(_CWT_STATUS)
    if status is not None and not isinstance(status, dict):
        raise _invalid("status")
    vct, claims = unpack_body(cwt[_CWT_BODY])
    return PaperPayload(
        vct=vct,
        claims=claims,
        iss=iss,
        iat=_int(cwt[_CWT_IAT]),
        exp=_int(cwt[_CWT_EXP]),
        nbf=_int(cwt[_CWT_NBF]) if _CWT_NBF in cwt else None,
        alg=_ALG_NAMES[header[_HDR_ALG]],
        kid=b64url_encode(kid),
        signature=signature,
        sig_structure=_sig_structure(protected, payload),
        cose=cose,
        credential_hash=hashlib.sha256(_sig_structure(protected, payload)).digest(),
        receipt=receipt,
        cti=cwt.get(_CWT_CTI),
        status=status,
    )


def verify_paper_signature(payload: PaperPayload, public_key: object) -> bool:
    """True when ``public_key`` (a cryptography public key) signed this paper form under its alg.

    The same primitive as the digital form's JWS (raw r||s, 0 < r, s < n, key fits the algorithm)."""
    return verify_signature(payload.alg, public_key, payload.sig_structure, payload.signature)  # type: ignore[arg-type]
