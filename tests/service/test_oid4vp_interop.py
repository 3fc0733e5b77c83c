"""OpenID4VP 1.0 with an independent wallet: @openid4vc/openid4vp + dcql + @sd-jwt present to our verifier.

The wallet (tests/interop/oid4vp_wallet.mjs) parses and resolves our ``openid4vp://`` link with the library
Credo uses, checks the DCQL query with the ``dcql`` package, discloses only what the query asks for with
``@sd-jwt/sd-jwt-vc`` and posts the ``vp_token`` with the library's ``direct_post`` submission.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

import civiccert as cc
from civiccert.credentials.b64url import b64url_encode

from servicekit import Clients, Server, served
from worldkit import make_world

ROOT = Path(__file__).resolve().parents[2]
WALLET = ROOT / "tests/interop/oid4vp_wallet.mjs"
ASKED = ["household.address", "members[0].name"]

pytestmark = [
    pytest.mark.node,
    pytest.mark.skipif(shutil.which("node") is None or not (ROOT / "node_modules/@openid4vc/openid4vp").is_dir()
                       or not (ROOT / "node_modules/dcql").is_dir(),
                       reason="needs node, node_modules/@openid4vc/openid4vp and dcql (run scripts/setup)"),
]  # fmt: skip


@dataclass
class Rp:
    server: Server
    clients: Clients
    holder_jwk: dict[str, Any]  # private
    credential: cc.CredentialFile

    def ask(self, claims: list[str]) -> dict[str, Any]:
        response = httpx.post(self.server.url + "/v1/presentations", headers=self.clients.headers("verifier"),
                              json={"credential_type": "juminhyo", "claims": claims})  # fmt: skip
        assert response.status_code == 201, response.text
        return dict(response.json())

    def outcome(self, transaction_id: str) -> dict[str, Any]:
        return dict(httpx.get(f"{self.server.url}/v1/presentations/{transaction_id}",
                              headers=self.clients.headers("verifier")).json())  # fmt: skip

    def wallet(self, request_url: str, *, holder_jwk: dict[str, Any] | None = None,
               submit_unsatisfied: bool = False) -> dict[str, Any]:  # fmt: skip
        wallet_in = {"requestUrl": request_url, "credential": self.credential.sd_jwt,
                     "holderJwk": holder_jwk or self.holder_jwk, "submitUnsatisfied": submit_unsatisfied}
        done = subprocess.run(["node", str(WALLET)], input=json.dumps(wallet_in), capture_output=True, text=True,
                              timeout=60, cwd=ROOT, check=True)  # fmt: skip
        return dict(json.loads(done.stdout))


def _private_jwk() -> tuple[dict[str, Any], cc.IssuerKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    return json.loads(ECAlgorithm.to_jwk(key)), cc.IssuerKey(key)


def _check(outcome: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in outcome["result"]["checks"] if c["check"] == name)


@pytest.fixture(scope="module")
def rp(tmp_path_factory: pytest.TempPathFactory, anvil_chain: cc.Chain) -> Iterator[Rp]:
    folder = tmp_path_factory.mktemp("oid4vp-interop")
    world = make_world(folder, chain=anvil_chain)
    holder_jwk, holder = _private_jwk()
    credential = world.issuer.issue(world.household(), holder_jwk=holder.public_jwk(), paper=False)
    with served(world, folder, worker=False) as (clients, server):
        yield Rp(server, clients, holder_jwk, credential)


def test_openid4vc_ts_wallet_presents_exactly_the_asked_claims(rp: Rp) -> None:
    created = rp.ask(ASKED)
    out = rp.wallet(created["request_url"])
    assert "error" not in out, out
    # the library accepted our request as OpenID4VP 1.0 with the redirect_uri: client identifier prefix
    assert out["request"]["version"] == 100
    assert out["request"]["clientPrefix"] == "redirect_uri"
    assert out["request"]["clientId"] == created["request"]["client_id"]
    assert out["request"]["jar"] is None
    assert out["request"]["responseMode"] == "direct_post"
    assert out["dcql"]["satisfiable"] is True
    assert out["submitted"]["status"] == 200, out
    outcome = rp.outcome(created["transaction_id"])
    assert outcome["status"] == "done", outcome
    assert outcome["verdict"] == "VALID", outcome
    assert outcome["dcql"]["satisfied"] is True, outcome["dcql"]
    assert _check(outcome, "holder_binding")["outcome"] == "passed"
    claims = outcome["result"]["claims"]
    assert set(claims["household"]) == {"address"}
    assert [set(m) for m in claims["members"]] == [{"name"}]


def test_a_wallet_holding_another_key_fails_holder_binding(rp: Rp) -> None:
    created = rp.ask(ASKED)
    other, _ = _private_jwk()
    out = rp.wallet(created["request_url"], holder_jwk=other)
    assert out["submitted"]["status"] == 200, out
    outcome = rp.outcome(created["transaction_id"])
    assert outcome["verdict"] == "INVALID"
    assert _check(outcome, "holder_binding")["code"] == cc.ReasonCode.HOLDER_BINDING_FAILED.value


def test_dcql_for_a_claim_the_credential_lacks_cannot_be_satisfied(rp: Rp) -> None:
    asked = ["members[0].name", "members[9].name"]
    created = rp.ask(asked)
    out = rp.wallet(created["request_url"])
    assert out["dcql"]["satisfiable"] is False  # the dcql package finds no match in the credential
    assert out["submitted"]["error"] == "access_denied"
    declined = rp.outcome(created["transaction_id"])
    assert (declined["status"], declined["error"]) == ("error", "access_denied")
    assert "verdict" not in declined
    # a wallet that sends what it has anyway: our endpoint names the missing path
    created = rp.ask(asked)
    out = rp.wallet(created["request_url"], submit_unsatisfied=True)
    assert out["submitted"]["status"] == 200, out
    outcome = rp.outcome(created["transaction_id"])
    assert outcome["dcql"]["code"] == cc.ReasonCode.PRESENTATION_UNSATISFIED.value
    assert outcome["dcql"]["missing"] == [["members", 9, "name"]]


def test_why_there_is_no_request_uri_an_unsigned_request_object_is_refused(rp: Rp) -> None:
    """A redirect_uri: client MUST NOT sign (§5.9.3); the library takes a request object only as a signed JAR."""
    created = rp.ask(ASKED)
    header = b64url_encode(json.dumps({"alg": "none", "typ": "oauth-authz-req+jwt"}).encode())
    payload = b64url_encode(json.dumps(created["request"]).encode())
    link = "openid4vp://?" + urlencode({"client_id": created["request"]["client_id"],
                                        "request": f"{header}.{payload}."})  # fmt: skip
    out = rp.wallet(link)
    assert (out["stage"], out["body"]["error"]) == ("resolve", "invalid_request_object"), out
    assert rp.outcome(created["transaction_id"])["status"] == "pending"
