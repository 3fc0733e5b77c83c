"""issue -> present -> verify on household-like claims: paths, decoys, salts, envelope rules."""

from __future__ import annotations

import json
from typing import Any

import pytest

from civiccert.credentials import sdjwt
from civiccert.credentials.b64url import b64url_decode
from civiccert.credentials.keys import IssuerKey
from civiccert.credentials.sdjwt import Sd

NOW = 1_800_000_000
ISSUER = IssuerKey.generate()


def _member(name: str, birth: str) -> Sd:
    return Sd({Sd("name"): name, Sd("name_kana"): "ヤマダ", Sd("birth_date"): birth, Sd("sex"): "男"})


def _claims() -> dict[Any, Any]:
    return {
        "iss": "urn:civiccert:lg:122076",
        "iat": NOW,
        "exp": NOW + 86400,
        "vct": "urn:civiccert:vct:juminhyo:1",
        "municipality": {"code": "122076", "name": "松戸市"},
        "household": {Sd("address"): "千葉県松戸市小根本7番地の8", Sd("householder"): "山田太郎"},
        "members": [
            _member("山田太郎", "1980-01-01"),
            _member("山田花子", "1982-02-02"),
            _member("山田一郎", "2010-03-03"),
        ],
    }


def _resolve(_h: dict[str, Any], _p: dict[str, Any]) -> Any:
    return ISSUER.public_key


def _verify(token: str, **kwargs: Any) -> sdjwt.VerifiedSdJwt:
    return sdjwt.verify(token, resolve_key=_resolve, now=NOW, **kwargs)


def test_full_issuance_verifies_to_the_plain_claims() -> None:
    token = sdjwt.issue(_claims(), ISSUER)
    assert token.endswith("~")
    result = _verify(token)
    assert result.claims == {**sdjwt.strip_sd(_claims())}
    assert result.header == {"alg": "ES256", "kid": ISSUER.kid, "typ": "dc+sd-jwt"}
    assert result.payload["_sd_alg"] == "sha-256"
    assert result.issuer_signed_jwt == sdjwt.issuer_signed_part(token)
    assert "members[2].birth_date" in result.disclosed_paths
    assert result.disclosed_paths == sorted(result.disclosed_paths)


@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
def test_verify_returns_the_credential_hash_of_every_form(alg: str) -> None:
    """The hash verify computes with the signature is credential_hash's, for the credential and a presentation
    with a KB-JWT alike (the Verifier uses it as the anchor leaf and revocation key)."""
    issuer, holder = IssuerKey.generate(alg), IssuerKey.generate()
    token = sdjwt.issue(_claims(), issuer, holder_jwk=holder.public_jwk())
    shown = sdjwt.present(token, ["members[0].name"], holder_key=holder, aud="v", nonce="n", now=NOW)
    for text in (token, shown):
        result = sdjwt.verify(text, resolve_key=lambda _h, _p: issuer.public_key, now=NOW, aud="v", nonce="n")
        assert result.credential_hash == sdjwt.credential_hash(token)
        assert len(result.credential_hash) == 32


def test_unsorted_paths_are_the_same_paths() -> None:
    """sort_paths=False (the Verifier only counts them) changes the order of disclosed_paths, nothing else."""
    token = sdjwt.issue(_claims(), ISSUER)
    walked, ordered = _verify(token, sort_paths=False), _verify(token)
    assert sorted(walked.disclosed_paths) == ordered.disclosed_paths
    assert walked.claims == ordered.claims


@pytest.mark.parametrize(
    ("paths", "expected"),
    [
        (["household.address"], {"household": {"address": "千葉県松戸市小根本7番地の8"}, "members": []}),
        (["members[1].name"], {"household": {}, "members": [{"name": "山田花子"}]}),
        (
            ["members[*].birth_date"],
            {"household": {}, "members": [{"birth_date": d} for d in ("1980-01-01", "1982-02-02", "2010-03-03")]},
        ),
        (["members[2]"], {"household": {}, "members": [sdjwt.strip_sd(_member("山田一郎", "2010-03-03").value)]}),
        (
            ["household.*"],
            {"household": {"address": "千葉県松戸市小根本7番地の8", "householder": "山田太郎"}, "members": []},
        ),
        ([], {"household": {}, "members": []}),
    ],
)
def test_paths_select_exactly_what_they_name(paths: list[str], expected: dict[str, Any]) -> None:
    result = _verify(sdjwt.present(sdjwt.issue(_claims(), ISSUER), paths))
    got = {k: result.claims[k] for k in ("household", "members")}
    assert got == expected
    assert result.claims["municipality"] == {"code": "122076", "name": "松戸市"}  # plain claims always


def test_star_discloses_everything() -> None:
    token = sdjwt.issue(_claims(), ISSUER)
    assert sdjwt.present(token, ["*"]) == token


