"""The compiled issuance builder (credentials/_sdissue_c.c) against the Python path it replaces.

Disclosures are random, so the two paths are compared by form: the same payload once digests are set
aside, every disclosure the exact bytes the Python encoder writes for its value (non-ASCII, 外字 and
variation sequences kept as UTF-8, control characters escaped), digests that are the SHA-256 of the
disclosures, salts of 132 bits, the decoy counts asked for, and what falls outside the common case
raising exactly what it raised before.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import civiccert as cc
from civiccert.credentials import claims as claim_builders
from civiccert.credentials import sdjwt
from civiccert.credentials.b64url import b64url_decode, sha256_b64url
from civiccert.credentials.keys import IssuerKey
from civiccert.credentials.sdjwt import Sd
from civiccert.credentials.strictjson import json_dumps, json_parse
from civiccert.records.juminhyo import OptionalItem

NOW = 1_800_000_000
ROOT = Path(__file__).resolve().parents[2]
COMPILED = sdjwt._sdissue_c
ODD = "山田 𠮷野家 葛\U000e0100城 \u845b\ufe00 \"q\" \\ \u2028 \x00\x1f\x7f é 🇯🇵"


@pytest.fixture(params=["compiled", "python"])
def builder(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if request.param == "python":
        monkeypatch.setattr(sdjwt, "_sdissue_c", None)
    elif COMPILED is None:
        pytest.skip("the compiled builder is not loaded (CIVICCERT_PURE_PYTHON=1, or not built: pip install -e .)")
    return request.param


@pytest.fixture(scope="module")
def key() -> IssuerKey:
    return IssuerKey.generate()


def _household() -> dict[Any, Any]:
    data = json.loads(cc.sample_record_path("household-matsudo.json").read_text(encoding="utf-8"))
    data["request"]["include"] = [item.value for item in OptionalItem]
    vct, body = claim_builders.record_claims(cc.load_record(data))
    return {"iss": "urn:civiccert:lg:122076", "iat": NOW, "exp": NOW + 60, "vct": vct, **body}


def _odd() -> dict[Any, Any]:
    return {"iss": "urn:civiccert:lg:122076", "iat": NOW, "exp": NOW + 60, "vct": "urn:t", "plain": ODD,
            "p": {Sd("name"): ODD, Sd(ODD): [Sd(ODD), -7, 10**40, True, False, None, (), {}],
                  Sd("o"): {Sd("deep"): [Sd({Sd("x"): 1}), "y"]}, Sd("e"): []}}


def _without_digests(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_digests(v) for k, v in node.items() if k != "_sd"}
    if isinstance(node, list):
        return [_without_digests(v) for v in node if not (isinstance(v, dict) and set(v) == {"..."})]
    return node


def _verify(token: str, key: IssuerKey) -> sdjwt.VerifiedSdJwt:
    return sdjwt.verify(token, resolve_key=lambda _h, _p: key.public_key, now=NOW)


@pytest.mark.parametrize("make", [_household, _odd])
def test_same_form_as_the_python_path(builder: str, key: IssuerKey, make: Any) -> None:
    claims = make()
    token = sdjwt.issue(claims, key)
    _jwt, disclosures, _kb = sdjwt.split(token)
    payload = sdjwt.unverified_payload(token)
    reference = sdjwt._Issuance(None, (1, 3)).build(claims, top=True)
    assert _without_digests(payload) == {**_without_digests(reference), "_sd_alg": "sha-256"}
    salts, values = [], []
    for disclosure in disclosures:
        text = b64url_decode(disclosure)
        value = json_parse(text)
        assert text == json_dumps(value)  # byte for byte what the Python encoder writes (UTF-8, not \u escapes)
        salts.append(value[0])
        values.append(value)
    assert all(len(s) == 22 and b64url_decode(s + "AA") for s in salts)  # 132 bits
    assert len(set(salts)) == len(salts)
    digests = set(json.dumps([payload, values]).split('"'))  # digests in the payload and in disclosed objects
    assert all(sha256_b64url(d.encode("ascii")) in digests for d in disclosures)
    assert _verify(token, key).claims == sdjwt.strip_sd(claims)
    if make is _household:
        assert len(disclosures) == 58


def test_odd_strings_are_the_exact_utf8_the_python_encoder_writes(builder: str, key: IssuerKey) -> None:
    token = sdjwt.issue({"iss": "i", "vct": "v", Sd("name"): ODD}, key)
    (disclosure,) = sdjwt.split(token)[1]
    text = b64url_decode(disclosure)
    salt = json_parse(text)[0]
    assert text == json_dumps([salt, "name", ODD])
    assert "𠮷".encode() in text
    assert "\U000e0100".encode() in text
    assert b"\\u0000" in text


def test_plain_claims_give_the_same_payload_bytes(builder: str, key: IssuerKey) -> None:
    claims = sdjwt.strip_sd(_odd())
    ours = b64url_decode(sdjwt.split(sdjwt.issue(claims, key))[0].split(".")[1])
    assert ours == json_dumps({**claims, "_sd_alg": "sha-256"})
    holder = IssuerKey.generate().public_jwk()
    bound = b64url_decode(sdjwt.split(sdjwt.issue(claims, key, holder_jwk=holder))[0].split(".")[1])
    assert bound == json_dumps({**claims, "_sd_alg": "sha-256", "cnf": {"jwk": holder}})


@pytest.mark.parametrize("decoys", [(0, 0), (2, 2), (0, 5)])
def test_decoy_counts(builder: str, key: IssuerKey, decoys: tuple[int, int]) -> None:
    claims = {"iss": "i", "vct": "v", "o": {Sd("a"): 1, Sd("b"): 2}, "l": [Sd(1), 2, Sd(3)]}
    for _ in range(5):
        payload = sdjwt.unverified_payload(sdjwt.issue(claims, key, decoys=decoys))
        extra_o = len(payload["o"]["_sd"]) - 2
        extra_l = sum(isinstance(v, dict) for v in payload["l"]) - 2
        assert decoys[0] <= extra_o <= decoys[1]
        assert decoys[0] <= extra_l <= decoys[1]
        assert payload["o"]["_sd"] == sorted(payload["o"]["_sd"])
        assert [v for v in payload["l"] if not isinstance(v, dict)] == [2]


@pytest.mark.parametrize(
    ("claims", "error"),
    [
        ({"iss": "i", Sd("iat"): 1}, ValueError),  # never disclosable
        ({"iss": "i", "o": {Sd("_sd"): 1}}, ValueError),  # reserved
        ({"iss": "i", "o": {"a": 1, Sd("a"): 2}}, ValueError),  # twice
        ({"iss": "i", "o": {Sd(1): 2}}, TypeError),  # not a str name
        ({"iss": "i", "o": {"a": Sd(1)}}, ValueError),  # Sd as a value
        ({"iss": "i", "_sd_alg": "x"}, ValueError),
        ({"iss": "i", Sd("v"): float("nan")}, ValueError),
        ({"iss": "i", Sd("v"): "\ud800"}, UnicodeEncodeError),  # lone surrogate
        ({"iss": "i", Sd("v"): object()}, TypeError),
    ],
)
def test_what_falls_outside_raises_as_before(builder: str, key: IssuerKey, claims: dict[Any, Any],
                                            error: type[Exception]) -> None:
    with pytest.raises(error):
        sdjwt.issue(claims, key)


def test_floats_and_mappings_take_the_python_path(builder: str, key: IssuerKey) -> None:
    from types import MappingProxyType

    claims = {"iss": "i", "vct": "v", Sd("f"): 2.5, "m": MappingProxyType({Sd("a"): 1}), "t": (Sd("x"),)}
    assert _verify(sdjwt.issue(claims, key), key).claims == {"iss": "i", "vct": "v", "f": 2.5, "m": {"a": 1},
                                                            "t": ["x"]}


def test_the_environment_variable_forces_the_python_path() -> None:
    code = "from civiccert.credentials import sdjwt; print(sdjwt._sdissue_c is None)"
    env = {**os.environ, "CIVICCERT_PURE_PYTHON": "1", "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "True"


@pytest.mark.skipif(COMPILED is None, reason="the compiled builder is not loaded")
@given(st.text(max_size=80))
@settings(max_examples=200, deadline=None)
def test_every_disclosure_length_is_the_base64url_of_its_text(text: str) -> None:
    """The compiled base64url (six bytes a step, then the tail) against the strict decoder, at every length
    mod 6 of the disclosure and for the 32-byte digests the payload lists."""
    key = IssuerKey.generate() if not _KEYS else _KEYS[0]
    _KEYS[:] = [key]
    token = sdjwt.issue({"iss": "urn:t", "iat": NOW, "exp": NOW + 60, "vct": "urn:t", Sd("v"): text}, key)
    _jwt, disclosures, _kb = sdjwt.split(token)
    (disclosure,) = disclosures
    raw = b64url_decode(disclosure)  # strict: canonical unpadded base64url only
    assert disclosure == base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
    assert json_parse(raw)[1:] == ["v", text]
    assert sha256_b64url(disclosure.encode("ascii")) in sdjwt.unverified_payload(token)["_sd"]


_KEYS: list[IssuerKey] = []
