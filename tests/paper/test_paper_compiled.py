"""The printed copy encoded with the compiled canonical CBOR writer gives the bytes cbor2 gives.

EdDSA signatures are deterministic, so the whole COSE_Sign1 must be byte for byte the same on both paths;
the hash the issuer journals must be ``paper_credential_hash`` of what it printed.
"""

from __future__ import annotations

import json
from datetime import date
from types import MappingProxyType
from typing import Any

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import civiccert as cc
from civiccert.credentials import claims as claim_builders
from civiccert.credentials import sdjwt
from civiccert.credentials.keys import IssuerKey
from civiccert.credentials.sdjwt import Sd
from civiccert.paper import payload
from civiccert.records.juminhyo import OptionalItem

COMPILED = payload._sdissue_c
STATUS = {"status_list": {"idx": 7, "uri": "https://example.jp/status/1"}}

NOT_LOADED = "the compiled helpers are not loaded (CIVICCERT_PURE_PYTHON=1, or not built)"
needs_compiled = pytest.mark.skipif(COMPILED is None, reason=NOT_LOADED)


def _household() -> tuple[str, dict[str, Any]]:
    data = json.loads(cc.sample_record_path("household-matsudo.json").read_text(encoding="utf-8"))
    data["request"]["include"] = [item.value for item in OptionalItem]
    vct, body = claim_builders.record_claims(cc.load_record(data))
    return vct, sdjwt.strip_sd(body)


def _encode(key: IssuerKey, **kw: Any) -> tuple[bytes, bytes]:
    vct, claims = _household()
    return payload.encode_paper_hashed(vct, claims, key, iss="urn:civiccert:lg:122076", iat=1_800_000_000,
                                       exp=1_800_086_400, nbf=1_800_000_000, cti=b"12345678", status=STATUS, **kw)


@needs_compiled
@pytest.mark.parametrize("individual_number", [False, True])
def test_the_same_cose_bytes_on_both_paths(monkeypatch: pytest.MonkeyPatch, individual_number: bool) -> None:
    key = IssuerKey.generate("EdDSA")
    compiled, compiled_hash = _encode(key, include_individual_number=individual_number)
    monkeypatch.setattr(payload, "_sdissue_c", None)
    python, python_hash = _encode(key, include_individual_number=individual_number)
    assert compiled == python
    assert compiled_hash == python_hash == payload.paper_credential_hash(compiled)
    claims = payload.decode_qr_text(payload.qr_text(compiled)).claims
    assert ("individual_number" in claims["members"][0]) is individual_number


@pytest.mark.parametrize("path", ["compiled", "python"])
def test_the_journaled_hash_is_the_printed_copys(monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    if path == "python":
        monkeypatch.setattr(payload, "_sdissue_c", None)
    elif COMPILED is None:
        pytest.skip(NOT_LOADED)
    key = IssuerKey.generate()
    cose, digest = _encode(key)
    assert digest == payload.paper_credential_hash(cose)
    decoded = payload.decode_qr_text(payload.qr_text(cose))
    assert payload.verify_paper_signature(decoded, key.public_key)
    plain = _household()[1]
    members = [{k: v for k, v in m.items() if k != "individual_number"} for m in plain["members"]]
    assert decoded.claims == {**plain, "members": members}
    assert decoded.status == STATUS


_scalars = st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.text() | st.binary() \
    | st.floats(allow_nan=False)
_trees = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.integers(-30, 300) | st.text(max_size=4), inner,
                                                                max_size=5),
    max_leaves=30,
)


@needs_compiled
@settings(max_examples=200, deadline=None)
@given(_trees)
def test_canonical_cbor_matches_cbor2_or_declines(tree: Any) -> None:
    encoded = COMPILED.cbor_canonical(tree)
    if encoded is not None:
        assert encoded == cbor2.dumps(tree, canonical=True)


def _bodies() -> list[tuple[str, dict[Any, Any]]]:
    out = []
    for name in ("household-matsudo.json", "household-foreign.json", "seal-registrant.json"):
        path = cc.sample_record_path(name)
        data = json.loads(path.read_text(encoding="utf-8"))
        if "request" not in data:  # the seal certificate: its image is read beside the file
            out.append(claim_builders.record_claims(cc.load_record(path)))
            continue
        data["request"]["include"] = [item.value for item in OptionalItem]
        out.append(claim_builders.record_claims(cc.load_record(data)))
    vct, body = out[0]
    odd = {**body, "extra": {Sd("x"): [Sd(1), {Sd("y"): "z"}]}, "household": MappingProxyType({"address": "a"}),
           "members": [Sd({Sd("name"): "𠮷", "birth_date": "2026-W48-1", Sd("unknown"): (1, 2)}), "not a map"]}
    out.append((vct, odd))
    return out


