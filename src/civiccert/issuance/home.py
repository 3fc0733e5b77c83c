"""An issuer home: the directory where a municipality keeps its key, chain settings and journal.

    HOME/config.json          municipality, key id, chain (url, chain id, registry), policy
    HOME/keys/issuer.pem      issuer signing key, PKCS#8 encrypted with the passphrase (unless the
                              config's ``key_uri`` names a key on a PKCS#11 token instead)
    HOME/keys/chain.json      the municipality's chain account, an Ethereum keystore (same passphrase)
    HOME/journal.sqlite       the issuance journal (ids, hashes and states only: no personal data), unless
                              config.json's ``journal_url`` names a PostgreSQL database
    HOME/chain/               a local anvil's state and PID when `civiccert chain up` manages one
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from civiccert.errors import ConfigError, ReasonCode
from civiccert.fileio import write_atomic

__all__ = ["HOME_FORMAT", "ChainSettings", "HomeConfig"]

HOME_FORMAT = "civiccert-home/1"
CONFIG_NAME = "config.json"


@dataclass(frozen=True)
class ChainSettings:
    url: str
    chain_id: int
    registry: str
    confirmations: int = 0
    deploy_block: int = 0


@dataclass(frozen=True)
class HomeConfig:
    municipality_code: str
    municipality_name: str
    kid: str
    alg: str = "ES256"
    sample: bool = True  # printed copies carry 見本 until a real issuer configuration turns it off
    validity_days: int = 90
    max_batch: int = 10_000
    max_paper_batch: int = 64  # a 1-person printed copy's QR then stays within version 22 (docs/paper.md)
    max_batch_age_seconds: int = 60
    key_file: str = "issuer.pem"  # under keys/; a rotation writes a new file and switches here (atomic)
    key_created_at: int | None = None  # when this home began signing with the key (init / rotation), unix s
    chain: ChainSettings | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # the signing key's public JWK, so publishing it (``trust export``) never needs the passphrase
    public_jwk: dict[str, str] | None = None
    # a PKCS#11 URI (RFC 7512, with module-path) of the signing key on a token; None: the key file. No PIN.
    key_uri: str | None = None
    # where the journal lives when not in this home: a ``postgresql://`` URL shared by several servers
    journal_url: str | None = None
    # the certifier printed on copies (paper.Certifier): e.g. 松戸市長 and a name; None: 「<municipality>長」
    mayor_title: str | None = None
    mayor_name: str = ""
    official_seal_file: str | None = None  # the 職印 PNG, copied into this home; None: a generated one

    # --- paths -----------------------------------------------------------------------------------------
    def key_path(self, home: Path) -> Path:
        return home / "keys" / self.key_file

    @staticmethod
    def account_path(home: Path) -> Path:
        return home / "keys" / "chain.json"

    @staticmethod
    def journal_path(home: Path) -> Path:
        return home / "journal.sqlite"

    @staticmethod
    def chain_dir(home: Path) -> Path:
        return home / "chain"

    # --- persistence -----------------------------------------------------------------------------------
    def with_chain(self, chain: ChainSettings | None) -> HomeConfig:
        return replace(self, chain=chain)

    def save(self, home: Path) -> None:
        data = {"format": HOME_FORMAT, **asdict(self)}
        home.mkdir(parents=True, exist_ok=True)
        write_atomic(home / CONFIG_NAME, (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode())

    @classmethod
    def load(cls, home: Path) -> HomeConfig:
        path = home / CONFIG_NAME
        if not path.is_file():
            raise ConfigError(ReasonCode.HOME_MISSING, "issuer home is not initialised (run civiccert init)")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.pop("format", None) != HOME_FORMAT:
                raise ConfigError(ReasonCode.CONFIG_INVALID, "unknown issuer home format", field="format")
            chain = data.pop("chain", None)
            return cls(**data, chain=ChainSettings(**chain) if chain else None)
        except ConfigError:
            raise
        except (ValueError, TypeError, AttributeError) as exc:
            raise ConfigError(ReasonCode.CONFIG_INVALID, "issuer home config.json is malformed") from exc

    @staticmethod
    def exists(home: Path) -> bool:
        return (home / CONFIG_NAME).is_file()
