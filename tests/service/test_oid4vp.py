"""OpenID4VP 1.0 through real HTTP: a DCQL request, a wallet's direct_post, and the verdict by transaction id."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

import civiccert as cc

from servicekit import Clients, Server, hand_over
from worldkit import PASSPHRASE, make_world


@dataclass
class Rp:
    server: Server
    clients: Clients
    holder: cc.IssuerKey
    credential: cc.CredentialFile

    def ask(self, claims: list[str], credential_type: str = "juminhyo") -> dict[str, Any]:
        response = httpx.post(self.server.url + "/v1/presentations", headers=self.clients.headers("verifier"),
                              json={"credential_type": credential_type, "claims": claims})  # fmt: skip
        assert response.status_code == 201, response.text
        return dict(response.json())

    def outcome(self, transaction_id: str) -> dict[str, Any]:
        return dict(httpx.get(f"{self.server.url}/v1/presentations/{transaction_id}",
                              headers=self.clients.headers("verifier")).json())  # fmt: skip


def _wallet_reads(request_url: str) -> dict[str, Any]:
    """What a wallet sees in an ``openid4vp://`` link by value (DCQL arrives as JSON text)."""
    params = {k: v[0] for k, v in parse_qs(urlparse(request_url).query).items()}
    params["dcql_query"] = json.loads(params["dcql_query"])
    return params


def _post(rp: Rp, request: dict[str, Any], presentation: str) -> httpx.Response:
    return httpx.post(request["response_uri"], data={"vp_token": json.dumps({"certificate": [presentation]}),
                                                     "state": request["state"]})  # fmt: skip


def _check(outcome: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in outcome["result"]["checks"] if c["check"] == name)


@pytest.fixture(scope="module")
def rp(tmp_path_factory: pytest.TempPathFactory, anvil_chain: cc.Chain) -> Iterator[Rp]:
    folder = tmp_path_factory.mktemp("oid4vp")
    world = make_world(folder, chain=anvil_chain)
    holder = cc.IssuerKey.generate()
    credential = world.issuer.issue(world.household(), holder_jwk=holder.public_jwk(), paper=False)
    clients = hand_over(world, folder)
    server = Server(world.home, clients, passphrase=PASSPHRASE, worker=False)
    try:
        yield Rp(server, clients, holder, credential)
    finally:
        assert server.stop() == 0


def test_wallet_presents_name_and_address_and_a_replay_is_refused(rp: Rp) -> None:
    created = rp.ask(["household.address", "members[0].name"])
    request = _wallet_reads(created["request_url"])
    assert request["response_type"] == "vp_token"
    assert request["response_mode"] == "direct_post"
    assert request["dcql_query"]["credentials"][0]["claims"] == [{"path": ["household", "address"]},
                                                                 {"path": ["members", 0, "name"]}]  # fmt: skip
    # by value only: a redirect_uri: client cannot sign, and a request object by reference is a signed JAR
    assert "request_uri" not in request
    assert set(created) == {"transaction_id", "expires_at", "request", "request_url"}
    assert rp.outcome(created["transaction_id"])["status"] == "pending"
    presentation = cc.present(rp.credential, ["household.address", "members[0].name"], holder_key=rp.holder,
                              aud=request["client_id"], nonce=request["nonce"]).sd_jwt  # fmt: skip
    assert _post(rp, request, presentation).status_code == 200
    outcome = rp.outcome(created["transaction_id"])
    assert outcome["status"] == "done"
    assert outcome["dcql"]["satisfied"], outcome
    assert _check(outcome, "holder_binding")["outcome"] == "passed"
    assert outcome["verdict"] != "INVALID"
    assert set(outcome["result"]["claims"]["members"][0]) == {"name"}  # nothing more than asked
    # the same response again: the transaction is closed
    again = _post(rp, request, presentation)
    assert (again.status_code, again.json()["code"]) == (400, cc.ReasonCode.NONCE_INVALID.value)
    # the same presentation for a new request: its nonce is not this transaction's
    fresh = rp.ask(["household.address", "members[0].name"])
    assert _post(rp, _wallet_reads(fresh["request_url"]), presentation).status_code == 200
    replayed = rp.outcome(fresh["transaction_id"])
    assert replayed["verdict"] == "INVALID"
    assert _check(replayed, "holder_binding")["code"] == cc.ReasonCode.HOLDER_BINDING_FAILED.value


def test_a_presentation_for_another_verifier_is_refused(rp: Rp) -> None:
    created = rp.ask(["members[0].name"])
    request = _wallet_reads(created["request_url"])
    presentation = cc.present(rp.credential, ["members[0].name"], holder_key=rp.holder,
                              aud="redirect_uri:https://other.example/cb", nonce=request["nonce"]).sd_jwt  # fmt: skip
    _post(rp, request, presentation)
    outcome = rp.outcome(created["transaction_id"])
    assert outcome["verdict"] == "INVALID"
    assert _check(outcome, "holder_binding")["code"] == cc.ReasonCode.HOLDER_BINDING_FAILED.value


def test_dcql_asking_for_a_claim_the_credential_lacks_is_unsatisfied(rp: Rp) -> None:
    created = rp.ask(["members[0].name", "members[9].name"])
    request = _wallet_reads(created["request_url"])
    presentation = cc.present(rp.credential, ["*"], holder_key=rp.holder, aud=request["client_id"],
                              nonce=request["nonce"]).sd_jwt  # fmt: skip
    _post(rp, request, presentation)
    outcome = rp.outcome(created["transaction_id"])
    assert outcome["dcql"]["code"] == cc.ReasonCode.PRESENTATION_UNSATISFIED.value
    assert outcome["dcql"]["missing"] == [["members", 9, "name"]]
    # an unknown type or a malformed path is refused when the request is made
    url = rp.server.url + "/v1/presentations"
    bad = httpx.post(url, headers=rp.clients.headers("verifier"), json={"credential_type": "x", "claims": ["a"]})
    assert (bad.status_code, bad.json()["code"]) == (422, cc.ReasonCode.FIELD_INVALID.value)
    bad = httpx.post(url, headers=rp.clients.headers("auditor"), json={"credential_type": "juminhyo", "claims": ["a"]})
    assert bad.status_code == 403