@pytest.mark.parametrize("without", [False, True])
@pytest.mark.parametrize("path", ["compiled", "python"])
def test_marked_claims_pack_as_stripped_ones(monkeypatch: pytest.MonkeyPatch, path: str, without: bool) -> None:
    from civiccert.paper import _claimtable

    if path == "python":
        monkeypatch.setattr(_claimtable, "_sdissue_c", None)
    elif COMPILED is None:
        pytest.skip(NOT_LOADED)
    for vct, body in _bodies():
        ours = _claimtable.pack_marked_body(vct, body, without_individual_number=without)
        plain = _claimtable.pack_body(vct, sdjwt.strip_sd(body), without_individual_number=without)
        assert cbor2.dumps(ours) == cbor2.dumps(plain)  # same keys, values and order


_DATE_TEXTS = ["1970-01-01", "0001-01-01", "9999-12-31", "2024-02-29", "2023-02-29", "1900-02-29", "2000-02-29",
               "0000-01-01", "2026-13-01", "2026-00-10", "2026-04-31", "2026-W48-1", "20261126  ", "2026-1-01 ",
               "２０２６-01-01", "2026-01-0１", "2026/01/01", "", "1980-06-15T", 19_700_101, None, True]


@needs_compiled
@given(st.one_of(st.sampled_from(_DATE_TEXTS), st.dates().map(date.isoformat),
                 st.text(alphabet="0123456789-", min_size=10, max_size=10), st.text(max_size=12)),
       st.sampled_from(["男", "女", "不明", "", 1, None, False, "self"]))
@settings(max_examples=300, deadline=None)
def test_the_compiled_date_and_enum_codecs_pack_as_the_python_ones(text: object, sex: object) -> None:
    from civiccert.paper import _claimtable

    member = {Sd("birth_date"): text, Sd("sex"): sex, Sd("foreign"): {Sd("period_expires"): text}}
    body = {"certificate": {"scope": sex, "requester": text}, "omitted": [sex, text], "members": [Sd(member)]}
    compiled = COMPILED.pack_claims(_claimtable._NATIVE_BODY, body, Sd, _claimtable._NATIVE_PERSON, frozenset())
    assert type(compiled) is dict  # taken by the compiled packer, not declined
    python = _claimtable.pack_body("urn:t", sdjwt.strip_sd(body))
    del python[0]  # the [table version, vct] pack_marked_body adds
    assert cbor2.dumps(compiled) == cbor2.dumps(python)
    assert type(compiled[5][0][5]) is type(python[5][0][5])  # a day number, or the value carried as is


@pytest.mark.parametrize("size", [0, 1, 23, 24, 255, 256, 65_535, 65_536])
def test_the_cose_heads_written_by_hand_are_cbor2s_canonical_arrays(size: int) -> None:
    data, protected = bytes(range(256)) * (size // 256) + bytes(size % 256), b"\xa1\x01\x26"
    sig_structure = payload._SIG_STRUCTURE_HEAD + payload._bstr(protected) + b"\x40" + payload._bstr(data)
    assert sig_structure == cbor2.dumps(["Signature1", protected, b"", data], canonical=True)
    key = IssuerKey.generate("EdDSA")
    cose, digest = _encode(key)
    tagged = cbor2.loads(cose)
    assert tagged.tag == 18
    assert cose == b"\xd2" + cbor2.dumps(tagged.value, canonical=True)
    signed = cbor2.dumps(["Signature1", tagged.value[0], b"", tagged.value[2]], canonical=True)
    assert digest == payload.hashlib.sha256(signed).digest()


def _outcome(pack: Any, value: object) -> tuple[str, object]:
    try:
        return "ok", pack(value)
    except Exception as exc:  # the same exception type on both sides is what is asserted
        return "raised", type(exc)


@given(st.one_of(st.datetimes(timezones=st.timezones()).map(lambda t: t.isoformat(timespec="seconds")),
                 st.datetimes().map(lambda t: t.isoformat() + "+09:00"),
                 st.sampled_from(["2026-11-26T10:00:00+09:00", "0001-01-01T00:00:00+09:00",
                                  "9999-12-31T23:59:59+09:00", "2026-11-26T10:00:00Z", "2026-11-26", ""]),
                 st.text(max_size=30), st.integers(), st.none()))
@settings(max_examples=300, deadline=None)
def test_the_remembered_time_packing_is_the_packing(value: object) -> None:
    """The issue path's cached ``issued_at`` packing gives what the uncached one gives, twice over (a hit
    returns the first answer; an error is raised again, never remembered as a value)."""
    from civiccert.paper import _claimtable

    expected = _outcome(_claimtable._pack_time_any, value)
    assert _outcome(_claimtable._pack_time, value) == expected
    assert _outcome(_claimtable._pack_time, value) == expected
