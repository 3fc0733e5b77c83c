"""An issuer home's keys: creating them with the home, loading them, and rotating the signing key.

The Issuer calls these; they touch the home's files, the token and the chain registry, never the journal.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount

from civiccert.chain.registry import Registry
from civiccert.credentials.keys import IssuerKey, thumbprint_of
from civiccert.credentials.signatures import SigningKey
from civiccert.errors import ConfigError, ReasonCode, RegistryError
from civiccert.fileio import write_atomic
from civiccert.issuance.home import HomeConfig

__all__ = ["create_home", "load_account", "load_key", "rotate_signing_key", "sync_retirements"]

_KEYSTORE_ITERATIONS = 2**15


def create_home(
    home: Path,
    *,
    municipality_code: str,
    municipality_name: str,
    passphrase: bytes,
    alg: str,
    sample: bool,
    key_uri: str | None,
    pin: bytes | None,
    generate_on_token: bool,
    clock: Callable[[], float],
) -> tuple[HomeConfig, SigningKey, LocalAccount]:
    """Create an issuer home (see ``Issuer.init``): its config, signing key and encrypted chain account."""
    from civiccert.records.municipalities import check_official_municipality

    if HomeConfig.exists(home):
        raise ConfigError(ReasonCode.HOME_EXISTS, "issuer home already initialised")
    code = check_official_municipality(municipality_code, municipality_name).code
    key: SigningKey
    if key_uri is None:
        key = IssuerKey.generate(alg)
    else:
        from civiccert.credentials import pkcs11

        if alg != "ES256":
            raise ConfigError(ReasonCode.ALGORITHM_UNSUPPORTED, "keys on a token are ES256 only", field="alg")
        key = (pkcs11.generate_key if generate_on_token else pkcs11.Pkcs11Signer.open)(key_uri, pin)
        key_uri = str(key.uri)  # with the key's id once generated: an unambiguous reference
    home.mkdir(parents=True, exist_ok=True)
    (home / "keys").mkdir(mode=0o700, exist_ok=True)
    config = HomeConfig(municipality_code=code, municipality_name=municipality_name, kid=key.kid, alg=alg,
                        sample=sample, public_jwk=key.public_jwk(), key_created_at=int(clock()),
                        key_uri=key_uri)
    if isinstance(key, IssuerKey):
        key.save(config.key_path(home), passphrase)
    account: LocalAccount = Account.create()
    keystore = Account.encrypt(account.key, passphrase.decode("utf-8"), iterations=_KEYSTORE_ITERATIONS)
    write_atomic(HomeConfig.account_path(home), json.dumps(keystore).encode("utf-8"), overwrite=False)
    config.save(home)
    return config, key, account


def load_key(home: Path, config: HomeConfig, passphrase: bytes | None, pin: bytes | None) -> SigningKey:
    """The home's signing key: on the token its ``key_uri`` names, else its encrypted key file."""
    if config.key_uri is None:
        return IssuerKey.load(config.key_path(home), passphrase)
    from civiccert.credentials import pkcs11

    return pkcs11.Pkcs11Signer.open(config.key_uri, pin if pin is not None else pkcs11.pin_from_env())


def load_account(home: Path, passphrase: bytes | None) -> LocalAccount | None:
    """The home's chain account, or None without a keystore or a passphrase (issuing needs none)."""
    path = HomeConfig.account_path(home)
    if not path.is_file() or passphrase is None:
        return None
    try:
        key = Account.decrypt(json.loads(path.read_text(encoding="utf-8")), passphrase.decode("utf-8"))
    except ValueError as exc:
        raise ConfigError(ReasonCode.PASSPHRASE_WRONG, "passphrase does not open the chain account") from exc
    account: LocalAccount = Account.from_key(key)
    return account


def rotate_signing_key(
    home: Path,
    config: HomeConfig,
    old: IssuerKey,
    registry: Registry,
    passphrase: bytes,
    *,
    now: int,
    compromised_at: int | None,
) -> tuple[HomeConfig, IssuerKey]:
    """``Issuer.rotate_key`` up to the switch: the saved config and the new key (retirement still owed).

    Crash-safe order: a compromised key is revoked on chain first (nothing changes locally if that
    fails); the new key is registered before the home signs with it; the home switches keys in one
    atomic config write (the new key lives in a new file).
    """
    code = config.municipality_code
    if compromised_at is not None:
        info = registry.key(code, old.thumbprint)
        if info is None or compromised_at < info.valid_from:
            raise ValueError("compromised_at must not precede the key's registration on chain")
        try:
            registry.revoke_key(old.thumbprint, compromised_at)
        except RegistryError as exc:
            if exc.code is not ReasonCode.KEY_REVOKED:  # revoked by an interrupted earlier attempt: fine
                raise
    new = IssuerKey.generate(old.alg)
    registry.register_key(new.thumbprint, now, public_jwk=new.public_jwk())
    key_file = f"issuer-{new.kid}.pem"
    new.save(home / "keys" / key_file, passphrase)
    entry: dict[str, Any] = {"kid": old.kid, "jwk": old.public_jwk()}
    if compromised_at is None:
        entry.update(retired_at=now + 1, on_chain=False)  # its last valid second is the one it signed in
    else:
        entry.update(revoked_at=compromised_at, on_chain=True)
    previous = [*config.extra.get("previous_keys", []), entry]
    config = replace(config, kid=new.kid, key_file=key_file, public_jwk=new.public_jwk(), key_created_at=now,
                     extra={**config.extra, "previous_keys": previous})
    config.save(home)  # the switch: from here the home signs with the new key
    return config, new


def sync_retirements(home: Path, config: HomeConfig, registry: Registry) -> HomeConfig:
    """Send the key retirements the home records as owed to the chain; the config as saved afterwards."""
    previous = config.extra.get("previous_keys", [])
    owed = [entry for entry in previous if not entry.get("on_chain", True)]
    if not owed:
        return config
    for entry in owed:
        thumbprint = thumbprint_of(str(entry["kid"]))
        if thumbprint is not None:
            registry.retire_key(thumbprint, int(entry["retired_at"]))
        entry["on_chain"] = True
    config = replace(config, extra={**config.extra, "previous_keys": previous})
    config.save(home)
    return config
