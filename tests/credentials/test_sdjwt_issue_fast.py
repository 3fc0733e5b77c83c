"""Issued disclosures: fresh 128-bit+ salts, JSON the verifier's fast path reads back; status per chunk."""

from __future__ import annotations

import math

import pytest

import civiccert as cc
from civiccert.credentials import sdjwt
from civiccert.credentials.b64url import b64url_decode
from civiccert.credentials.keys import IssuerKey
from civiccert.credentials.sdjwt import Sd
from civiccert.credentials.strictjson import b64url_json_many, json_parse

NOW = 1_800_000_000


def _claims(value: object = "x") -> dict[object, object]:
    return {"iss": "urn:civiccert:lg:122076", "iat": NOW, "exp": NOW + 60, "vct": "urn:t",
            "p": {Sd("name"): "山田 \u2028\"太郎\"", Sd("n"): 12, Sd("o"): {Sd("deep"): [1, 2.5, None]},
                  Sd("v"): value}}


def test_disclosures_are_canonical_with_long_distinct_salts() -> None:
    key = IssuerKey.generate()
    token = sdjwt.issue(_claims(), key)
    _jwt, disclosures, _kb = sdjwt.split(token)
    assert len(disclosures) == 5
    values = b64url_json_many(disclosures)  # None would mean: not what the verifier's fast path accepts
    assert values == [json_parse(b64url_decode(d)) for d in disclosures]
    salts = [v[0] for v in values]
    assert len(set(salts)) == len(salts)
    assert all(22 <= len(s) <= 24 for s in salts)  # >= 132 random bits
    verified = sdjwt.verify(token, resolve_key=lambda _h, _p: key.public_key, now=NOW)
    assert verified.claims["p"] == {"name": "山田 \u2028\"太郎\"", "n": 12, "o": {"deep": [1, 2.5, None]}, "v": "x"}


@pytest.mark.parametrize("value", [math.nan, math.inf, [{"a": -math.inf}]])
def test_non_finite_floats_are_refused_as_before(value: object) -> None:
    with pytest.raises(ValueError, match="not JSON compliant"):  # json_text's own words, kept
        sdjwt.issue(_claims(value), IssuerKey.generate())


def test_issue_many_allocates_distinct_status_indexes(tmp_path: object) -> None:
    from pathlib import Path

    record = cc.load_record(cc.sample_record_path("household-matsudo.json"))
    issuer = cc.Issuer.init(Path(str(tmp_path)) / "home", municipality_code="122076", municipality_name="松戸市",
                            passphrase=b"test-passphrase")
    creds = list(issuer.issue_many((record for _ in range(7)), chunk=3))
    entries = [issuer.credential_status(c) for c in creds]
    assert len({e.idx for e in entries}) == 7
    for cred, entry in zip(creds, entries, strict=True):
        assert sdjwt.unverified_payload(cred.sd_jwt)["status"]["status_list"]["idx"] == entry.idx
    issuer.close()


@pytest.mark.parametrize("size", [0, 1, 2, 3, 511, 512, 513, 514, 4096, 40_001])
def test_b64url_encode_is_the_same_text_on_the_simd_and_the_binascii_paths(
    size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64
    import os

    from civiccert.credentials import b64url

    data = os.urandom(size)
    expected = base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
    assert b64url.b64url_encode(data) == expected  # SIMD from 512 bytes when pybase64 is installed
    assert b64url_decode(expected) == data
    monkeypatch.setattr(b64url, "_simd_b64encode", None)
    assert b64url.b64url_encode(data) == expected


@pytest.mark.parametrize("header", [None, {"jwk": {"kty": "EC", "crv": "P-256"}}, {"x5c": ["MIIB"]}])
def test_issue_hashed_is_issue_with_its_credential_hash(header: dict[str, object] | None) -> None:
    key = IssuerKey.generate()
    token, digest = sdjwt.issue_hashed(_claims(), key, sdjwt.protected_header(key, header=header))
    assert digest == sdjwt.credential_hash(token)
    reference = sdjwt.issue(_claims(), key, header=header)
    assert token.split(".", 1)[0] == reference.split(".", 1)[0]  # the same protected header, byte for byte
    verified = sdjwt.verify(token, resolve_key=lambda _h, _p: key.public_key, now=NOW)
    assert verified.header == {"alg": key.alg, "kid": key.kid, "typ": "dc+sd-jwt", **(header or {})}
    assert verified.claims["p"]["v"] == "x"


def test_protected_header_refuses_what_issue_refuses() -> None:
    key = IssuerKey.generate()
    for header in ({"typ": "JWT"}, {"alg": "none"}, {"kid": "other"}):
        with pytest.raises(ValueError, match=r"typ is a parameter|alg and kid"):
            sdjwt.protected_header(key, header=header)
    with pytest.raises(ValueError, match="decoys"):
        sdjwt.issue_hashed(_claims(), key, sdjwt.protected_header(key), decoys=(3, 1))
