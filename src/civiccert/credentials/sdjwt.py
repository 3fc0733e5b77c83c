"""Low-level SD-JWT; use Issuer/Verifier.

RFC 9901 selective disclosure over our strict JOSE layer: ``issue`` turns claims with ``Sd`` markers into
``<issuer-signed JWT>~<disclosure>~...~``; ``present`` keeps the disclosures a holder chooses by path and
may append a key-binding JWT; ``verify`` checks everything RFC 9901 §7.1/§7.3 says to reject, each with
its own reason code, and is stricter than @sd-jwt 0.19.0 (duplicate, unreferenced and ``_sd``-named
disclosures are refused). No I/O: the issuer key lookup and the clock are parameters.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from civiccert._frozen import frozen_builder
from civiccert.credentials._native import sdissue as _sdissue_c  # None: the Python path
from civiccert.credentials._native import sdverify
from civiccert.credentials._sdbuild import _Issuance
from civiccert.credentials._sdcheck import _check_validity, _verify_key_binding
from civiccert.credentials._sdcore import (
    ARRAY_DIGEST_KEY,  # noqa: F401 (kept importable from sdjwt)
    KB_JWT_TYP,  # noqa: F401 (kept importable from sdjwt)
    NEVER_DISCLOSABLE,
    SD_ALG,
    SD_ALG_KEY,
    SD_DIGESTS_KEY,  # noqa: F401 (kept importable from sdjwt)
    IssuerKeyResolver,
    SaltSource,
    Sd,
    VerifiedSdJwt,
    _digest,  # noqa: F401 (kept importable from sdjwt)
    credential_hash,
    issuer_signed_part,
    split,
    strip_sd,
    unverified_payload,
)
from civiccert.credentials._sdpresent import present
from civiccert.credentials._sdunfold import _decode_disclosures_py, _table, _Unfolder  # noqa: F401 (tests)
from civiccert.credentials.jose import (
    DeferredSignature,
    check_pin,
    encoded_header,
    encoded_header_of,
    sign_encoded_sha256,
    verify_compact,
    verify_parts,
)
from civiccert.credentials.keys import public_key_from_jwk
from civiccert.credentials.signatures import PublicKey, Signer
from civiccert.credentials.strictjson import DEFAULT_MAX_SIZE, json_dumps, json_loads, json_text
from civiccert.errors import CredentialError, ReasonCode

try:  # a fast exact reader of the disclosures blob (see _decode_disclosures); orjson is a declared dependency
    import orjson as _orjson
except ImportError:  # pragma: no cover
    _orjson = None  # type: ignore[assignment]

# The compiled verify loop (setup.py builds it; DEVELOPERS.md): used only where it gives the pure-Python
# result, which every input it declines takes. CIVICCERT_PURE_PYTHON=1 forces the pure-Python path.
_c: Any = sdverify

__all__ = [
    "NEVER_DISCLOSABLE",
    "IssuerKeyResolver",
    "SaltSource",
    "Sd",
    "VerifiedSdJwt",
    "credential_hash",
    "issue",
    "issue_hashed",
    "issuer_signed_part",
    "present",
    "protected_header",
    "split",
    "strip_sd",
    "unverified_payload",
    "verify",
]

# The compiled helpers are looked up here, at call time, so a test (or CIVICCERT_PURE_PYTHON=1) that sets
# ``sdjwt._sdissue_c`` or ``sdjwt._c`` to None runs the pure-Python path of every entry point.


def issue(
    claims: Mapping[Any, Any],
    key: Signer,
    *,
    typ: str = "dc+sd-jwt",
    decoys: tuple[int, int] = (1, 3),
    salt: SaltSource | None = None,
    holder_jwk: Mapping[str, Any] | None = None,
    header: Mapping[str, Any] | None = None,
) -> str:
    """Sign ``claims`` as an SD-JWT ending in ``~``; ``Sd`` keys / elements become disclosures.

    Every ``_sd`` array and every array with ``Sd`` elements gets ``decoys[0]..decoys[1]`` decoy digests
    (random count) so a verifier cannot count withheld claims. ``holder_jwk`` becomes ``cnf.jwk``. The
    caller supplies the envelope (``iss``, ``iat``, ``exp``, ``vct``...); ``_sd_alg`` is added here.
    """
    _check_issue(claims, decoys, holder_jwk)
    protected = protected_header(key, typ=typ, header=header)
    return _issue(claims, key, protected, decoys, salt=salt, holder_jwk=holder_jwk)[0]


def protected_header(key: Signer, *, typ: str = "dc+sd-jwt", header: Mapping[str, Any] | None = None) -> str:
    """The base64url JWS header ``issue`` signs under (``alg``, ``kid``, ``typ``, then ``header``'s members):
    a batch under one key and header makes it once and passes it to :func:`issue_hashed`."""
    if header is None and type(typ) is str and type(key.kid) is str and type(key.alg) is str:
        return _bare_header(key.alg, key.kid, typ)
    extra = dict(header or {})
    if "typ" in extra:
        raise ValueError("typ is a parameter of issue()")
    return encoded_header({"typ": typ, **extra}, key)


@lru_cache(maxsize=64)
def _bare_header(alg: str, kid: str, typ: str) -> str:
    """``protected_header`` without extra members, once per key and typ (only successes are cached)."""
    return encoded_header_of(alg, kid, {"typ": typ})


def issue_hashed(
    claims: Mapping[Any, Any],
    key: Signer,
    protected: str,
    *,
    decoys: tuple[int, int] = (1, 3),
    holder_jwk: Mapping[str, Any] | None = None,
) -> tuple[str, bytes]:
    """``issue`` under ``protected`` (:func:`protected_header` of the same ``key``), and the SD-JWT's
    :func:`credential_hash`, taken from the signing input as it was signed (the Issuer's path)."""
    _check_issue(claims, decoys, holder_jwk)
    return _issue(claims, key, protected, decoys, salt=None, holder_jwk=holder_jwk)


def _check_issue(claims: Mapping[Any, Any], decoys: tuple[int, int], holder_jwk: Mapping[str, Any] | None) -> None:
    if type(claims) is not dict and not isinstance(claims, Mapping):  # a dict skips the ABC check
        raise TypeError("claims must be a mapping")
    low, high = decoys
    if not 0 <= low <= high:
        raise ValueError("decoys must be (min, max) with 0 <= min <= max")
    plain_names = {k.value if isinstance(k, Sd) else k for k in claims}
    if SD_ALG_KEY in plain_names:
        raise ValueError("'_sd_alg' is set by issue()")
    if holder_jwk is not None and "cnf" in plain_names:
        raise ValueError("pass either a 'cnf' claim or holder_jwk, not both")
    if holder_jwk is not None:
        public_key_from_jwk(holder_jwk)  # refuse a private or malformed holder key early


def _issue(
    claims: Mapping[Any, Any],
    key: Signer,
    protected: str,
    decoys: tuple[int, int],
    *,
    salt: SaltSource | None,
    holder_jwk: Mapping[str, Any] | None,
) -> tuple[str, bytes]:
    """The SD-JWT and the SHA-256 of its JWS signing input, for checked arguments."""
    low, high = decoys
    if _sdissue_c is not None and salt is None and type(claims) is dict:
        # The compiled builder writes the payload JSON and the disclosures in one call, or returns None for
        # anything outside the common case (the Python path then issues, and raises what it raises).
        tail = _TAIL if holder_jwk is None else _TAIL + ',"cnf":' + json_text({"jwk": dict(holder_jwk)})
        built = _sdissue_c.build(claims, Sd, NEVER_DISCLOSABLE, low, high, tail.encode())
        if built is not None:
            jws, digest = sign_encoded_sha256(protected, built[0], key)
            return jws.decode("ascii") + "~" + built[1], digest
    issuance = _Issuance(salt, (low, high))
    payload: dict[str, Any] = issuance.build(claims, top=True)
    payload[SD_ALG_KEY] = SD_ALG
    if holder_jwk is not None:
        payload["cnf"] = {"jwk": dict(holder_jwk)}
    jws, digest = sign_encoded_sha256(protected, json_dumps(payload), key)
    jwt = jws.decode("ascii")
    if not issuance.disclosures:
        return jwt + "~", digest
    return jwt + "~" + b"~".join(issuance.disclosures).decode("ascii") + "~", digest


#: The payload's last members after the claims: what ``issue`` adds (``cnf`` follows when bound to a holder).
_TAIL = f'"{SD_ALG_KEY}":"{SD_ALG}"'

def _decode_disclosures(disclosures: list[str]) -> tuple[list[str], dict[str, list[Any]]]:
    """The digests in order and ``digest -> [salt, (name,) value]``; batched when all are well formed.

    The compiled path decodes and hashes every disclosure in one call and proves, as ``b64url_json_many``
    does, that one orjson parse of them all reads each exactly as the strict parser would. Anything it
    declines, and every error, goes the pure-Python way, which decides and names the reason.
    """
    if _c is not None and _orjson is not None:
        fast = _c.decode(disclosures)
        if fast is not None:
            digests, blob = fast
            try:
                values = _orjson.loads(blob)
            except _orjson.JSONDecodeError:
                values = None
            # every item is its own balanced segment (checked in C), so equal bytes mean each item is
            # exactly orjson's serialisation of its own value: canonical, as strictjson._canonical requires
            if values is not None and len(values) == len(digests) and _orjson.dumps(values) == blob:
                table = _c.table(digests, values)
                if table is not None:
                    return digests, table
    return _decode_disclosures_py(disclosures)


def _unfold(
    payload: dict[str, Any], order: list[str], by_digest: dict[str, list[Any]]
) -> tuple[dict[str, Any], list[str]]:
    """The claims and disclosed paths of ``payload`` (compiled when built and the input is well formed)."""
    if _c is not None:
        fast: tuple[dict[str, Any], list[str]] | None = _c.unfold(payload, by_digest)
        if fast is not None:
            return fast
    unfolder = _Unfolder(order, by_digest)
    claims = unfolder.unfold_payload(payload)
    index = unfolder.unreferenced()
    if index is not None:
        raise CredentialError(
            ReasonCode.DISCLOSURE_UNREFERENCED,
            "disclosure not referenced by the credential",
            field=f"disclosures[{index}]",
        )
    return claims, unfolder.paths


_verified_sd_jwt = frozen_builder(VerifiedSdJwt)  # no per-field setattr: made once per verify


def verify(
    sd_jwt: str,
    *,
    resolve_key: IssuerKeyResolver,
    algorithms: Iterable[str] = ("ES256", "EdDSA"),
    expected_typ: str = "dc+sd-jwt",
    require_key_binding: bool = False,
    aud: str | None = None,
    nonce: str | None = None,
    now: float | None = None,
    skew: float = 60,
    max_size: int = DEFAULT_MAX_SIZE,
    check_validity: bool = True,
    kb_max_age: float | None = None,
    sort_paths: bool = True,
    deferred: list[DeferredSignature] | None = None,
) -> VerifiedSdJwt:
    """Verify an SD-JWT or presentation; raise ``CredentialError`` with the first failed check's code.

    ``check_validity=False`` leaves the credential's iat/nbf/exp to the caller (the Verifier reports the
    validity window as its own check); the KB-JWT's time checks always run. ``kb_max_age`` (seconds) bounds
    how old a KB-JWT may be (RFC 9901 §7.3: the verifier's acceptable window), beside its nonce.
    ``sort_paths=False`` leaves ``disclosed_paths`` in walk order (a bulk verifier that only counts them).
    ``deferred`` (a bulk verifier's): the issuer signature check may be appended to it instead of made (see
    ``jose.verify_parts``); the result, or the error raised after that point, stands only once
    ``jose.check_deferred`` of it says True, and the caller verifies again without ``deferred`` otherwise.
    Never with a KB-JWT: its ECDSA runs only for a credential whose issuer signature verified.

    ``resolve_key(header, payload)`` picks the issuer key from trusted data (``kid``, ``iss``); the
    payload it sees is not yet verified. With ``require_key_binding`` a KB-JWT must be present and
    ``aud`` and ``nonce`` are required; a KB-JWT that is present is always verified.
    """
    if require_key_binding and (aud is None or nonce is None):
        raise ValueError("require_key_binding needs the expected aud and nonce")
    if not isinstance(sd_jwt, str):
        raise TypeError("sd_jwt must be str")
    if len(sd_jwt) > max_size:
        raise CredentialError(ReasonCode.INPUT_TOO_LARGE, "SD-JWT exceeds the size cap")
    algorithms = tuple(algorithms)
    parsed: list[dict[str, Any]] = []

    def issuer_key(header: dict[str, Any], raw_payload: bytes) -> PublicKey:
        parsed.append(json_loads(raw_payload, field="payload", max_size=max_size))
        return resolve_key(header, parsed[0])

    pieces = _c.split(sd_jwt) if _c is not None else None
    if pieces is not None:  # split and the JWS's own split in one compiled pass (well-formed structure only)
        jwt, header_text, payload_text, signature_text, signing_input, disclosures, kb_jwt = pieces
        check_pin(algorithms)  # what verify_compact checks before it splits (jwt is a str within max_size)
        jws = verify_parts(header_text, payload_text, signature_text, signing_input, algorithms=algorithms,
                           resolve_key=issuer_key, expected_typ=expected_typ, max_size=max_size,
                           decoded=_c.jws(payload_text, signature_text, signing_input),  # None: decoded there
                           deferred=deferred if kb_jwt is None else None)  # no holder ECDSA before it
    else:
        jwt, disclosures, kb_jwt = split(sd_jwt)
        jws = verify_compact(
            jwt, algorithms=algorithms, resolve_key=issuer_key, expected_typ=expected_typ, max_size=max_size
        )
    payload = parsed[0]
    sd_alg = payload.get(SD_ALG_KEY, SD_ALG)
    if sd_alg != SD_ALG:
        raise CredentialError(ReasonCode.SD_ALG_UNSUPPORTED, "unsupported _sd_alg", field=SD_ALG_KEY)
    current = time.time() if now is None else now
    if check_validity:
        _check_validity(payload, current, skew)

    claims, paths = _unfold(payload, *_decode_disclosures(disclosures))

    key_binding = None
    if kb_jwt is not None:
        key_binding = _verify_key_binding(
            kb_jwt,
            sd_jwt[: len(sd_jwt) - len(kb_jwt)],
            payload,
            algorithms=algorithms,
            aud=aud,
            nonce=nonce,
            now=current,
            skew=skew,
            max_size=max_size,
            kb_max_age=kb_max_age,
        )
    elif require_key_binding:
        raise CredentialError(ReasonCode.HOLDER_BINDING_MISSING, "key-binding JWT required", field="kb_jwt")

    return _verified_sd_jwt(
        header=jws.header,
        payload=payload,
        claims=claims,
        disclosed_paths=sorted(paths) if sort_paths else paths,
        issuer_signed_jwt=jwt,
        key_binding=key_binding,
        credential_hash=jws.signing_input_sha256,
    )
