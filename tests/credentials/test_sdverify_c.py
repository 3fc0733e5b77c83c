"""The compiled SD-JWT verify loop answers exactly what the pure-Python path answers, on any input.

Each case runs ``sdjwt.verify`` (or its decode / unfold steps) twice, with the C module and with it switched
off as ``CIVICCERT_PURE_PYTHON=1`` does, and compares the verdicts: equal results, or the same exception with
the same reason code and field. Inputs are valid credentials and hostile ones signed by the trusted key (a
buggy or malicious issuer): bad base64url, non-canonical or invalid JSON, bad UTF-8, duplicate and
repeated digests, deep nesting, huge counts.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from civiccert.credentials import sdjwt
from civiccert.credentials.b64url import b64url_decode, b64url_encode
from civiccert.credentials.jose import check_deferred, sign_compact
from civiccert.credentials.keys import IssuerKey
from civiccert.credentials.sdjwt import Sd
from civiccert.credentials.strictjson import json_dumps
from civiccert.errors import CredentialError, ReasonCode

COMPILED = sdjwt._c
pytestmark = pytest.mark.skipif(
    COMPILED is None, reason="C module not built (pip install -e ., scripts/setup) or CIVICCERT_PURE_PYTHON=1")

NOW = 1_800_000_000
ISSUER = IssuerKey.generate()
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "ok", call()
    except CredentialError as exc:
        return "error", (exc.code, exc.field)
    except (TypeError, ValueError, RecursionError) as exc:  # the Verifier turns these into MALFORMED
        return "raised", type(exc).__name__


def _both(call: Callable[[], Any]) -> tuple[str, Any]:
    """``call()`` with the C module and without it; they must agree. Returns the compiled outcome."""
    compiled = _outcome(call)
    sdjwt._c = None
    try:
        pure = _outcome(call)
    finally:
        sdjwt._c = COMPILED
    assert compiled == pure
    return compiled


def _verify(token: str) -> sdjwt.VerifiedSdJwt:
    return sdjwt.verify(token, resolve_key=lambda _h, _p: ISSUER.public_key, now=NOW)


def _forge(payload: dict[str, Any], disclosures: list[str]) -> str:
    jwt = sign_compact({"typ": "dc+sd-jwt"}, json_dumps(payload), ISSUER)
    return "~".join([jwt, *disclosures, ""])


def _b64(raw: bytes) -> str:
    return b64url_encode(raw)


def _claims() -> dict[Any, Any]:
    return {
        "iss": "urn:civiccert:lg:122076", "iat": NOW - 10, "exp": NOW + 3600, "vct": "urn:civiccert:vct:juminhyo:1",
        "household": {Sd("address"): "千葉県松戸市小根本7番地の8", "head": "x"},
        "members": [Sd({Sd("name"): "山田太郎", Sd("birth_date"): "1980-01-01", "n": [Sd(1), 2, [Sd("z")]]}),
                    {Sd("name"): "山田花子"}, 3],
        Sd("note"): {"_sd_alg": "kept below the top", Sd("deep"): {Sd("deeper"): [{"a": [Sd(None)]}]}},
    }


# --- strategies --------------------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=12,
)
ODD_JSON = st.sampled_from([
    b'["s","a",1,]', b'["s","a",{"k":1,"k":2}]', b'["s","a",NaN]', b'["s","_sd",1]', b'["s","...",1]',
    b"[" * 70 + b"]" * 70, b'["s","a",' + b"[" * 64 + b"]" * 64 + b"]", b'["s","a",1e400]', b'["s","a","\\ud800"]',
    b'["s","a"] ', b' ["s","a"]', b'["a"', b"1,2", b'"a', b"],[", b'["s",1,2]', b'[1,"a",2]', b"\xff\xfe",
    b'["s","a","\\\\"]', b'["s","a","\\\\\\"],["x"]', b'["s","a\\"","x"]', b'["s","a","\\\\\\\\"]',
    b'["s","a","\xc3"]', b'["s","a","\\"],["x"]', b'["s","a",1.0]', b'["s","a",-0.0]', b'["s","a",1E2]',
    b'["s","a",[]]', b'["s",{}]', b"[]", b'["s"]', b'["s","a",1,2]', b'{"s":1}', b'"s"', b"]", b"[", b",",
])


def _compact(value: Any) -> bytes:
    """Compact JSON as the issuer writes it (canonical unless it holds an integer orjson cannot read)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


