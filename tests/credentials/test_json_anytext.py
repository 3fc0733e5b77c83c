"""json_parse reads any JSON text with orjson when it can prove the result is the strict stdlib parser's
(compiled ``_jsonscan_c.exact``: member count, no float, depth), and otherwise lets the stdlib decide. For
random texts with repeated members, whitespace, escapes, big integers, floats and broken bytes, the bytes path
answers exactly what the stdlib path (str input) answers, value and type or reason code, built or not."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from civiccert.credentials import _native, strictjson
from civiccert.credentials.strictjson import MAX_JSON_DEPTH, json_parse
from civiccert.errors import CredentialError, ReasonCode

BUILT = pytest.mark.skipif(_native.jsonscan is None, reason="_jsonscan_c is not built (or CIVICCERT_PURE_PYTHON=1)")


@pytest.fixture(params=["compiled", "python"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "compiled" and _native.jsonscan is None:
        pytest.skip("_jsonscan_c is not built (or CIVICCERT_PURE_PYTHON=1)")
    if request.param == "python":
        monkeypatch.setattr(strictjson, "_jsonscan", None)
    return str(request.param)


def _outcome(data: bytes | str) -> tuple[str, str]:
    try:
        return "value", repr(json_parse(data))  # repr: 1, 1.0, True and -0.0 differ; key order counts
    except CredentialError as exc:
        return "error", exc.code.value


def _reference(raw: bytes) -> tuple[str, str]:
    """The stdlib path alone: json_parse of str input never takes the orjson path."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "error", ReasonCode.MALFORMED.value
    return _outcome(text)


def _same(raw: bytes) -> None:
    assert _outcome(raw) == _reference(raw), raw[:200]


EDGE_TEXTS = [
    b'{"a":1,"a":2}', b'{"a":1,"\\u0061":2}', b'{"a":{"b":1,"b":1}}', b'[{"a":1},{"a":1}]', b'{"a:":1,"b":"::"}',
    b'{"a\\"":1,"a\\\\":2}', b'{"\\\\":1,"\\\\":2}', b'{"\\"":"\\"","\\"":1}', b'"\\\\\\""', b'["\\\\", ":"]',
    b"1E400", b"-1E400", b"1e-400", b"[1e5]", b"[1.0]", b"[1.5E+3]", b"-0", b"-0.0", b"[true,false,null]",
    b"123456789012345678901234567890", b"-9223372036854775809", b"18446744073709551615", b"18446744073709551616",
    b"9223372036854775807", b"-9223372036854775808", b"1" + b"0" * 5000, b'"\\ud800"', b'"\\udc00\\ud800"',
    b'"\\ud83d\\ude00"', b"\xef\xbb\xbf{}", b"{} ", b" \t\r\n{}\n", b"{}\x00", b"\x0c1", b'"\xed\xa0\x80"',
    b'"\xc0\x80"', b'"a\x01"', b'"a\x7f"', b'"\xe2\x80\xa8"', b"NaN", b"[Infinity]", b"[-Infinity]", b'{"a" : 1 }',
    b"[1,]", b'"\\u0000"', b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH,
    b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), b'["' + b"[" * 100 + b'"]', b"{" * 70,
    b'{"e":"1e5","E":true,"x":false}', b"[1,2e3]", b"[0E0]", b'"\xff"', b"", b" ", b"[]", b"{}", b'""', b"null",
]  # fmt: skip


@pytest.mark.parametrize("raw", EDGE_TEXTS)
def test_edge_texts_answer_as_the_stdlib(raw: bytes, mode: str) -> None:
    _same(raw)


def test_duplicates_are_named(mode: str) -> None:
    for raw in (b'{"a":1, "a":2}', b'{"x":[{"k":1,"\\u006b":2}]}'):
        with pytest.raises(CredentialError) as caught:
            json_parse(raw)
        assert caught.value.code is ReasonCode.JSON_DUPLICATE_KEY


