"""OpenID4VCI 1.0 through real HTTP: a clerk's offer, the @openid4vc/openid4vci wallet, and refused proofs."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

import civiccert as cc
from civiccert.service.flowstore import FlowStore
from civiccert.service.offers import MAX_TX_CODE_ATTEMPTS, OfferBook
from civiccert.status.publish import list_name

from servicekit import Clients, Server, served
from worldkit import PASSPHRASE, World, make_world

ROOT = Path(__file__).resolve().parents[2]
GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"


@dataclass
class Api:
    server: Server
    clients: Clients
    world: World

    def offer(self, sample: str = "household-matsudo.json") -> dict[str, Any]:
        record = json.loads(cc.sample_record_path(sample).read_text(encoding="utf-8"))
        response = httpx.post(self.server.url + "/v1/offers", json={"record": record},
                              headers=self.clients.headers("clerk"), timeout=30)  # fmt: skip
        assert response.status_code == 201, response.text
        offer = dict(response.json())
        offer["code"] = httpx.get(offer["credential_offer_uri"]).json()["grants"][GRANT]["pre-authorized_code"]
        return offer

    def token(self, offer: dict[str, Any], pin: str) -> httpx.Response:
        return httpx.post(self.server.url + "/oid4vci/token",
                          data={"grant_type": GRANT, "pre-authorized_code": offer["code"], "tx_code": pin})  # fmt: skip

    def nonce(self) -> str:
        return str(httpx.post(self.server.url + "/oid4vci/nonce").json()["c_nonce"])


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, anvil_chain: cc.Chain) -> Iterator[Api]:
    folder = tmp_path_factory.mktemp("oid4vci")
    world = make_world(folder, chain=anvil_chain)
    with served(world, folder, worker=False) as (clients, server):
        yield Api(server, clients, world)


def _proof(key: Any, *, aud: str, nonce: str, typ: str = "openid4vci-proof+jwt", jwk_of: Any = None,
           iat: float | None = None) -> str:  # fmt: skip
    jwk = json.loads(ECAlgorithm.to_jwk((jwk_of or key).public_key()))
    claims = {"aud": aud, "nonce": nonce, "iat": int(iat if iat is not None else time.time())}
    return jwt.encode(claims, key, algorithm="ES256", headers={"typ": typ, "jwk": jwk})


def _credential(api: Api, access_token: str, proofs: list[str], config: str = "juminhyo") -> httpx.Response:
    return httpx.post(api.server.url + "/oid4vci/credential", headers={"Authorization": f"Bearer {access_token}"},
                      json={"credential_configuration_id": config, "proofs": {"jwt": proofs}}, timeout=30)  # fmt: skip


def test_metadata_names_both_credentials_in_japanese_and_english(api: Api) -> None:
    meta = httpx.get(api.server.url + "/.well-known/openid-credential-issuer").json()
    assert meta["credential_issuer"] == api.server.url
    configs = meta["credential_configurations_supported"]
    assert {c["vct"] for c in configs.values()} == {cc.VCT_RESIDENT_RECORD, cc.VCT_SEAL_CERTIFICATE}
    for config in configs.values():
        assert config["format"] == "dc+sd-jwt"
        assert config["proof_types_supported"]["jwt"]["proof_signing_alg_values_supported"] == ["ES256"]
        assert {d["locale"] for d in config["credential_metadata"]["display"]} == {"ja", "en"}
    oauth = httpx.get(api.server.url + "/.well-known/oauth-authorization-server").json()
    assert GRANT in oauth["grant_types_supported"]
    assert oauth["token_endpoint"].endswith("/oid4vci/token")


@pytest.mark.node
@pytest.mark.skipif(shutil.which("node") is None or not (ROOT / "node_modules/@openid4vc/openid4vci").is_dir(),
                    reason="needs node and node_modules/@openid4vc/openid4vci (run scripts/setup)")
def test_openid4vc_ts_wallet_receives_three_unlinkable_copies_that_we_and_sd_jwt_accept(api: Api) -> None:
    offer = api.offer()
    assert "credential_offer_uri=" in offer["offer_url"]
    assert "世帯" not in offer["offer_url"]
    svg = httpx.get(offer["qr_svg"], headers=api.clients.headers("clerk"))
    assert svg.status_code == 200
    assert svg.text.lstrip().startswith("<?xml")
    assert "<svg" in svg.text
    issuer = cc.Issuer.open(api.world.home, passphrase=PASSPHRASE)
    trust = issuer.trust_export()
    publication, _ = issuer.publish_status(api.world.home.parent / "published", anchor=False)
    lists = {issuer.status_list_uri: publication.files[list_name(issuer.status_list_uri)].decode()}
    issuer.close()
    wallet_in = {"offer": offer["offer_url"], "txCode": offer["tx_code"], "copies": 3,
                 "issuerJwk": trust.to_dict()["keys"][0]["jwk"], "statusLists": lists}
    done = subprocess.run(["node", str(ROOT / "tests/interop/oid4vci_wallet.mjs")], input=json.dumps(wallet_in),
                          capture_output=True, text=True, timeout=60, cwd=ROOT, check=True)  # fmt: skip
    out = json.loads(done.stdout)
    assert "error" not in out, out
    assert out["issuer"] == api.server.url
    assert out["displayJa"] == "住民票の写し"
    assert len(out["credentials"]) == 3
    assert all(r["ok"] for r in out["sdjwt"]), out["sdjwt"]
    thumbprints = {json.dumps(r["cnf"]["jwk"], sort_keys=True) for r in out["sdjwt"]}
    assert len(thumbprints) == 3  # one holder key per copy
    verifier = cc.Verifier(trust=trust)
    for credential in out["credentials"]:
        result = verifier.verify(credential)
        assert result.verdict is not cc.Verdict.INVALID, result.to_dict()
        assert result.vct == cc.VCT_RESIDENT_RECORD
    # single use: the offer is gone once its credentials were issued
    gone = httpx.get(offer["credential_offer_uri"])
    assert (gone.status_code, gone.json()["code"]) == (410, cc.ReasonCode.OFFER_EXPIRED.value)


def test_wrong_pin_is_refused_and_the_offer_dies_after_the_retry_limit(api: Api) -> None:
    offer = api.offer()
    wrong = "000000" if offer["tx_code"] != "000000" else "111111"
    for _ in range(MAX_TX_CODE_ATTEMPTS):
        response = api.token(offer, wrong)
        assert (response.status_code, response.json()["error"], response.json()["code"]) == (
            400, "invalid_grant", cc.ReasonCode.TX_CODE_WRONG.value)
    response = api.token(offer, offer["tx_code"])  # the right PIN, too late
    assert response.json()["code"] == cc.ReasonCode.OFFER_EXPIRED.value
    assert httpx.get(offer["credential_offer_uri"]).json()["code"] == cc.ReasonCode.OFFER_EXPIRED.value
    code_offer = api.offer()
    form = {"grant_type": GRANT, "pre-authorized_code": code_offer["code"], "tx_code": code_offer["tx_code"]}
    assert httpx.post(api.server.url + "/oid4vci/token", data=form).status_code == 200
    again = httpx.post(api.server.url + "/oid4vci/token", data=form)  # a pre-authorized code is used once
    assert again.json()["code"] == cc.ReasonCode.OFFER_EXPIRED.value


def test_bad_key_proofs_are_refused_and_a_used_nonce_cannot_be_replayed(api: Api) -> None:
    offer = api.offer()
    access = api.token(offer, offer["tx_code"]).json()["access_token"]
    key, other = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    aud = api.server.url
    cases = [
        (_proof(key, aud=aud, nonce=api.nonce(), typ="JWT"), cc.ReasonCode.TYP_INVALID),
        (_proof(other, aud=aud, nonce=api.nonce(), jwk_of=key), cc.ReasonCode.SIGNATURE_INVALID),  # another key
        (_proof(key, aud="https://elsewhere.example", nonce=api.nonce()), cc.ReasonCode.KEY_PROOF_INVALID),
        (_proof(key, aud=aud, nonce=api.nonce(), iat=time.time() - 3600), cc.ReasonCode.KEY_PROOF_INVALID),
        (_proof(key, aud=aud, nonce="never-issued"), cc.ReasonCode.NONCE_INVALID),
    ]
    for proof, code in cases:
        response = _credential(api, access, [proof])
        assert (response.status_code, response.json()["code"]) == (400, code.value), response.json()
    assert _credential(api, access, [proof], config="inkan-toroku").json()["code"] == "field_invalid"
    nonce = api.nonce()
    good = _proof(key, aud=aud, nonce=nonce)
    response = _credential(api, access, [good])
    assert response.status_code == 200
    assert len(response.json()["credentials"]) == 1
    # the same proof (and nonce) on a fresh offer is a replay
    second = api.offer()
    access2 = api.token(second, second["tx_code"]).json()["access_token"]
    assert _credential(api, access2, [good]).json()["code"] == cc.ReasonCode.NONCE_INVALID.value
    # the token of a used offer is dead
    assert _credential(api, access, [_proof(key, aud=aud, nonce=api.nonce())]).status_code == 401


def test_offers_expire_and_tokens_expire(tmp_path: Path) -> None:
    now = [1000.0]
    book = OfferBook(FlowStore(str(tmp_path / "flows.db")), offer_ttl=600, token_ttl=300, clock=lambda: now[0])
    offer, pin = book.create({"type": "x"}, "juminhyo", ("clerk-system", "clerk"))
    now[0] += 601
    with pytest.raises(cc.CivicCertError) as err:
        book.redeem(offer.pre_authorized_code, pin)
    assert err.value.code is cc.ReasonCode.OFFER_EXPIRED
    offer, pin = book.create({"type": "x"}, "juminhyo", ("clerk-system", "clerk"))
    token = book.redeem(offer.pre_authorized_code, pin).access_token
    assert token is not None
    now[0] += 301
    with pytest.raises(cc.CivicCertError) as err:
        book.by_token(token)
    assert err.value.code is cc.ReasonCode.AUTH_EXPIRED
    assert book.store.purge(now[0] + 1000) == 2  # both offers are gone, with their record documents
    with pytest.raises(cc.CivicCertError) as err:
        book.by_id(offer.offer_id)
    assert err.value.code is cc.ReasonCode.NOT_FOUND


def test_offer_needs_a_clerk_and_a_valid_record(api: Api) -> None:
    url = api.server.url + "/v1/offers"
    assert httpx.post(url, json={"record": {}}, headers=api.clients.headers("verifier")).status_code == 403
    response = httpx.post(url, json={"record": {"kind": "nope"}}, headers=api.clients.headers("clerk"))
    assert response.status_code == 422
    assert parse_qs(urlparse("x:?a=1").query) == {"a": ["1"]}


def test_the_receipt_pdf_carries_a_scannable_offer_qr_and_refuses_a_wrong_pin(api: Api, tmp_path: Path) -> None:
    offer = api.offer()
    url = f"{api.server.url}/v1/offers/{offer['offer_id']}/receipt.pdf"
    wrong = "000000" if offer["tx_code"] != "000000" else "111111"
    refused = httpx.post(url, json={"tx_code": wrong}, headers=api.clients.headers("clerk"))
    assert (refused.status_code, refused.json()["code"]) == (422, cc.ReasonCode.TX_CODE_WRONG.value)
    assert httpx.post(url, json={"tx_code": offer["tx_code"]}, headers=api.clients.headers("auditor")).status_code \
        == 403  # fmt: skip
    receipt = httpx.post(url, json={"tx_code": offer["tx_code"]}, headers=api.clients.headers("clerk"), timeout=30)
    assert receipt.status_code == 200
    assert receipt.headers["content-type"] == "application/pdf"
    path = tmp_path / "receipt.pdf"
    path.write_bytes(receipt.content)
    from civiccert.paper.scan import scan  # rasterises with pypdfium2, decodes with zxing-cpp

    assert [hit.text for hit in scan(path)] == [offer["offer_url"]]
    # the PIN check for the receipt costs no attempt: the wallet still redeems with the right PIN
    assert api.token(offer, offer["tx_code"]).status_code == 200