RAW = st.one_of(
    st.tuples(st.text(max_size=6), st.text(max_size=6), JSON).map(lambda t: _compact(list(t))),
    st.tuples(st.text(max_size=6), JSON).map(lambda t: _compact(list(t))),
    JSON.map(lambda v: json.dumps(v, ensure_ascii=False).encode()),  # whitespace after separators: not canonical
    JSON.map(lambda v: json.dumps(["salt", "n", v]).encode()),
    ODD_JSON,
    st.text(alphabet='"\\[]{},:a1', max_size=16).map(str.encode),  # quotes and escapes: where strings end
    st.binary(max_size=24),
)
DISCLOSURE = st.one_of(
    RAW.map(_b64),
    RAW.map(lambda raw: _b64(raw) + "="),
    RAW.map(lambda raw: _b64(raw)[:-1] or "A"),  # 4k+1 characters, or unused bits set
    st.text(alphabet=B64URL + "=+/.é \x00", min_size=1, max_size=16),
)


@st.composite
def _payload(draw: st.DrawFn, digests: list[str], depth: int = 0) -> dict[str, Any]:
    """An object whose ``_sd`` and ``{"...": d}`` entries name sent, unknown, repeated or non-string digests."""
    pick = st.sampled_from(digests) if digests else st.just("decoy")
    digest = st.one_of(pick, pick, st.text(alphabet=B64URL, min_size=43, max_size=43), st.integers(), st.none())
    obj: dict[str, Any] = {}
    for name in draw(st.lists(st.sampled_from(["a", "b", "_sd_alg", "...", "c"]), max_size=3, unique=True)):
        kind = draw(st.integers(0, 3)) if depth < 3 else 0
        if kind == 1:
            obj[name] = draw(_payload(digests, depth + 1))
        elif kind == 2:
            obj[name] = [draw(st.one_of(st.builds(lambda d: {"...": d}, digest), st.integers(),
                                        _payload(digests, depth + 1))) for _ in range(draw(st.integers(0, 3)))]
        else:
            obj[name] = draw(JSON)
    if draw(st.booleans()):
        obj["_sd"] = draw(st.one_of(st.lists(digest, max_size=6), st.just("not a list"), st.just({})))
    return obj


# --- the differential tests --------------------------------------------------------------------------------


def test_valid_credentials_agree() -> None:
    token = sdjwt.issue(_claims(), ISSUER)
    kind, verified = _both(lambda: _verify(token))
    assert kind == "ok"
    _, disclosures, _ = sdjwt.split(token)
    fast = COMPILED.decode(disclosures)  # the compiled path is the one taken, not a second pure-Python run
    assert fast is not None
    table = COMPILED.table(fast[0], [orjson.loads(b64url_decode(d)) for d in disclosures])
    assert table is not None
    assert COMPILED.unfold(verified.payload, table) is not None
    assert "members[0].n[0]" in verified.disclosed_paths
    assert verified.claims["note"]["_sd_alg"]
    for paths in (["members[0].name"], ["household.address", "note.deep"], ["*"], ["members[*].name"]):
        shown = sdjwt.present(token, paths)
        assert _both(lambda shown=shown: _verify(shown))[0] == "ok"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(DISCLOSURE, max_size=6))
def test_decoding_hostile_disclosures_agrees(disclosures: list[str]) -> None:
    compiled = _outcome(lambda: sdjwt._decode_disclosures(disclosures))
    pure = _outcome(lambda: sdjwt._decode_disclosures_py(disclosures))
    assert compiled == pure


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_unfolding_hostile_payloads_agrees(data: st.DataObject) -> None:
    disclosures = data.draw(st.lists(RAW.map(_b64), max_size=6))
    decoded = _outcome(lambda: sdjwt._decode_disclosures_py(disclosures))
    if decoded[0] != "ok":
        return
    order, by_digest = decoded[1]
    payload = data.draw(_payload(order + order[:1]))  # a repeat of the first digest now and then
    _both(lambda: sdjwt._unfold(payload, order, by_digest))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_signed_hostile_credentials_agree(data: st.DataObject) -> None:
    disclosures = data.draw(st.lists(st.one_of(RAW.map(_b64), DISCLOSURE), max_size=5))
    decoded = _outcome(lambda: sdjwt._decode_disclosures_py(disclosures))
    digests = decoded[1][0] if decoded[0] == "ok" else []
    payload = {**data.draw(_payload(digests)), "iss": "urn:civiccert:lg:122076", "iat": NOW}
    token = _forge(payload, disclosures)
    _both(lambda: _verify(token))


def _chain(depth: int) -> tuple[dict[str, Any], list[str]]:
    """A payload whose claim is disclosed inside a disclosure inside ... ``depth`` levels down."""
    disclosures: list[str] = []
    value: Any = "leaf"
    for level in range(depth):
        disclosure = _b64(orjson.dumps([f"salt{level}", "c", value]))
        disclosures.append(disclosure)
        value = {"_sd": [sdjwt._digest(disclosure)]}
    return {"iss": "urn:civiccert:lg:122076", **value}, disclosures[::-1]