@BUILT
def test_the_proof_declines_what_it_cannot_show() -> None:
    exact = _native.jsonscan.exact
    assert exact(b'{"a": 1, "b": [true, "x:y"]}', {"a": 1, "b": [True, "x:y"]}, MAX_JSON_DEPTH)
    assert not exact(b'{"a":1,"a":2}', {"a": 2}, MAX_JSON_DEPTH)  # what orjson returns for a repeated member
    assert not exact(b"[1.0]", [1.0], MAX_JSON_DEPTH)
    assert not exact(b"18446744073709551616", 1.8446744073709552e19, MAX_JSON_DEPTH)
    assert not exact(b"[[]]", [[]], 1)
    assert exact(b"[[]]", [[]], 2)
    assert not exact(b'"unterminated', "x", MAX_JSON_DEPTH)


@BUILT
def test_a_client_body_takes_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    body = json.dumps({"record": {"name": "山田 太郎", "n": [1, 2], "t": "09:30"}}, indent=1).encode()
    calls: list[bytes] = []
    real = _native.jsonscan.exact

    def spy(raw: bytes, value: object, depth: int) -> bool:
        calls.append(raw)
        return real(raw, value, depth)

    monkeypatch.setattr(strictjson, "_jsonscan", type("M", (), {"exact": staticmethod(spy)}))
    monkeypatch.setattr(strictjson, "_DECODER", None)  # the stdlib path would fail loudly if reached
    monkeypatch.setattr(strictjson, "_scan_once", None)
    assert json_parse(body) == json.loads(body)
    assert calls == [body]


_SCALAR = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=6),
)  # fmt: skip
_NAMES = st.sampled_from(["a", "b", "\u0061", "é", ":", '"', "\\", ""])


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=4) | st.dictionaries(_NAMES, inner, max_size=4)


_VALUE = st.recursive(_SCALAR, _containers, max_leaves=12)
_SPACE = st.sampled_from(["", "", " ", "\n", "\t", "\r\n", "  "])
_NUMBER_TEXT = st.sampled_from(["0", "-0", "1e5", "1E+400", "-1e-400", "0.1", "1.0", "00", "1.", ".5", "+1",
                                "9223372036854775808", "-9223372036854775809", "NaN", "Infinity", "1e309"])  # fmt: skip
_STRING_TEXT = st.sampled_from(['"\\ud800"', '"\\u0061"', '"\\""', '"\\\\"', '"a\\/b"', '"\\x"', '"\x01"', '"\u2028"'])


@st.composite
def _texts(draw: st.DrawFn, value: Any = None, depth: int = 0) -> str:
    """A JSON-ish text: whitespace between tokens, repeated members, odd numbers and escapes."""
    node = draw(_VALUE) if depth == 0 else value
    space = draw(_SPACE)
    if isinstance(node, dict):
        items = [f"{json.dumps(k)}{draw(_SPACE)}:{space}{draw(_texts(v, depth + 1))}" for k, v in node.items()]
        if items and draw(st.booleans()):
            items.append(items[0])  # a repeated member
        return "{" + space + ("," + space).join(items) + draw(_SPACE) + "}"
    if isinstance(node, list):
        return "[" + ",".join(space + draw(_texts(v, depth + 1)) for v in node) + "]"
    choice = draw(st.integers(min_value=0, max_value=9))
    if choice == 0:
        return draw(_NUMBER_TEXT)
    if choice == 1:
        return draw(_STRING_TEXT)
    return json.dumps(node, ensure_ascii=draw(st.booleans()))


@settings(max_examples=400, deadline=None)
@given(text=_texts(), pad=_SPACE, flip=st.integers(min_value=-1, max_value=400), byte=st.integers(0, 255))
def test_random_texts_answer_as_the_stdlib(text: str, pad: str, flip: int, byte: int) -> None:
    raw = bytearray((pad + text + pad).encode("utf-8"))
    if 0 <= flip < len(raw):
        raw[flip] = byte  # sometimes breaks the syntax or the UTF-8
    _same(bytes(raw))
    saved = strictjson._jsonscan
    try:
        strictjson._jsonscan = None  # the pure-Python proof (canonical texts only)
        _same(bytes(raw))
    finally:
        strictjson._jsonscan = saved
