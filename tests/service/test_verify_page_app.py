"""The verifier page's routes in process (no browser): the switch that removes them, and a home that anchors
nowhere (the offline verifier: this issuer's keys only, anchor and revocation reported as skipped)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

import civiccert as cc
from civiccert.issuance.home import HomeConfig
from civiccert.service.app import Service, create_app
from civiccert.service.auth import ClientRegistry
from civiccert.service.store import ServiceStore

from servicekit import AppClient
from worldkit import PASSPHRASE


@pytest.fixture
def issuer(tmp_path: Path) -> Iterator[cc.Issuer]:
    issuer = cc.Issuer.init(tmp_path / "home", municipality_code="122076", municipality_name="松戸市",
                            passphrase=PASSPHRASE)  # fmt: skip
    try:
        yield issuer
    finally:
        issuer.close()


class _Client(AppClient):
    """The app of a service with a verify page (or without), its store closed on exit."""

    def __init__(self, issuer: cc.Issuer, *, verify_page: bool) -> None:
        self.store = ServiceStore(str(HomeConfig.journal_path(issuer.home)))
        self.app: FastAPI = create_app(Service(issuer, ClientRegistry({}), self.store, verify_page=verify_page))

    def __enter__(self) -> _Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.store.close()


def _client(issuer: cc.Issuer, *, verify_page: bool) -> _Client:
    return _Client(issuer, verify_page=verify_page)


def test_without_a_chain_the_page_verifies_with_the_issuer_keys_and_skips_the_chain(issuer: cc.Issuer) -> None:
    cred = issuer.issue(cc.load_record(cc.sample_record_path("seal-registrant.json")), paper=False)
    with _client(issuer, verify_page=True) as client:
        assert client.get("/").headers["location"] == "/verify"
        assert client.get("/verify/assets/app.js").headers["content-type"].startswith("text/javascript")
        response = client.post("/verify/check", content=json.dumps(cred.to_dict()).encode())
        assert response.status_code == 200, response.text
        [result] = response.json()["results"]
        checks = {c["check"]: (c["outcome"], c["code"]) for c in result["checks"]}
        assert checks["signature"] == ("passed", "ok")
        assert checks["revocation"] == ("skipped", "not_checked")
        assert result["verdict"] == "VALID"  # the trust export speaks for this issuer; skipped is not unknown
        assert result["display"]["ja"]["verdict"] == "有効"
        ja = {row["label"]: row["value"] for row in result["display"]["ja"]["claims"]}
        en = {row["label"]: row["value"] for row in result["display"]["en"]["claims"]}
        assert ja["生年月日"].startswith(("昭和", "平成"))  # the CLI's labels and 和暦 dates
        assert en["Date of birth"][:4].isdigit()


def test_no_verify_page_removes_the_page_and_its_endpoint(issuer: cc.Issuer) -> None:
    with _client(issuer, verify_page=False) as client:
        for path in ("/", "/verify", "/verify/assets/app.js"):
            assert client.get(path).status_code == 404
        response = client.post("/verify/check", content=b"{}")
        assert (response.status_code, response.json()["code"]) == (404, "not_found")
        assert client.get("/healthz").status_code == 200
