"""Fixtures for the PKI tests: a TEST CA and 松戸市's issuer home certified by it."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

import civiccert as cc
from civiccert.fileio import write_atomic
from civiccert.issuance.home import HomeConfig
from civiccert.pki.home import install_chain, issuer_url

PASSPHRASE = b"pki-test-passphrase"
CODE, NAME = "122076", "松戸市"


@dataclass
class Certified:
    ca: cc.TestCA
    issuer: cc.Issuer
    home: Path

    def leaf(self, **options: object) -> x509.Certificate:
        """A leaf for this home's key from the TEST CA (options as TestCA.issue_leaf), installed as its chain."""
        config = self.issuer.config
        kwargs: dict[str, object] = {"code": config.municipality_code, "name": config.municipality_name,
                                     "issuer_url": issuer_url(config), **options}
        leaf = self.ca.issue_leaf(self.issuer.key.public_key, **kwargs)  # type: ignore[arg-type]
        self.install([leaf, self.ca.intermediate])
        return leaf

    def install(self, chain: list[x509.Certificate]) -> None:
        install_chain(self.home, chain)
        self.reopen()

    def force_chain(self, chain: list[x509.Certificate]) -> None:
        """Store ``chain`` as the home's without install_chain's checks (a forger's home is not so careful)."""
        force_chain(self.home, chain)
        self.reopen()

    def reopen(self, clock: Callable[[], float] = time.time) -> None:
        self.issuer.close()
        self.issuer = cc.Issuer.open(self.home, passphrase=PASSPHRASE, clock=clock)

    def verifier(self, *, crl: bool = False, trust: cc.TrustSnapshot | None = None, **kw: object) -> cc.Verifier:
        crls = [self.ca.crl_path] if crl else []
        anchors = cc.TrustAnchors.from_files(self.ca.directory / "root.pem", crls)
        return cc.Verifier(trust_anchors=anchors, trust=trust, **kw)  # type: ignore[arg-type]


def force_chain(home: Path, chain: list[x509.Certificate]) -> None:
    write_atomic(home / "keys" / "chain.pem", b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain))
    config = HomeConfig.load(home)
    replace(config, extra={**config.extra, "cert_chain": "chain.pem"}).save(home)


@pytest.fixture
def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


@pytest.fixture
def certified(tmp_path: Path) -> Iterator[Certified]:
    ca = cc.TestCA.create(tmp_path / "ca", now=dt.datetime.now(dt.UTC) - dt.timedelta(days=2))
    home = tmp_path / "home"
    issuer = cc.Issuer.init(home, municipality_code=CODE, municipality_name=NAME, passphrase=PASSPHRASE)
    world = Certified(ca, issuer, home)
    yield world
    world.issuer.close()


@pytest.fixture
def household() -> cc.ResidentRecord:
    record = cc.load_record(cc.sample_record_path("household-matsudo.json"))
    assert isinstance(record, cc.ResidentRecord)
    return record
