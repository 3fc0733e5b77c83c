"""A small world for end-to-end tests: an embedded chain, a registry, and 松戸市 issuing through the public API."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import civiccert as cc

PASSPHRASE = b"e2e-test-passphrase"


@dataclass
class World:
    chain: cc.Chain
    registry: cc.Registry  # signs as the admin
    issuer: cc.Issuer
    home: Path

    def online_verifier(self, **policy: object) -> cc.Verifier:
        return cc.Verifier(trust=self.issuer.trust_export(),
                           registry=cc.OnlineRegistry.of(self.chain, self.registry.address),
                           policy=cc.Policy(**policy))  # type: ignore[arg-type]

    def offline_verifier(self, **policy: object) -> cc.Verifier:
        return cc.Verifier(trust=self.issuer.trust_export(), policy=cc.Policy(**policy))  # type: ignore[arg-type]

    def household(self) -> cc.ResidentRecord:
        record = cc.load_record(cc.sample_record_path("household-matsudo.json"))
        assert isinstance(record, cc.ResidentRecord)
        return record

    def seal(self) -> cc.SealCertificate:
        record = cc.load_record(cc.sample_record_path("seal-registrant.json"))
        assert isinstance(record, cc.SealCertificate)
        return record

    def issue_anchored(self, record: cc.ResidentRecord | cc.SealCertificate | None = None) -> cc.CredentialFile:
        cred = self.issuer.issue(record or self.household())
        self.issuer.anchor()
        return self.issuer.with_receipts(cred)


def make_world(tmp_path: Path, code: str = "122076", name: str = "松戸市",
               chain: cc.Chain | None = None, registry: cc.Registry | None = None) -> World:
    chain = chain or cc.connect("embedded")
    registry = registry or cc.Registry.deploy(chain, cc.dev_account(chain))
    home = tmp_path / f"home-{code}"
    issuer = cc.Issuer.init(home, municipality_code=code, municipality_name=name, passphrase=PASSPHRASE)
    assert issuer.account is not None
    cc.fund_dev_account(chain, issuer.account.address)
    issuer.use_chain(chain, registry.address)
    issuer.register_on_chain(registry)
    return World(chain, registry, issuer, home)
