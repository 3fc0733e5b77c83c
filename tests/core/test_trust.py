"""Trust snapshots and the one key-validity rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from civiccert import ConfigError, IssuerKey, ReasonCode, TrustSnapshot
from civiccert.verification.trust import TrustedKey, TrustedMunicipality, key_status_at

MUNI = TrustedMunicipality("122076", "松戸市")
K1 = ("122076", "k1")
REAL = IssuerKey.generate()
JWK = REAL.public_jwk()
KEY = TrustedKey(kid="k1", municipality="122076", valid_from=1_000, retired_at=5_000, revoked_at=None)


@pytest.mark.parametrize(
    ("key", "muni", "at", "expected"),
    [
        (KEY, MUNI, 1_000, ReasonCode.OK),
        (KEY, MUNI, 999, ReasonCode.KEY_NOT_YET_VALID),
        (KEY, MUNI, 5_000, ReasonCode.KEY_RETIRED),
        (TrustedKey("k1", "122076", 1_000, revoked_at=3_000), MUNI, 2_999, ReasonCode.OK),
        (TrustedKey("k1", "122076", 1_000, revoked_at=3_000), MUNI, 3_000, ReasonCode.KEY_REVOKED_BEFORE_ISSUE),
        (KEY, None, 2_000, ReasonCode.ISSUER_NOT_REGISTERED),
        (KEY, TrustedMunicipality("122076", suspended=True), 2_000, ReasonCode.MUNICIPALITY_SUSPENDED),
        (None, MUNI, 2_000, ReasonCode.KEY_UNKNOWN),
        (TrustedKey("k1", "011002", 1_000), MUNI, 2_000, ReasonCode.KEY_WRONG_MUNICIPALITY),
    ],
)
def test_key_status_at_covers_every_rule(key: TrustedKey | None, muni: TrustedMunicipality | None, at: int,
                                         expected: ReasonCode) -> None:
    assert key_status_at(key, muni, "122076", at) is expected


def test_snapshot_round_trips_through_a_file(tmp_path: Path) -> None:
    snap = TrustSnapshot(source="registry", generated_at=42, municipalities={"122076": MUNI},
                         keys={K1: KEY}, chain_id=31337, registry="0x" + "ab" * 20, block=7)
    path = tmp_path / "trust.json"
    snap.save(path)
    assert TrustSnapshot.load(path) == snap


def test_merge_never_loosens_trust() -> None:
    registry = TrustSnapshot(source="registry", generated_at=10,
                             municipalities={"122076": TrustedMunicipality("122076", suspended=True)},
                             keys={K1: TrustedKey("k1", "122076", 1_000, retired_at=9_000, revoked_at=3_000)})
    export = TrustSnapshot(source="issuer", generated_at=20, municipalities={"122076": MUNI},
                           keys={K1: TrustedKey("k1", "122076", 0)})
    for merged in (registry.merged(export), export.merged(registry)):
        key = merged.keys[K1]
        assert (key.valid_from, key.retired_at, key.revoked_at) == (1_000, 9_000, 3_000)
        assert merged.municipalities["122076"].suspended is True
        assert merged.generated_at == 10  # as old as its oldest part


def test_exports_lend_keys_to_a_registry_snapshot_but_never_override_it(tmp_path: Path) -> None:
    registry = TrustSnapshot(source="registry", generated_at=10,
                             municipalities={"122076": TrustedMunicipality("122076", suspended=True)},
                             keys={K1: TrustedKey("k1", "122076", 1_000, revoked_at=3_000)})
    export = TrustSnapshot(source="issuer", generated_at=20, municipalities={"122076": MUNI},
                           keys={K1: TrustedKey("k1", "122076", 0),
                                 ("122076", REAL.kid): TrustedKey(REAL.kid, "122076", 0, jwk=JWK)})
    registry.save(tmp_path / "snapshot.json")
    export.save(tmp_path / "export.json")
    loaded = TrustSnapshot.load_many([tmp_path / "export.json", tmp_path / "snapshot.json"])
    assert loaded is not None
    assert set(loaded.keys) == {K1}  # an export cannot add a key the registry does not list
    assert loaded.keys[K1].revoked_at == 3_000
    assert loaded.municipalities["122076"].suspended is True
    assert loaded.municipalities["122076"].name == "松戸市"


@pytest.mark.parametrize("content", ["not json", "[]", json.dumps({"format": "other"}),
                                     json.dumps({"format": "civiccert-trust/1", "source": "x"})])
def test_bad_trust_files_raise_trust_file_invalid(tmp_path: Path, content: str) -> None:
    path = tmp_path / "trust.json"
    path.write_text(content)
    with pytest.raises(ConfigError) as info:
        TrustSnapshot.load(path)
    assert info.value.code is ReasonCode.TRUST_FILE_INVALID


def test_the_same_key_listed_by_two_municipalities_stays_two_entries() -> None:
    """Another city may list our public key in its own namespace; it never replaces ours."""
    ours = TrustedKey("k1", "122076", 1_000)
    squatter = TrustedKey("k1", "011002", 1_000, revoked_at=1_001)
    snap = TrustSnapshot(source="registry", generated_at=1, municipalities={"122076": MUNI},
                         keys={K1: ours, ("011002", "k1"): squatter})
    assert snap.key("122076", "k1") == ours
    assert key_status_at(snap.key("122076", "k1"), MUNI, "122076", 5_000) is ReasonCode.OK


def test_a_public_key_must_hash_to_its_key_id(tmp_path: Path) -> None:
    """An export pairing a trusted key id with somebody else's public key is refused, not believed."""
    attacker = IssuerKey.generate().public_jwk()
    with pytest.raises(ConfigError) as info:
        TrustedKey(REAL.kid, "122076", 0, jwk=attacker)
    assert info.value.code is ReasonCode.TRUST_FILE_INVALID
    good = TrustSnapshot(source="issuer", generated_at=1, municipalities={"122076": MUNI},
                         keys={("122076", REAL.kid): TrustedKey(REAL.kid, "122076", 0, jwk=JWK)})
    path = tmp_path / "export.json"
    good.save(path)
    path.write_text(path.read_text().replace(JWK["x"], attacker["x"]).replace(JWK["y"], attacker["y"]))
    with pytest.raises(ConfigError) as loaded:
        TrustSnapshot.load(path)
    assert loaded.value.code is ReasonCode.TRUST_FILE_INVALID