@pytest.mark.parametrize("depth", [1, 64, 300])
def test_nesting_across_disclosures_agrees(depth: int) -> None:
    """Beyond the C loop's own depth cap (256) it declines and Python decides: the same claims."""
    token = _forge(*_chain(depth))
    kind, verified = _both(lambda: _verify(token))
    assert kind == "ok"
    assert len(verified.disclosed_paths) == depth


def test_huge_counts_agree() -> None:
    disclosures = [_b64(orjson.dumps([f"s{i}", f"c{i}", i])) for i in range(2_000)]  # near the 256 KiB cap
    payload = {"iss": "urn:civiccert:lg:122076", "_sd": [sdjwt._digest(d) for d in disclosures]}
    token = _forge(payload, disclosures)
    kind, verified = _both(lambda: _verify(token))
    assert kind == "ok"
    assert len(verified.claims) == 2_001
    unreferenced = _forge(payload, [*disclosures, _b64(b'["s","extra",1]')])
    expected = ("error", (ReasonCode.DISCLOSURE_UNREFERENCED, "disclosures[2000]"))
    assert _both(lambda: _verify(unreferenced)) == expected
    repeated = _forge({**payload, "_sd": [*payload["_sd"], payload["_sd"][0]]}, disclosures)
    assert _both(lambda: _verify(repeated))[1][0] is ReasonCode.DIGEST_DUPLICATE


@pytest.mark.parametrize(("raw", "code"), [
    (b'["s","a",{"k":1,"k":2}]', ReasonCode.JSON_DUPLICATE_KEY),
    (b'["s", "a", 1]', None),  # whitespace: not canonical, yet valid JSON; the stdlib path reads it
    (b'["s","a","\xc3"]', ReasonCode.MALFORMED),
    (b"[" * 65 + b"]" * 65, ReasonCode.MALFORMED),
    (b'["s","_sd",1]', ReasonCode.CLAIM_NAME_RESERVED),
])
def test_each_rejection_keeps_its_code(raw: bytes, code: ReasonCode | None) -> None:
    disclosure = _b64(raw)
    token = _forge({"iss": "urn:civiccert:lg:122076", "_sd": [sdjwt._digest(disclosure)]}, [disclosure])
    kind, result = _both(lambda: _verify(token))
    assert (kind, result) == (("ok", result) if code is None else ("error", (code, "disclosures[0]")))


def test_pure_python_switch() -> None:
    """``CIVICCERT_PURE_PYTHON=1`` leaves the C module unused; without it a built module is used."""
    src = str(Path(sdjwt.__file__).parents[2])
    probe = "from civiccert.credentials import sdjwt; print(sdjwt._c is None)"
    for value, expected in (("1", "True"), ("0", "False")):
        env = {**os.environ, "PYTHONPATH": src, "CIVICCERT_PURE_PYTHON": value}
        done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
        assert done.stdout.strip() == expected


# --- split: the SD-JWT and its issuer-signed JWT cut in one compiled pass ---------------------------------

PIECE = st.text(alphabet="ab.~é", max_size=8)


def _split_py(token: str) -> tuple[Any, ...]:
    """What sdjwt.split and verify_compact's own split give (the compiled split's contract)."""
    jwt, disclosures, kb = sdjwt.split(token)
    header, payload, signature = jwt.split(".")
    return jwt, header, payload, signature, (header + "." + payload).encode("ascii"), disclosures, kb


@settings(max_examples=400, deadline=None)
@given(st.lists(PIECE, max_size=8).map("".join))
def test_split_agrees_or_declines(token: str) -> None:
    fast = COMPILED.split(token)
    pure = _outcome(lambda: _split_py(token))
    if fast is None:  # declined: the pure-Python split raises, or the token is not ASCII
        assert pure[0] != "ok" or not token.isascii()
    else:
        assert pure == ("ok", fast)


@pytest.mark.parametrize("token", ["a.b.c~", "a.b.c~d~e~", "a.b.c~d~x.y.z", "a.b.c~~", "a.b~", "a.b.c.d~",
                                   "a.b.c~d~x.y", "abc", "~", "a.b.c~d~~e~", "é.b.c~", ".." + "~" * 3])
def test_split_edges(token: str) -> None:
    fast = COMPILED.split(token)
    pure = _outcome(lambda: _split_py(token))
    assert (pure == ("ok", fast)) if fast is not None else (pure[0] != "ok" or not token.isascii())


