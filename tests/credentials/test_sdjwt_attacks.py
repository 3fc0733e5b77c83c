"""Every RFC 9901 §7 / RFC 8725 rejection, each asserting its reason code (and no value in messages)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from civiccert.credentials import sdjwt
from civiccert.credentials.b64url import b64url_decode, b64url_encode
from civiccert.credentials.jose import sign_compact
from civiccert.credentials.keys import IssuerKey
from civiccert.credentials.sdjwt import Sd
from civiccert.credentials.strictjson import json_dumps
from civiccert.errors import CredentialError, ReasonCode

NOW = 1_800_000_000
SECRET_NAME = "山田太郎"
SECRET_SALT = "c2VjcmV0LXNhbHQtdmFsdWU"
ISSUER = IssuerKey.generate()
HOLDER = IssuerKey.generate()
OTHER = IssuerKey.generate()


def _claims() -> dict[Any, Any]:
    return {
        "iss": "urn:civiccert:lg:122076",
        "iat": NOW - 10,
        "exp": NOW + 3600,
        "vct": "urn:civiccert:vct:juminhyo:1",
        "household": {Sd("address"): "千葉県松戸市小根本7番地の8"},
        "members": [Sd({Sd("name"): SECRET_NAME, Sd("birth_date"): "1980-01-01"})],
    }


def _resolve(_header: dict[str, Any], _payload: dict[str, Any]) -> Any:
    return ISSUER.public_key


def _issue(**kwargs: Any) -> str:
    return sdjwt.issue(_claims(), ISSUER, holder_jwk=HOLDER.public_jwk(), **kwargs)


def _verify(token: str, **kwargs: Any) -> sdjwt.VerifiedSdJwt:
    options: dict[str, Any] = {"resolve_key": _resolve, "now": NOW, "aud": "https://bank.example", "nonce": "n-1"}
    options.update(kwargs)
    return sdjwt.verify(token, **options)


def _code(call: Callable[[], object]) -> ReasonCode:
    with pytest.raises(CredentialError) as exc:
        call()
    text = str(exc.value)
    assert SECRET_NAME not in text
    assert SECRET_SALT not in text
    assert "千葉" not in text
    return exc.value.code


def _disclosure(*content: Any) -> str:
    return b64url_encode(json.dumps(list(content), ensure_ascii=False).encode())


def _digest(disclosure: str) -> str:
    return b64url_encode(hashlib.sha256(disclosure.encode()).digest())


def _forge(payload: dict[str, Any], disclosures: list[str], header: dict[str, Any] | None = None) -> str:
    """Sign an arbitrary payload with the trusted issuer key (a buggy or malicious issuer)."""
    jwt = sign_compact({"typ": "dc+sd-jwt", **(header or {})}, json_dumps(payload), ISSUER)
    return "~".join([jwt, *disclosures, ""])


def _raw_jwt(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    enc = [b64url_encode(json.dumps(part).encode()) for part in (header, payload)]
    return ".".join([*enc, b64url_encode(signature)])


# --- JOSE header attacks ----------------------------------------------------------------------------


def test_alg_none_is_refused() -> None:
    token = _raw_jwt({"alg": "none", "typ": "dc+sd-jwt"}, {"iss": "x"}) + "~"
    assert _code(lambda: _verify(token)) is ReasonCode.ALG_NOT_ALLOWED


def test_hs256_signed_with_the_public_key_bytes_is_refused() -> None:
    header = {"alg": "HS256", "typ": "dc+sd-jwt"}
    enc = ".".join(b64url_encode(json.dumps(p).encode()) for p in (header, {"iss": "x"}))
    mac_key = json.dumps(ISSUER.public_jwk()).encode()
    token = enc + "." + b64url_encode(hmac.new(mac_key, enc.encode(), "sha256").digest()) + "~"
    assert _code(lambda: _verify(token)) is ReasonCode.ALG_NOT_ALLOWED
    assert _code(lambda: _verify(token, algorithms=("ES256",))) is ReasonCode.ALG_NOT_ALLOWED


def test_alg_outside_the_callers_pin_is_refused() -> None:
    token = sdjwt.issue(_claims(), IssuerKey.generate("EdDSA"))
    assert _code(lambda: _verify(token, algorithms=("ES256",))) is ReasonCode.ALG_NOT_ALLOWED


def test_unknown_crit_is_refused() -> None:
    token = _forge({"iss": "x"}, [], header={"crit": ["exp"], "exp": 1})
    assert _code(lambda: _verify(token)) is ReasonCode.CRIT_UNSUPPORTED


def test_jku_x5u_jwk_in_header_are_ignored_for_key_selection() -> None:
    attacker = IssuerKey.generate()
    header = {"jku": "https://attacker.example/jwks", "x5u": "https://attacker.example/c", "jwk": attacker.public_jwk()}
    jwt = sign_compact({"typ": "dc+sd-jwt", **header}, json_dumps({"iss": "x"}), attacker)
    assert _code(lambda: _verify(jwt + "~")) is ReasonCode.SIGNATURE_INVALID
    honest = _forge({"iss": "x", "iat": NOW}, [], header=header)
    assert _verify(honest).claims == {"iss": "x", "iat": NOW}  # present but unused


def test_wrong_typ_is_refused() -> None:
    token = sdjwt.issue(_claims(), ISSUER, typ="JWT")
    assert _code(lambda: _verify(token)) is ReasonCode.TYP_INVALID


def test_non_string_kid_is_refused() -> None:
    token = _forge({"iss": "x"}, [], header={"x-kid": 1}).replace("~", "")
    _header, rest = token.split(".", 1)
    bad = b64url_encode(json.dumps({"alg": "ES256", "kid": ["../../etc/passwd"], "typ": "dc+sd-jwt"}).encode())
    assert _code(lambda: _verify(f"{bad}.{rest}~")) is ReasonCode.MALFORMED


def test_signature_by_another_key_is_refused() -> None:
    token = sdjwt.issue(_claims(), OTHER)
    assert _code(lambda: _verify(token)) is ReasonCode.SIGNATURE_INVALID


def test_der_encoded_es256_signature_is_refused() -> None:
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    jwt = _issue().split("~")[0]
    head, payload, sig = jwt.split(".")
    raw = b64url_decode(sig)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    assert _code(lambda: _verify(f"{head}.{payload}.{b64url_encode(der)}~")) is ReasonCode.SIGNATURE_INVALID


def test_resolver_can_say_key_unknown() -> None:
    def unknown(_h: dict[str, Any], _p: dict[str, Any]) -> Any:
        raise CredentialError(ReasonCode.KEY_UNKNOWN, "no such kid")

    assert _code(lambda: _verify(_issue(), resolve_key=unknown)) is ReasonCode.KEY_UNKNOWN


# --- size and encoding ------------------------------------------------------------------------------


def test_huge_token_is_rejected_before_parsing() -> None:
    token = "a" * 6_600_000
    start = time.perf_counter()
    assert _code(lambda: _verify(token)) is ReasonCode.INPUT_TOO_LARGE
    assert time.perf_counter() - start < 0.5  # a generous bound: no parsing happened


def test_padded_and_illegal_base64url_are_refused() -> None:
    jwt, *rest = _issue().split("~")
    head, payload, sig = jwt.split(".")
    padded = head + "=" * (-len(head) % 4 or 4)
    for bad_head in (padded, head.replace(head[5], "+", 1) if head[5] in "-_" else head[:5] + "+" + head[6:]):
        assert _code(lambda h=bad_head: _verify("~".join([f"{h}.{payload}.{sig}", *rest]))) is (
            ReasonCode.BASE64URL_INVALID
        )
    bad_disclosure = rest[0] + "="
    assert _code(lambda: _verify("~".join([jwt, bad_disclosure, *rest[1:]]))) is ReasonCode.BASE64URL_INVALID


def test_non_canonical_trailing_bits_are_refused() -> None:
    assert b64url_decode("QQ") == b"A"
    assert _code(lambda: b64url_decode("QR")) is ReasonCode.BASE64URL_INVALID


def test_duplicate_json_keys_are_refused() -> None:
    header = b64url_encode(b'{"alg":"ES256","typ":"dc+sd-jwt","typ":"dc+sd-jwt"}')
    payload = b64url_encode(b'{"iss":"a"}')
    signature = b64url_encode(ISSUER.sign(f"{header}.{payload}".encode()))
    assert _code(lambda: _verify(f"{header}.{payload}.{signature}~")) is ReasonCode.JSON_DUPLICATE_KEY
    dup = b64url_encode(b'["salt","name",{"a":1,"a":2}]')
    token = _forge({"iss": "x", "_sd": [_digest(dup)]}, [dup])
    assert _code(lambda: _verify(token)) is ReasonCode.JSON_DUPLICATE_KEY


# --- disclosures ------------------------------------------------------------------------------------


def test_unreferenced_disclosure_is_refused() -> None:
    extra = _disclosure(SECRET_SALT, "name", SECRET_NAME)
    token = _issue() + extra + "~"
    assert _code(lambda: _verify(token)) is ReasonCode.DISCLOSURE_UNREFERENCED


def test_disclosure_from_another_credential_is_refused() -> None:
    first, second = _issue(), _issue()
    foreign = second.split("~")[1]
    assert _code(lambda: _verify(first + foreign + "~")) is ReasonCode.DISCLOSURE_UNREFERENCED


def test_tampered_disclosure_is_refused() -> None:
    jwt, *disclosures, _ = _issue().split("~")
    content = json.loads(b64url_decode(disclosures[0]))
    content[-1] = "tampered"
    tampered = _disclosure(*content)
    assert _code(lambda: _verify("~".join([jwt, tampered, *disclosures[1:], ""]))) is (
        ReasonCode.DISCLOSURE_UNREFERENCED
    )


def test_disclosure_sent_twice_is_refused() -> None:
    jwt, *disclosures, _ = _issue().split("~")
    token = "~".join([jwt, *disclosures, disclosures[0], ""])
    assert _code(lambda: _verify(token)) is ReasonCode.DISCLOSURE_DUPLICATE


def test_digest_appearing_twice_is_refused() -> None:
    d = _disclosure(SECRET_SALT, "name", SECRET_NAME)
    token = _forge({"iss": "x", "_sd": [_digest(d)], "sub": {"_sd": [_digest(d)]}}, [d])
    assert _code(lambda: _verify(token)) is ReasonCode.DIGEST_DUPLICATE
    array = _forge({"iss": "x", "a": [{"...": _digest(d)}, {"...": _digest(d)}]}, [])
    assert _code(lambda: _verify(array)) is ReasonCode.DIGEST_DUPLICATE


@pytest.mark.parametrize("name", ["_sd", "..."])
def test_reserved_claim_names_are_refused(name: str) -> None:
    d = _disclosure(SECRET_SALT, name, ["x"])
    token = _forge({"iss": "x", "_sd": [_digest(d)]}, [d])
    assert _code(lambda: _verify(token)) is ReasonCode.CLAIM_NAME_RESERVED


def test_claim_overwrite_is_refused() -> None:
    d = _disclosure(SECRET_SALT, "iss", "urn:attacker")
    token = _forge({"iss": "x", "_sd": [_digest(d)]}, [d])
    assert _code(lambda: _verify(token)) is ReasonCode.CLAIM_OVERWRITE


@pytest.mark.parametrize(
    "content",
    [[SECRET_SALT], [SECRET_SALT, "a", "b", "c"], {"salt": SECRET_SALT}, [1, "name", "v"], [SECRET_SALT, 5, "v"]],
)
def test_malformed_disclosures_are_refused(content: Any) -> None:
    d = b64url_encode(json.dumps(content).encode())
    token = _forge({"iss": "x", "_sd": [_digest(d)]}, [d])
    assert _code(lambda: _verify(token)) is ReasonCode.DISCLOSURE_MALFORMED


def test_disclosure_kind_must_fit_its_place() -> None:
    element = _disclosure(SECRET_SALT, SECRET_NAME)
    assert _code(lambda: _verify(_forge({"iss": "x", "_sd": [_digest(element)]}, [element]))) is (
        ReasonCode.DISCLOSURE_MALFORMED
    )
    claim = _disclosure(SECRET_SALT, "name", SECRET_NAME)
    assert _code(lambda: _verify(_forge({"iss": "x", "a": [{"...": _digest(claim)}]}, [claim]))) is (
        ReasonCode.DISCLOSURE_MALFORMED
    )


def test_unsupported_sd_alg_is_refused() -> None:
    token = _forge({"iss": "x", "_sd_alg": "sha-512"}, [])
    assert _code(lambda: _verify(token)) is ReasonCode.SD_ALG_UNSUPPORTED


# --- validity window --------------------------------------------------------------------------------


def test_expiry_and_not_before_honour_the_skew() -> None:
    token = _forge({"iss": "x", "iat": NOW - 100, "nbf": NOW + 30, "exp": NOW + 100}, [])
    _verify(token)  # nbf 30 s ahead is inside the 60 s skew
    assert _code(lambda: _verify(token, skew=10)) is ReasonCode.NOT_YET_VALID
    assert _code(lambda: _verify(token, now=NOW + 160)) is ReasonCode.EXPIRED
    _verify(token, now=NOW + 159)
    future = _forge({"iss": "x", "iat": NOW + 3600}, [])
    assert _code(lambda: _verify(future)) is ReasonCode.NOT_YET_VALID
    assert _code(lambda: _verify(_forge({"iss": "x", "exp": "tomorrow"}, []))) is ReasonCode.MALFORMED


# --- key binding ------------------------------------------------------------------------------------


def _presentation(**kwargs: Any) -> str:
    options: dict[str, Any] = {"holder_key": HOLDER, "aud": "https://bank.example", "nonce": "n-1", "now": NOW}
    options.update(kwargs)
    return sdjwt.present(_issue(), ["members[0].name"], **options)


def test_good_key_binding_verifies() -> None:
    result = _verify(_presentation(), require_key_binding=True)
    assert result.key_binding is not None
    assert result.key_binding["nonce"] == "n-1"


def test_missing_key_binding_when_required() -> None:
    token = sdjwt.present(_issue(), ["members[0].name"])
    assert _code(lambda: _verify(token, require_key_binding=True)) is ReasonCode.HOLDER_BINDING_MISSING


def test_wrong_nonce_aud_and_stale_iat_fail_binding() -> None:
    presentation = _presentation()
    assert _code(lambda: _verify(presentation, nonce="n-2")) is ReasonCode.HOLDER_BINDING_FAILED
    assert _code(lambda: _verify(presentation, aud="https://other.example")) is ReasonCode.HOLDER_BINDING_FAILED
    future = _presentation(now=NOW + 3600)
    assert _code(lambda: _verify(future)) is ReasonCode.HOLDER_BINDING_FAILED


def test_bad_sd_hash_fails_binding() -> None:
    presentation = _presentation()
    jwt, *disclosures, kb = presentation.split("~")
    # Drop a disclosure after the KB-JWT was made: the sd_hash no longer matches.
    token = "~".join([jwt, *disclosures[1:], kb])
    assert _code(lambda: _verify(token)) is ReasonCode.HOLDER_BINDING_FAILED


def test_kb_jwt_typ_must_be_kb_jwt() -> None:
    presentation = sdjwt.present(_issue(), ["members[0].name"])
    payload = {"iat": NOW, "aud": "https://bank.example", "nonce": "n-1", "sd_hash": _digest(presentation)}
    kb = sign_compact({"typ": "JWT"}, json_dumps(payload), HOLDER, include_kid=False)
    assert _code(lambda: _verify(presentation + kb)) is ReasonCode.HOLDER_BINDING_FAILED


def test_kb_jwt_signed_by_another_key_fails_binding() -> None:
    token = _presentation(holder_key=OTHER)
    assert _code(lambda: _verify(token)) is ReasonCode.HOLDER_BINDING_FAILED


def test_kb_jwt_without_cnf_fails_binding() -> None:
    issued = sdjwt.issue(_claims(), ISSUER)
    token = sdjwt.present(issued, ["*"], holder_key=HOLDER, aud="https://bank.example", nonce="n-1", now=NOW)
    assert _code(lambda: _verify(token)) is ReasonCode.HOLDER_BINDING_FAILED


def test_structure_errors_are_malformed() -> None:
    for token in ("", "abc", "a.b~", "a.b.c~~", _issue() + "x.y"):
        assert _code(lambda t=token: _verify(t)) in (ReasonCode.MALFORMED, ReasonCode.BASE64URL_INVALID)
