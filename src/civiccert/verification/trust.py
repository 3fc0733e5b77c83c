"""Which municipalities and keys a verifier trusts, and the one rule for "was key K valid at time T".

A trust file is either what a municipality publishes about itself (``civiccert trust export``: its public
keys) or a snapshot of the on-chain registry (``civiccert trust sync``: every municipality and key, with the
block it was read at). Online verification builds the same records from registry views, so the validity
rule below is the only one in the code base.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from civiccert.credentials.keys import jwk_thumbprint, kid_of
from civiccert.credentials.strictjson import json_parse
from civiccert.errors import ConfigError, CredentialError, ReasonCode
from civiccert.fileio import write_atomic

__all__ = [
    "DEFAULT_MAX_TRUST_AGE",
    "TRUST_FORMAT",
    "TrustSignature",
    "TrustSnapshot",
    "TrustedKey",
    "TrustedMunicipality",
    "key_status_at",
    "snapshot_from_registry",
]

TRUST_FORMAT = "civiccert-trust/1"
MAX_TRUST_FILE_BYTES = 8 * 1024 * 1024
DEFAULT_MAX_TRUST_AGE = 7 * 24 * 3600  # for a trust file whose publisher set no expiry (registry snapshots)


@dataclass(frozen=True)
class TrustedMunicipality:
    code: str
    name: str = ""
    suspended: bool = False


@dataclass(frozen=True)
class TrustSignature:
    """Who signed a loaded trust file (its ``x5c``, leaf first) and when (the file's ``generated_at``): checked
    against a verifier's trust anchors by civiccert.verification.trust_signed.check_signers, never trusted by itself."""

    x5c: tuple[str, ...]
    signed_at: int


@dataclass(frozen=True)
class TrustedKey:
    kid: str
    municipality: str
    valid_from: int
    retired_at: int | None = None
    revoked_at: int | None = None
    jwk: Mapping[str, Any] | None = None  # public key material, when known (issuer export or chain event)
    # 0x-hex SHA-256 of every leaf certificate the registry records for the key; None: the source says nothing
    certificates: frozenset[str] | None = None

    def __post_init__(self) -> None:
        # a key id names exactly one public key: a JWK that hashes to another id is a forgery, not a key
        if self.jwk is not None and _thumbprint(self.jwk) != self.kid:
            raise ConfigError(ReasonCode.TRUST_FILE_INVALID, "a public key does not match its key id", field="jwk")


def key_status_at(
    key: TrustedKey | None,
    municipality: TrustedMunicipality | None,
    issuer_code: str,
    at: int,
    *,
    skew: int = 0,
    issued_at: int | None = None,
) -> ReasonCode:
    """OK when ``key`` belonged to ``issuer_code`` and was valid at ``at``; otherwise the reason why not.

    A revoked (compromised) key keeps the credentials issued before the revocation time valid; that is why
    the caller passes the anchoring time when it knows it: a forger with a stolen key can backdate ``iat``
    but cannot backdate a block. ``skew`` tolerates clocks that differ (issuer vs chain) only for the start
    of validity, never for a revocation. With ``issued_at`` (the signed iat), a normal retirement (key
    rotation) is judged at signing time when the anchor came later, so credentials signed just before a
    rotation and anchored just after it stay valid. The start of validity is judged at ``at``: a city that
    issued before registering its key on chain (``chain up`` later) and anchored afterwards keeps those
    credentials valid, because its registered key and its own anchor vouch for them together.
    """
    if municipality is None:
        return ReasonCode.ISSUER_NOT_REGISTERED
    if municipality.suspended:
        return ReasonCode.MUNICIPALITY_SUSPENDED
    if key is None:
        return ReasonCode.KEY_UNKNOWN
    if key.municipality != issuer_code:
        return ReasonCode.KEY_WRONG_MUNICIPALITY
    signed = issued_at if issued_at is not None and issued_at <= at + skew else at
    if key.revoked_at is not None and at >= key.revoked_at:
        return ReasonCode.KEY_REVOKED_BEFORE_ISSUE
    if at + skew < key.valid_from:
        return ReasonCode.KEY_NOT_YET_VALID
    if key.retired_at is not None and signed >= key.retired_at:
        return ReasonCode.KEY_RETIRED
    return ReasonCode.OK


@dataclass(frozen=True)
class TrustSnapshot:
    """Municipalities and keys as one source saw them at ``generated_at`` (unix seconds)."""

    source: str  # "issuer" (a municipality's own export) | "registry" (read from the chain)
    generated_at: int
    municipalities: Mapping[str, TrustedMunicipality] = field(default_factory=dict)
    keys: Mapping[tuple[str, str], TrustedKey] = field(default_factory=dict)  # (municipality, kid) -> key
    chain_id: int | None = None
    registry: str | None = None
    block: int | None = None
    # set by the publisher of an issuer export (it knows its rotation schedule); None: the verifier's age policy
    expires_at: int | None = None
    # municipality code -> signatures of the signed files that spoke for it (none: unsigned or built in memory)
    signers: Mapping[str, tuple[TrustSignature, ...]] = field(default_factory=dict)

    def key(self, municipality: str, kid: str) -> TrustedKey | None:
        """The key ``kid`` in ``municipality``'s namespace (another city listing the same key does not count)."""
        return self.keys.get((municipality, kid))

    def age(self, now: int) -> int:
        return max(0, now - self.generated_at)

    def stale(self, now: int, max_age: int | None) -> bool:
        """Past the publisher's ``expires_at``, or older than the verifier's own ``max_age`` when it sets one;
        a file with neither ages out after ``DEFAULT_MAX_TRUST_AGE``."""
        if self.expires_at is not None and now > self.expires_at:
            return True
        if max_age is None:
            max_age = DEFAULT_MAX_TRUST_AGE if self.expires_at is None else None
        return max_age is not None and self.age(now) > max_age

    def kids(self, municipality: str) -> frozenset[str]:
        """The key ids this snapshot lists for ``municipality``."""
        return frozenset(kid for (code, kid) in self.keys if code == municipality)

    def merged(self, other: TrustSnapshot) -> TrustSnapshot:
        """Union of two snapshots that never loosens trust: for a key known to both, the later start, the
        earlier retirement and the earlier revocation win; a municipality suspended in either stays suspended.
        JWKs and names are kept from either. The merge is as old as its oldest part.

        Trust files are data anyone can hand a verifier, so files that disagree are refused, never united
        (``_check_agreement``): snapshots of different registries, two different names for one municipality,
        or two exports listing different keys for it (a union would let a forged file add its own key)."""
        _check_agreement(self, other)
        keys = dict(self.keys)
        for ident, key in other.keys.items():
            mine = keys.get(ident)
            keys[ident] = key if mine is None else _strictest(mine, key)
        munis = dict(self.municipalities)
        for code, muni in other.municipalities.items():
            mine_m = munis.get(code)
            munis[code] = muni if mine_m is None else TrustedMunicipality(
                code, mine_m.name or muni.name, mine_m.suspended or muni.suspended)
        newer = other if other.generated_at >= self.generated_at else self
        return TrustSnapshot(
            source=self.source if self.source == other.source else "merged",
            generated_at=min(self.generated_at, other.generated_at),
            municipalities=munis,
            keys=keys,
            chain_id=self.chain_id or other.chain_id,
            registry=self.registry or other.registry,
            block=newer.block if newer.block is not None else (self.block or other.block),
            expires_at=min((e for e in (self.expires_at, other.expires_at) if e is not None), default=None),
            signers={code: self.signers.get(code, ()) + other.signers.get(code, ())
                     for code in set(self.signers) | set(other.signers)},
        )

    def with_jwks_from(self, published: TrustSnapshot) -> TrustSnapshot:
        """This snapshot's trust decisions, with public keys (and names) taken from ``published``.

        Only keys this snapshot already trusts get a JWK: a published file cannot add a key.
        """
        keys = {ident: replace(k, jwk=k.jwk or (published.keys[ident].jwk if ident in published.keys else None))
                for ident, k in self.keys.items()}
        munis = {code: replace(m, name=m.name or (published.municipalities[code].name
                                                   if code in published.municipalities else ""))
                 for code, m in self.municipalities.items()}
        return replace(self, keys=keys, municipalities=munis)

    # --- file format -----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": TRUST_FORMAT,
            "source": self.source,
            "generated_at": self.generated_at,
            "chain_id": self.chain_id,
            "registry": self.registry,
            "block": self.block,
            "expires_at": self.expires_at,
            "municipalities": [
                {"code": m.code, "name": m.name, "suspended": m.suspended}
                for m in sorted(self.municipalities.values(), key=lambda m: m.code)
            ],
            "keys": [
                {
                    "kid": k.kid,
                    "municipality": k.municipality,
                    "valid_from": k.valid_from,
                    "retired_at": k.retired_at,
                    "revoked_at": k.revoked_at,
                    "jwk": dict(k.jwk) if k.jwk else None,
                    **({} if k.certificates is None else {"certificates": sorted(k.certificates)}),
                }
                for k in sorted(self.keys.values(), key=lambda k: (k.municipality, k.kid))
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrustSnapshot:
        try:
            if data.get("format") != TRUST_FORMAT:
                raise ConfigError(ReasonCode.TRUST_FILE_INVALID, "not a civiccert trust file", field="format")
            munis = {
                str(m["code"]): TrustedMunicipality(str(m["code"]), str(m.get("name", "")),
                                                    bool(m.get("suspended", False)))
                for m in data["municipalities"]
            }
            keys = {
                (str(k["municipality"]), str(k["kid"])): TrustedKey(
                    kid=str(k["kid"]),
                    municipality=str(k["municipality"]),
                    valid_from=int(k["valid_from"]),
                    retired_at=_opt_int(k.get("retired_at")),
                    revoked_at=_opt_int(k.get("revoked_at")),
                    jwk=dict(k["jwk"]) if k.get("jwk") else None,
                    certificates=_certificates(k.get("certificates")),
                )
                for k in data["keys"]
            }
            return cls(
                source=str(data["source"]),
                generated_at=int(data["generated_at"]),
                municipalities=munis,
                keys=keys,
                chain_id=_opt_int(data.get("chain_id")),
                registry=str(data["registry"]) if data.get("registry") else None,
                block=_opt_int(data.get("block")),
                expires_at=_opt_int(data.get("expires_at")),
            )
        except ConfigError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(ReasonCode.TRUST_FILE_INVALID, "trust file is missing a field or has a bad value"
                              ) from exc

    def save(self, path: Path) -> None:
        text = json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n"
        write_atomic(path, text.encode("utf-8"), mode=0o644)  # public keys only: meant to be published

    @classmethod
    def load(cls, path: Path) -> TrustSnapshot:
        """A trust file, plain or signed (civiccert.verification.trust_signed); a signed one must verify under its
        own x5c."""
        try:
            if path.stat().st_size > MAX_TRUST_FILE_BYTES:
                raise ConfigError(ReasonCode.TRUST_FILE_INVALID, "trust file is too large")
            data = path.read_bytes()
        except FileNotFoundError:
            raise ConfigError(ReasonCode.INPUT_NOT_FOUND, "trust file not found") from None
        except OSError as exc:
            raise ConfigError(ReasonCode.TRUST_FILE_INVALID, "trust file cannot be read") from exc
        return cls.parse(data)

    @classmethod
    def parse(cls, text: bytes | str) -> TrustSnapshot:
        """A trust file's content, plain or signed."""
        try:
            data = json_parse(text, field="$")
        except CredentialError as exc:
            raise ConfigError(ReasonCode.TRUST_FILE_INVALID, "trust file is not strict JSON") from exc
        if not isinstance(data, dict):
            raise ConfigError(ReasonCode.TRUST_FILE_INVALID, "trust file is not a JSON object")
        from civiccert.verification.trust_signed import is_signed, open_signed

        if not is_signed(data):
            return cls.from_dict(data)
        document, x5c = open_signed(data)
        if not isinstance(document, dict):
            raise ConfigError(ReasonCode.TRUST_FILE_INVALID, "signed trust file holds no JSON object")
        snapshot = cls.from_dict(document)
        signature = (TrustSignature(x5c, snapshot.generated_at),)
        return replace(snapshot, signers={code: signature for code in snapshot.municipalities})

    @classmethod
    def load_many(cls, paths: Iterable[Path]) -> TrustSnapshot | None:
        """Several trust files as one. Registry snapshots decide validity; municipalities' own exports then
        only lend public keys and names to keys the registry lists (an export says nothing about suspension or
        revocation, so it must never override a snapshot). Without any registry snapshot, the exports decide."""
        snaps = [cls.load(p) for p in paths]
        registry = [s for s in snaps if s.source == "registry"]
        published = [s for s in snaps if s.source != "registry"]
        base = _merge_all(registry) if registry else _merge_all(published)
        if base is not None and registry and published:
            exports = _merge_all(published)
            assert exports is not None
            base = base.with_jwks_from(exports)
        return base


def _opt_int(value: object) -> int | None:
    return None if value is None else int(value)  # type: ignore[call-overload]


def _certificates(value: object) -> frozenset[str] | None:
    """Recorded certificate hashes as lowercase 0x-hex (ValueError for anything else); None when absent."""
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and len(v) == 66 for v in value):
        raise ValueError("certificates must be a list of 0x-hex SHA-256 hashes")
    return frozenset("0x" + bytes.fromhex(v.removeprefix("0x")).hex() for v in value)


def _thumbprint(jwk: Mapping[str, Any]) -> str | None:
    try:
        return jwk_thumbprint(jwk)
    except (CredentialError, KeyError, TypeError, ValueError):
        return None


def _strictest(a: TrustedKey, b: TrustedKey) -> TrustedKey:
    """The same key as two sources saw it, with the stricter answer to every validity question."""
    def earliest(x: int | None, y: int | None) -> int | None:
        return min(v for v in (x, y) if v is not None) if x is not None or y is not None else None

    certificates = None if a.certificates is None and b.certificates is None else \
        (a.certificates or frozenset()) | (b.certificates or frozenset())  # records are never removed
    return TrustedKey(kid=a.kid, municipality=a.municipality, valid_from=max(a.valid_from, b.valid_from),
                      retired_at=earliest(a.retired_at, b.retired_at), revoked_at=earliest(a.revoked_at, b.revoked_at),
                      jwk=a.jwk or b.jwk, certificates=certificates)


def _check_agreement(a: TrustSnapshot, b: TrustSnapshot) -> None:
    """Raise when two trust files contradict each other (the error names the municipality code)."""
    if a.chain_id is not None and b.chain_id is not None and a.chain_id != b.chain_id:
        raise ConfigError(ReasonCode.REGISTRY_MISMATCH, "trust files name different chains", field="chain_id")
    if a.registry and b.registry and a.registry.lower() != b.registry.lower():
        raise ConfigError(ReasonCode.REGISTRY_MISMATCH, "trust files name different registries", field="registry")
    older, newer = (a, b) if (a.block or 0, a.generated_at) <= (b.block or 0, b.generated_at) else (b, a)
    for code in sorted(set(a.municipalities) & set(b.municipalities)):
        name_a, name_b = a.municipalities[code].name, b.municipalities[code].name
        if name_a and name_b and name_a != name_b:
            raise ConfigError(ReasonCode.TRUST_CONFLICT, f"trust files give municipality {code} different names",
                              field=f"municipalities.{code}.name")
        if a.source == b.source == "registry":
            # the registry never forgets a key: an older snapshot may only lack keys registered since
            conflict = not older.kids(code) <= newer.kids(code)
        else:
            conflict = a.source == b.source and a.kids(code) != b.kids(code)
        if conflict:
            raise ConfigError(ReasonCode.TRUST_CONFLICT, f"trust files list different keys for municipality {code}",
                              field=f"municipalities.{code}.keys")


def _merge_all(snaps: list[TrustSnapshot]) -> TrustSnapshot | None:
    result: TrustSnapshot | None = None
    for snap in snaps:
        result = snap if result is None else result.merged(snap)
    return result


def snapshot_from_registry(data: Mapping[str, Any]) -> TrustSnapshot:
    """A TrustSnapshot from ``Registry.trust_snapshot()`` (times are the pinned block's)."""
    munis: dict[str, TrustedMunicipality] = {}
    keys: dict[tuple[str, str], TrustedKey] = {}
    for m in data["municipalities"]:
        code = str(m["code"])
        munis[code] = TrustedMunicipality(code=code, suspended=bool(m["suspended"]))
        for k in m["keys"]:
            kid = kid_of(bytes.fromhex(str(k["thumbprint"]).removeprefix("0x")))
            keys[(code, kid)] = TrustedKey(kid=kid, municipality=code, valid_from=int(k["valid_from"]),
                                           retired_at=_opt_int(k.get("retired_at")),
                                           revoked_at=_opt_int(k.get("revoked_at")),
                                           jwk=dict(k["jwk"]) if k.get("jwk") else None,  # published on chain
                                           certificates=_certificates(k.get("certificates")))
    return TrustSnapshot(source="registry", generated_at=int(data["block_time"]), municipalities=munis, keys=keys,
                         chain_id=int(data["chain_id"]), registry=str(data["registry"]),
                         block=int(data["block_number"]))