def test_presentations_with_key_binding_agree() -> None:
    holder = IssuerKey.generate()
    token = sdjwt.issue(_claims(), ISSUER, holder_jwk=holder.public_jwk())
    shown = sdjwt.present(token, ["members[0].name"], holder_key=holder, aud="https://rp.example", nonce="n")
    pieces = COMPILED.split(shown)
    assert pieces is not None
    assert pieces[-1] is not None  # the KB-JWT
    for tampered in (shown, shown.replace("~", "~~", 1), shown[:-3], shown + ".x", shown.replace(".", "", 1)):
        _both(lambda t=tampered: sdjwt.verify(t, resolve_key=lambda _h, _p: ISSUER.public_key, now=NOW,
                                              require_key_binding=True, aud="https://rp.example", nonce="n"))


# --- jws: the issuer-signed JWT's payload and signature decoded and its signing input hashed in C ----------

B64_TEXT = st.one_of(
    st.binary(max_size=40).map(_b64),
    st.text(alphabet=B64URL + "=+/.é \x00", max_size=12),
    st.binary(min_size=1, max_size=40).map(lambda raw: _b64(raw)[:-1] or "A"),  # 4k+1, or unused bits set
)


def _jws_py(payload: str, signature: str, signing_input: bytes) -> tuple[bytes, bytes, bytes]:
    """What jose.verify_parts decodes and hashes itself (the compiled jws's contract)."""
    return (b64url_decode(payload, field="payload"), b64url_decode(signature, field="signature"),
            hashlib.sha256(signing_input).digest())


@settings(max_examples=300, deadline=None)
@given(B64_TEXT, B64_TEXT, st.binary(max_size=200))
def test_jws_agrees_or_declines(payload: str, signature: str, signing_input: bytes) -> None:
    fast = COMPILED.jws(payload, signature, signing_input)
    pure = _outcome(lambda: _jws_py(payload, signature, signing_input))
    assert (pure == ("ok", fast)) if fast is not None else pure[0] != "ok"


@pytest.mark.parametrize("position", range(4))
def test_every_ascii_character_in_each_group_position(position: int) -> None:
    """The C base64url table refuses exactly the characters jose.b64url_decode refuses, wherever they stand."""
    for code in range(128):
        text = "QUJD" * 3
        text = text[:4 + position] + chr(code) + text[5 + position:]
        fast = COMPILED.jws(text, "", b"")
        pure = _outcome(lambda t=text: _jws_py(t, "", b""))
        assert (pure == ("ok", fast)) if fast is not None else pure[0] != "ok", repr(chr(code))
        disclosure = _b64(b'["s","a",1]')[:4] + text  # the disclosure decoder shares the table
        assert _outcome(lambda d=disclosure: sdjwt._decode_disclosures([d])) == _outcome(
            lambda d=disclosure: sdjwt._decode_disclosures_py([d]))


def test_tampered_payload_and_signature_encodings_agree() -> None:
    token = sdjwt.issue(_claims(), ISSUER)
    header, payload, rest = token.split(".", 2)
    signature, tail = rest.split("~", 1)
    for bad_payload, bad_signature in ((payload + "=", signature), (payload, signature[:-1]),
                                       (payload[:-1] + "_", signature), (payload.replace("e", "+", 1), signature),
                                       (payload, "!" + signature[1:])):
        forged = f"{header}.{bad_payload}.{bad_signature}~{tail}"
        assert _both(lambda f=forged: _verify(f))[0] == "error"


def test_a_deferred_signature_check_is_the_signature_check() -> None:
    """``sdjwt.verify(deferred=...)`` leaves exactly the issuer signature check to ``jose.check_deferred``."""
    token = sdjwt.issue(_claims(), ISSUER)
    jwt, rest = token.split("~", 1)
    head, signature = jwt.rsplit(".", 1)
    forged = f"{head}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}~{rest}"
    for text, valid in ((token, True), (forged, False)):
        deferred: list[Any] = []
        sdjwt.verify(text, resolve_key=lambda _h, _p: ISSUER.public_key, now=NOW, deferred=deferred)
        assert len(deferred) == 1
        assert check_deferred(deferred[0]) is valid
        assert _both(lambda t=text: _verify(t))[0] == ("ok" if valid else "error")
    holder = IssuerKey.generate()
    bound = sdjwt.issue(_claims(), ISSUER, holder_jwk=holder.public_jwk())
    shown = sdjwt.present(bound, ["members[0].name"], holder_key=holder, aud="https://rp.example", nonce="n")
    deferred = []
    sdjwt.verify(shown, resolve_key=lambda _h, _p: ISSUER.public_key, now=NOW, deferred=deferred)
    assert deferred == []  # with a KB-JWT the issuer signature is checked first, in place
