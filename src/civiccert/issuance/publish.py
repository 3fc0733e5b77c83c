"""What a municipality publishes about itself, made from the public material in its home alone.

Publishing public keys must never need the signing passphrase: an unattended job (or a clerk without the key)
writes the trust file from ``config.json``, which holds the current public JWK and every rotated-out key.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509

from civiccert.credentials.signatures import Signer
from civiccert.errors import ConfigError, ReasonCode
from civiccert.issuance.home import HomeConfig
from civiccert.pki.home import certified_jwk
from civiccert.verification.trust import TrustedKey, TrustedMunicipality, TrustSnapshot

__all__ = ["DEFAULT_EXPORT_VALID_DAYS", "signed_trust_file", "trust_export"]

DAY = 24 * 3600
# how long a verifier may rely on the export before fetching a new one (a key revoked later is only
# learnt from a newer file): a quarter, the credentials' own default validity
DEFAULT_EXPORT_VALID_DAYS = 90


def trust_export(home: Path, *, valid_days: int = DEFAULT_EXPORT_VALID_DAYS, now: int | None = None
                 ) -> TrustSnapshot:
    """The home's public keys (current, rotated out, revoked, with their times) as a trust snapshot that
    expires ``valid_days`` after ``now``. ConfigError(CONFIG_INVALID) for a home made before public keys
    were kept in its config, until it is opened once with its passphrase."""
    if not 1 <= valid_days <= 3660:
        raise ConfigError(ReasonCode.CONFIG_INVALID, "validity must be 1..3660 days", field="valid_days")
    config = HomeConfig.load(home)
    if config.public_jwk is None:
        raise ConfigError(ReasonCode.CONFIG_INVALID, "this home's config has no public key yet: open it once "
                          "with its passphrase (e.g. civiccert status)", field="public_jwk")
    generated = int(time.time()) if now is None else now
    code = config.municipality_code
    keys = {(code, config.kid): TrustedKey(kid=config.kid, municipality=code, valid_from=0,
                                           jwk=certified_jwk(home, config, dict(config.public_jwk)))}
    for old in config.extra.get("previous_keys", []):
        keys[(code, str(old["kid"]))] = TrustedKey(
            kid=str(old["kid"]), municipality=code, valid_from=0, retired_at=old.get("retired_at"),
            revoked_at=old.get("revoked_at"), jwk=dict(old["jwk"]))
    return TrustSnapshot(
        source="issuer",
        generated_at=generated,
        municipalities={code: TrustedMunicipality(code, config.municipality_name)},
        keys=keys,
        expires_at=generated + valid_days * DAY,
    )


def signed_trust_file(home: Path, key: Signer, chain: Sequence[x509.Certificate], *, valid_days: int, now: int) -> str:
    """``trust_export`` as a JWS signed by ``key``, whose certificate chain (``x5c``: leaf + intermediates) is
    ``chain``, as the file's text (civiccert.verification.trust_signed). ConfigError without a certificate."""
    from civiccert.verification.trust_signed import sign_trust

    if not chain:
        raise ConfigError(ReasonCode.CONFIG_INVALID, "no certificate certifies this home's current key: "
                          "install one (pki import, or pki issue-leaf for TEST) to sign trust files",
                          field="cert_chain")
    signed = sign_trust(trust_export(home, valid_days=valid_days, now=now).to_dict(), key, chain)
    return json.dumps(signed, indent=2) + "\n"
