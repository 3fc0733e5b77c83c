"""Constants, fresh keys and the `Deployed` bundle shared by the chain fixtures in conftest.py and the chain tests."""

from __future__ import annotations

from dataclasses import dataclass

from eth_account.signers.local import LocalAccount

from civiccert.chain.nodes import Chain
from civiccert.chain.registry import Registry
from civiccert.credentials.keys import IssuerKey

CITY = 122076  # 松戸市
OTHER_CITY = 11002  # 札幌市 ("011002")


@dataclass(frozen=True)
class PublicKey:
    """A fresh signing key's registry id (RFC 7638 thumbprint) and public JWK, for `register_key`."""

    thumbprint: bytes
    jwk: dict[str, str]


def new_key(alg: str = "ES256") -> PublicKey:
    key = IssuerKey.generate(alg)
    return PublicKey(key.thumbprint, key.public_jwk())


@dataclass
class Deployed:
    """A registry with CITY registered; `admin`/`city` are clients signing as admin / CITY's operator."""

    chain: Chain
    admin_account: LocalAccount
    operator_account: LocalAccount
    admin: Registry
    city: Registry

    def client(self, account: LocalAccount | None = None) -> Registry:
        return Registry(self.chain, self.admin.address, account)
