"""The orjson fast path of the strict JSON readers answers exactly what the stdlib path answers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from civiccert.credentials import b64url
from civiccert.credentials.b64url import b64url_decode, b64url_encode
from civiccert.credentials.strictjson import b64url_json_many, json_depth_ok, json_parse
from civiccert.errors import CredentialError, ReasonCode


def _b64(text: str) -> str:
    return b64url_encode(text.encode("utf-8"))


def test_item_boundaries_are_kept() -> None:
    """Two items that are not JSON alone but form a valid array when joined are refused."""
    items = [_b64('["s","n",1],["t","m",2'), _b64("3]")]
    assert b64url_json_many(items) is None


@pytest.mark.parametrize("text", ['{"a":1,"a":2}', '[{"x":{"a":1,"a":2}}]'])
def test_duplicate_members_still_rejected(text: str) -> None:
    assert b64url_json_many([_b64(text)]) is None
    with pytest.raises(CredentialError) as info:
        json_parse(text.encode())
    assert info.value.code is ReasonCode.JSON_DUPLICATE_KEY


def test_large_integers_stay_integers() -> None:
    """orjson reads 2**70 as a float; the canonical check sends it the stdlib way, which keeps the int."""
    big = 2**70
    assert json_parse(str(big).encode()) == big
    assert type(json_parse(str(big).encode())) is int
    assert b64url_json_many([_b64(f'["s","n",{big}]')]) == [["s", "n", big]]


def test_depth_cap_holds_on_the_fast_path() -> None:
    deep = "[" * 65 + "]" * 65
    assert b64url_json_many([_b64(deep)]) is None
    assert b64url_json_many([_b64('["s",1]')] * 70) == [["s", 1]] * 70  # many items, each shallow
    with pytest.raises(CredentialError) as info:
        json_parse(deep.encode())
    assert info.value.code is ReasonCode.MALFORMED


@pytest.mark.parametrize("text", ["[NaN]", "[1e400]", '"\\ud800"', '[1] ', '{"a": 1}'])
def test_same_answer_as_the_stdlib(text: str) -> None:
    """Non-canonical or non-strict texts take the stdlib path: lone surrogates and whitespace are fine there."""
    def outcome(data: bytes | str) -> object:
        try:
            return ("value", json_parse(data))
        except CredentialError as exc:
            return ("error", exc.code)

    assert outcome(text.encode()) == outcome(text)  # str input: the stdlib path only


def _depth_ok_reference(text: str, max_depth: int = 64) -> bool:
    """The token-by-token depth check json_depth_ok replaced (kept here as its specification)."""
    import re

    depth = 0
    for match in re.finditer(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > max_depth:
                return False
        elif token in ("]", "}"):
            depth -= 1
    return True


@pytest.mark.parametrize("text", [
    "[" * 65 + "]" * 65, "[" * 64 + "]" * 64, '["' + "[" * 100 + '"]', '["\\"' + "[" * 70 + '"]',
    "]" * 80 + "[" * 70, '"' + "[" * 70, '["a\\\\"' + "[" * 70, "{" * 40 + "[" * 25 + "x",
    '[{"a":"x"},' * 70 + "]" * 70, '"\\\n' + "[" * 66, "[" * 66 + '"' + "]" * 66,
])
def test_depth_check_matches_the_token_scan(text: str) -> None:
    assert json_depth_ok(text) is _depth_ok_reference(text)


@given(st.text(alphabet='[]{}"\\ax\n', max_size=200))
@settings(max_examples=500, deadline=None)
def test_depth_check_matches_the_token_scan_on_any_text(text: str) -> None:
    assert json_depth_ok(text, 3) is _depth_ok_reference(text, 3)


_LONG = b64url_encode(bytes(range(256)) * 4 + b"x")  # 1,367 characters: the SIMD decoder's range


@pytest.mark.parametrize("bad", [
    _LONG[:600] + "+" + _LONG[601:], _LONG[:600] + "/" + _LONG[601:], _LONG[:600] + "=" + _LONG[601:],
    _LONG + "=", _LONG[:-1] + "=", _LONG[:600] + " " + _LONG[601:], _LONG[:600] + "\n" + _LONG[601:],
    _LONG[:600] + "é" + _LONG[601:], _LONG[:-1] + "B", _LONG + "AA",
])
def test_long_base64url_is_as_strict_as_the_short_path(bad: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A credential payload decodes through pybase64: standard-alphabet characters, padding, whitespace and
    unused trailing bits are refused there exactly as the binascii path refuses them."""
    assert b64url_decode(_LONG) == bytes(range(256)) * 4 + b"x"
    for simd in (b64url._simd_b64decode, None):
        monkeypatch.setattr(b64url, "_simd_b64decode", simd)
        with pytest.raises(CredentialError) as info:
            b64url_decode(bad)
        assert info.value.code is ReasonCode.BASE64URL_INVALID
