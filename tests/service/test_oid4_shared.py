"""Wallet flows across servers: two ``civiccert serve`` on one PostgreSQL behind one public URL (a gateway), so a
wallet's requests land on either; single use, the PIN limit and open offers hold across them and a restart."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

import civiccert as cc
from civiccert.service.flowstore import FlowStore

from pgkit import PostgresServer
from servicekit import Clients, Server, hand_over
from worldkit import PASSPHRASE, World, make_world

GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
PUBLIC = "https://city.example"  # the gateway's origin: the credential issuer identifier on every server


@dataclass
class Pair:
    a: Server
    b: Server
    clients: Clients
    world: World
    url: str  # the PostgreSQL database both use


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, anvil_chain: cc.Chain, postgres: PostgresServer) -> Iterator[Pair]:
    folder = tmp_path_factory.mktemp("oid4shared")
    world = make_world(folder, chain=anvil_chain)
    clients = hand_over(world, folder)
    url = postgres.new_database()
    os.environ["CIVICCERT_PUBLIC_URL"] = PUBLIC
    try:
        a = Server(world.home, clients, passphrase=PASSPHRASE, journal_url=url, worker=False)
        b = Server(world.home, clients, passphrase=PASSPHRASE, journal_url=url, worker=False)
    finally:
        del os.environ["CIVICCERT_PUBLIC_URL"]
    try:
        yield Pair(a, b, clients, world, url)
    finally:
        codes = [a.stop(), b.stop()]
    assert codes == [0, 0]
    for server in (a, b):
        assert "Traceback" not in server.log.read_text(errors="replace")


def _offer(server: Server, clients: Clients) -> dict[str, Any]:
    record = json.loads(cc.sample_record_path("household-matsudo.json").read_text(encoding="utf-8"))
    response = httpx.post(server.url + "/v1/offers", json={"record": record}, headers=clients.headers("clerk"),
                          timeout=30)  # fmt: skip
    assert response.status_code == 201, response.text
    return dict(response.json())


def _code(server: Server, offer: dict[str, Any]) -> str:
    response = httpx.get(f"{server.url}/oid4vci/offers/{offer['offer_id']}")
    assert response.status_code == 200, response.text
    return str(response.json()["grants"][GRANT]["pre-authorized_code"])


def _token(server: Server, code: str, pin: str) -> httpx.Response:
    return httpx.post(server.url + "/oid4vci/token", data={"grant_type": GRANT, "pre-authorized_code": code,
                                                            "tx_code": pin}, timeout=30)  # fmt: skip


def _credential(server: Server, access_token: str, nonce_from: Server) -> httpx.Response:
    nonce = httpx.post(nonce_from.url + "/oid4vci/nonce").json()["c_nonce"]
    key = ec.generate_private_key(ec.SECP256R1())
    proof = jwt.encode({"aud": PUBLIC, "nonce": nonce, "iat": int(time.time())}, key, algorithm="ES256",
                       headers={"typ": "openid4vci-proof+jwt", "jwk": json.loads(ECAlgorithm.to_jwk(key.public_key()))})
    return httpx.post(server.url + "/oid4vci/credential", headers={"Authorization": f"Bearer {access_token}"},
                      json={"credential_configuration_id": "juminhyo", "proofs": {"jwt": [proof]}}, timeout=30)


def _offer_row(pair: Pair, offer_id: str) -> tuple[Any, ...]:
    with psycopg.connect(pair.url) as conn:
        row = conn.execute("SELECT attempts, record IS NULL, credential_ids FROM service_offer WHERE offer_id = %s",
                           (offer_id,)).fetchone()  # fmt: skip
    assert row is not None
    return tuple(row)


def _race(calls: list[Any]) -> list[httpx.Response]:
    barrier = threading.Barrier(len(calls))

    def run(call: Any) -> httpx.Response:
        barrier.wait()
        return call()  # type: ignore[no-any-return]

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_an_offer_made_on_one_server_is_redeemed_on_the_other_and_fetched_on_the_first(pair: Pair) -> None:
    offer = _offer(pair.a, pair.clients)
    assert offer["credential_offer_uri"].startswith(PUBLIC + "/oid4vci/offers/")
    code = _code(pair.b, offer)
    response = _token(pair.b, code, offer["tx_code"])
    assert response.status_code == 200, response.text
    issued = _credential(pair.a, response.json()["access_token"], nonce_from=pair.b)
    assert issued.status_code == 200, issued.text
    (credential,) = issued.json()["credentials"]
    issuer = cc.Issuer.open(pair.world.home, passphrase=PASSPHRASE, journal_url=pair.url)
    try:
        result = cc.Verifier(trust=issuer.trust_export()).verify(credential["credential"])
    finally:
        issuer.close()
    assert result.verdict is not cc.Verdict.INVALID, result.to_dict()
    assert result.vct == cc.VCT_RESIDENT_RECORD
    attempts, record_gone, ids = _offer_row(pair, offer["offer_id"])
    assert (attempts, record_gone, len(json.loads(ids))) == (0, True, 1)  # the personal data left with it
    for server in (pair.a, pair.b):  # used up everywhere
        gone = httpx.get(f"{server.url}/oid4vci/offers/{offer['offer_id']}")
        assert (gone.status_code, gone.json()["code"]) == (410, cc.ReasonCode.OFFER_EXPIRED.value)


def test_the_pin_limit_holds_across_servers_under_concurrent_wrong_guesses(pair: Pair) -> None:
    offer = _offer(pair.a, pair.clients)
    code = _code(pair.a, offer)
    wrong = "000000" if offer["tx_code"] != "000000" else "111111"
    first = _token(pair.b, code, wrong)  # the other server knows the offer and counts the guess
    assert first.json()["code"] == cc.ReasonCode.TX_CODE_WRONG.value
    servers = [pair.a, pair.b] * 4
    answers = _race([lambda s=s: _token(s, code, wrong) for s in servers])
    codes = sorted(r.json()["code"] for r in answers)
    assert codes.count(cc.ReasonCode.TX_CODE_WRONG.value) == 2  # 3 in all, whichever server counted them
    assert codes.count(cc.ReasonCode.OFFER_EXPIRED.value) == len(servers) - 2
    late = _token(pair.b, code, offer["tx_code"])  # the right PIN, too late
    assert late.json()["code"] == cc.ReasonCode.OFFER_EXPIRED.value
    assert _offer_row(pair, offer["offer_id"])[:2] == (3, True)  # locked: the record is deleted at once


def test_a_code_redeemed_concurrently_on_both_servers_yields_one_token(pair: Pair) -> None:
    offer = _offer(pair.b, pair.clients)
    code = _code(pair.a, offer)
    servers = [pair.a, pair.b] * 4
    answers = _race([lambda s=s: _token(s, code, offer["tx_code"]) for s in servers])
    won = [(s, r) for s, r in zip(servers, answers, strict=True) if r.status_code == 200]
    assert len(won) == 1, [r.json() for r in answers]
    assert {r.json()["code"] for r in answers if r.status_code != 200} == {cc.ReasonCode.OFFER_EXPIRED.value}
    winner, response = won[0]
    other = pair.b if winner is pair.a else pair.a
    token = response.json()["access_token"]
    twice = _race([lambda: _credential(other, token, nonce_from=winner), lambda: _credential(winner, token, other)])
    assert sorted(r.status_code for r in twice) == [200, 401]  # one credential request issues, once


def test_a_presentation_request_is_answered_on_one_server_and_polled_on_the_other(pair: Pair) -> None:
    made = httpx.post(pair.a.url + "/v1/presentations", headers=pair.clients.headers("verifier"),
                      json={"credential_type": "juminhyo", "claims": ["household.address"]})  # fmt: skip
    assert made.status_code == 201, made.text
    state = made.json()["request"]["state"]
    declined = httpx.post(pair.b.url + "/oid4vp/response", data={"state": state, "error": "access_denied"})
    assert declined.status_code == 200
    again = httpx.post(pair.a.url + "/oid4vp/response", data={"state": state, "error": "access_denied"})
    assert (again.status_code, again.json()["code"]) == (400, cc.ReasonCode.NONCE_INVALID.value)
    polled = httpx.get(f"{pair.a.url}/v1/presentations/{made.json()['transaction_id']}",
                       headers=pair.clients.headers("verifier")).json()  # fmt: skip
    assert (polled["status"], polled["error"]) == ("error", "access_denied")


def test_an_open_offer_survives_a_server_restart(tmp_path: Path, anvil_chain: cc.Chain) -> None:
    world = make_world(tmp_path, chain=anvil_chain)
    clients = hand_over(world, tmp_path)
    server = Server(world.home, clients, passphrase=PASSPHRASE, worker=False)  # SQLite beside the journal
    offer = _offer(server, clients)
    assert server.stop() == 0
    restarted = Server(world.home, clients, passphrase=PASSPHRASE, worker=False, port=server.port)
    try:
        code = _code(restarted, offer)
        response = _token(restarted, code, offer["tx_code"])
        assert response.status_code == 200, response.text
        nonce = httpx.post(restarted.url + "/oid4vci/nonce").json()["c_nonce"]
        key = ec.generate_private_key(ec.SECP256R1())
        proof = jwt.encode({"aud": restarted.url, "nonce": nonce, "iat": int(time.time())}, key, algorithm="ES256",
                           headers={"typ": "openid4vci-proof+jwt",
                                    "jwk": json.loads(ECAlgorithm.to_jwk(key.public_key()))})  # fmt: skip
        issued = httpx.post(restarted.url + "/oid4vci/credential", timeout=30,
                            headers={"Authorization": f"Bearer {response.json()['access_token']}"},
                            json={"credential_configuration_id": "juminhyo", "proofs": {"jwt": [proof]}})  # fmt: skip
        assert issued.status_code == 200, issued.text
    finally:
        assert restarted.stop() == 0


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres").new_database())
    return str(tmp_path / "journal.sqlite3")


def test_a_nonce_is_used_once_among_concurrent_stores_and_expired_rows_are_purged(target: str) -> None:
    stores = [FlowStore(target) for _ in range(4)]
    now = time.time()
    stores[0].add_nonce("n-1", now + 60, now=now)
    stores[0].add_nonce("n-old", now - 1, now=now)
    barrier = threading.Barrier(len(stores))

    def use(store: FlowStore) -> bool:
        barrier.wait()
        return store.consume_nonce("n-1", now=time.time())

    with ThreadPoolExecutor(len(stores)) as pool:
        assert sorted(pool.map(use, stores)) == [False, False, False, True]
    assert not stores[1].consume_nonce("n-old", now=time.time())  # expired: refused, then purged
    assert stores[2].purge() == 1
    for store in stores:
        store.close()