def test_unknown_literal_path_and_bad_syntax_raise() -> None:
    token = sdjwt.issue(_claims(), ISSUER)
    for bad in (["members[0].nmae"], ["members[9]"], ["a..b"], ["members[x]"], [""]):
        with pytest.raises(ValueError, match="path"):
            sdjwt.present(token, bad)
    assert sdjwt.present(token, ["members[*].honseki"]) == sdjwt.present(token, [])


def _sd_arrays(obj: Any, out: list[list[str]]) -> None:
    if isinstance(obj, dict):
        if "_sd" in obj:
            out.append(obj["_sd"])
        for value in obj.values():
            _sd_arrays(value, out)
    elif isinstance(obj, list):
        for value in obj:
            _sd_arrays(value, out)


def test_decoys_hide_the_number_of_claims_and_sd_arrays_are_sorted() -> None:
    token = sdjwt.issue(_claims(), ISSUER, decoys=(2, 2))
    payload = json.loads(b64url_decode(token.split(".")[1]))
    arrays: list[list[str]] = []
    _sd_arrays(payload, arrays)
    assert arrays
    assert all(a == sorted(a) for a in arrays)
    assert [len(a) for a in arrays] == [2 + 2]  # household: 2 claims + 2 decoys (members' _sd live in disclosures)
    assert len(payload["members"]) == 3 + 2
    n_disclosures = len(token.split("~")) - 2
    assert n_disclosures == 2 + 3 + 3 * 4
    none = sdjwt.issue(_claims(), ISSUER, decoys=(0, 0))
    assert len(json.loads(b64url_decode(none.split(".")[1]))["members"]) == 3


def test_salts_are_fresh_or_injected() -> None:
    def salts(token: str) -> list[str]:
        return [json.loads(b64url_decode(d))[0] for d in token.split("~")[1:-1]]

    first, second = salts(sdjwt.issue(_claims(), ISSUER)), salts(sdjwt.issue(_claims(), ISSUER))
    assert not set(first) & set(second)
    assert all(len(s) >= 22 for s in first)  # >= 128 bits of base64url
    counter = iter(range(1000))
    fixed = salts(sdjwt.issue(_claims(), ISSUER, salt=lambda: f"salt-{next(counter)}", decoys=(0, 0)))
    assert fixed[0] == "salt-0"
    assert len(set(fixed)) == len(fixed)


def test_envelope_claims_can_never_be_selectively_disclosable() -> None:
    for name in sorted(sdjwt.NEVER_DISCLOSABLE - {"_sd_alg"}):
        with pytest.raises(ValueError, match="never"):
            sdjwt.issue({Sd(name): 1}, ISSUER)
    for claims in ({Sd("_sd_alg"): 1}, {"_sd_alg": "sha-256"}, {"a": {Sd("_sd"): 1}}, {"...": 1}):
        with pytest.raises(ValueError, match="_sd"):
            sdjwt.issue(claims, ISSUER)
    with pytest.raises(ValueError, match="dict value"):
        sdjwt.issue({"a": Sd(1)}, ISSUER)


def test_holder_jwk_goes_to_cnf_and_must_be_public() -> None:
    holder = IssuerKey.generate("EdDSA")
    token = sdjwt.issue(_claims(), ISSUER, holder_jwk=holder.public_jwk())
    assert _verify(token).claims["cnf"] == {"jwk": holder.public_jwk()}
    from civiccert.errors import CredentialError

    with pytest.raises(CredentialError):
        sdjwt.issue(_claims(), ISSUER, holder_jwk={**holder.public_jwk(), "d": "AAAA"})


def test_eddsa_issuer_and_key_binding() -> None:
    issuer, holder = IssuerKey.generate("EdDSA"), IssuerKey.generate("EdDSA")
    token = sdjwt.issue(_claims(), issuer, holder_jwk=holder.public_jwk())
    presentation = sdjwt.present(token, ["members[0].name"], holder_key=holder, aud="v", nonce="n", now=NOW)
    result = sdjwt.verify(
        presentation,
        resolve_key=lambda _h, _p: issuer.public_key,
        now=NOW,
        require_key_binding=True,
        aud="v",
        nonce="n",
    )
    assert result.claims["members"] == [{"name": "山田太郎"}]
    assert result.disclosed_paths == ["members[0]", "members[0].name"]


def test_strip_sd_removes_markers_recursively() -> None:
    plain = sdjwt.strip_sd(_claims())
    assert plain["members"][0] == {"name": "山田太郎", "name_kana": "ヤマダ", "birth_date": "1980-01-01", "sex": "男"}
    assert "Sd(" not in repr(plain)


def test_split_parts() -> None:
    token = sdjwt.issue(_claims(), ISSUER)
    jwt, disclosures, kb = sdjwt.split(token)
    assert kb is None
    assert len(disclosures) == 2 + 3 + 3 * 4
    assert "~".join([jwt, *disclosures, ""]) == token