def test_a_rotation_does_not_void_credentials_signed_before_it_and_anchored_after() -> None:
    key = TrustedKey("k1", "122076", valid_from=1_000, retired_at=5_000)
    assert key_status_at(key, MUNI, "122076", 5_030, issued_at=4_990) is ReasonCode.OK
    assert key_status_at(key, MUNI, "122076", 5_030, issued_at=5_010) is ReasonCode.KEY_RETIRED
    # signed before the key's registration, anchored after it: the registered key and the anchor vouch for it
    assert key_status_at(key, MUNI, "122076", 5_030, issued_at=900) is ReasonCode.OK
    assert key_status_at(key, MUNI, "122076", 900, issued_at=900) is ReasonCode.KEY_NOT_YET_VALID  # no anchor
    compromised = TrustedKey("k1", "122076", valid_from=1_000, revoked_at=5_000)
    # a revocation is judged by the block, never by the signed (forgeable) time
    assert key_status_at(compromised, MUNI, "122076", 5_030, issued_at=4_990) is ReasonCode.KEY_REVOKED_BEFORE_ISSUE


def _export(code: str, name: str, *kids: str) -> TrustSnapshot:
    return TrustSnapshot(source="issuer", generated_at=1, municipalities={code: TrustedMunicipality(code, name)},
                         keys={(code, kid): TrustedKey(kid, code, 0) for kid in kids})


@pytest.mark.parametrize(
    ("forged", "field"),
    [
        (_export("122076", "松戸市", "k1", "attacker"), "municipalities.122076.keys"),  # a key added
        (_export("122076", "松戸市", "attacker"), "municipalities.122076.keys"),  # keys replaced
        (_export("122076", "千代田区", "k1"), "municipalities.122076.name"),  # another name
    ],
)
def test_trust_files_that_disagree_about_a_municipality_are_refused(tmp_path: Path, forged: TrustSnapshot,
                                                                    field: str) -> None:
    """A union would let a file anyone hands the verifier add its own key to a city: refuse and name the city."""
    _export("122076", "松戸市", "k1").save(tmp_path / "genuine.json")
    forged.save(tmp_path / "forged.json")
    with pytest.raises(ConfigError) as info:
        TrustSnapshot.load_many([tmp_path / "genuine.json", tmp_path / "forged.json"])
    assert info.value.code is ReasonCode.TRUST_CONFLICT
    assert info.value.field == field
    # files that agree, or speak of different cities, still merge
    _export("011002", "札幌市", "k9").save(tmp_path / "other.json")
    merged = TrustSnapshot.load_many([tmp_path / "genuine.json", tmp_path / "genuine.json", tmp_path / "other.json"])
    assert merged is not None
    assert set(merged.keys) == {K1, ("011002", "k9")}


def test_registry_snapshots_of_different_registries_are_refused() -> None:
    base = TrustSnapshot(source="registry", generated_at=10, municipalities={"122076": MUNI}, keys={K1: KEY},
                         chain_id=31337, registry="0x" + "ab" * 20, block=7)
    later = TrustSnapshot(source="registry", generated_at=20, municipalities={"122076": MUNI},
                          keys={K1: KEY, ("122076", "k2"): TrustedKey("k2", "122076", 2_000)},
                          chain_id=31337, registry="0x" + "AB" * 20, block=9)
    assert set(base.merged(later).keys) == {K1, ("122076", "k2")}  # a key registered since: fine
    with pytest.raises(ConfigError) as info:
        base.merged(TrustSnapshot(source="registry", generated_at=20, registry="0x" + "cd" * 20, chain_id=31337))
    assert info.value.code is ReasonCode.REGISTRY_MISMATCH
    with pytest.raises(ConfigError) as forgot:  # the registry never forgets a key
        later.merged(TrustSnapshot(source="registry", generated_at=30, municipalities={"122076": MUNI},
                                   keys={("122076", "k2"): TrustedKey("k2", "122076", 2_000)},
                                   chain_id=31337, registry="0x" + "ab" * 20, block=12))
    assert forgot.value.code is ReasonCode.TRUST_CONFLICT
