"""Key rotation and compromise through the Issuer: old credentials keep verifying, forged later ones do not."""

from __future__ import annotations

from pathlib import Path

import civiccert as cc
from civiccert.credentials import sdjwt
from civiccert.credentials.keys import thumbprint_of

from worldkit import PASSPHRASE, World


def _codes(result: cc.VerificationResult) -> dict[str, str]:
    return {c.name.value: c.code.value for c in result.checks}


def test_rotation_keeps_earlier_credentials_valid_online_and_offline(world: World) -> None:
    before = world.issue_anchored()
    old_kid = world.issuer.key.kid
    new_key = world.issuer.rotate_key(PASSPHRASE)
    after = world.issue_anchored()
    assert new_key.kid != old_kid
    for cred in (before, after):
        assert world.online_verifier().verify(cred).verdict is cc.Verdict.VALID
        assert world.offline_verifier().verify(cred).verdict is cc.Verdict.VALID  # export lists both keys
    reopened = cc.Issuer.open(world.home, passphrase=PASSPHRASE, chain=world.chain)
    try:
        assert reopened.key.kid == new_key.kid  # the rotation is durable
    finally:
        reopened.close()


def test_after_a_compromise_a_forgery_with_the_stolen_key_is_rejected(world: World) -> None:
    genuine = world.issue_anchored()
    stolen = world.issuer.key
    world.chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    since = int(world.chain.w3.eth.get_block("latest")["timestamp"]) + 1
    world.issuer.rotate_key(PASSPHRASE, compromised_at=since)
    assert world.online_verifier().verify(genuine).verdict is cc.Verdict.VALID  # anchored before the leak

    # the thief signs a new credential, backdated, with the stolen key, and cannot anchor it: no receipt
    claims = {"iss": "urn:civiccert:lg:122076", "iat": since - 3600, "exp": since + 86400,
              "vct": cc.VCT_SEAL_CERTIFICATE, "municipality": {"code": "122076", "name": "松戸市"}}
    forged = sdjwt.issue(claims, stolen, header={"jwk": stolen.public_jwk()})
    online = world.online_verifier().verify(forged)
    assert online.verdict is not cc.Verdict.VALID
    offline = world.offline_verifier().verify(forged)  # the export knows the key was revoked
    assert offline.verdict is not cc.Verdict.VALID
    assert _codes(offline)["issuer"] == "issuance_time_unverified"


def test_a_failed_compromise_report_changes_nothing_and_can_be_retried(world: World) -> None:
    import pytest

    old_kid = world.issuer.key.kid
    with pytest.raises(ValueError, match="registration"):
        world.issuer.rotate_key(PASSPHRASE, compromised_at=1)  # before the key existed: refused up front
    assert world.issuer.key.kid == old_kid
    reopened = cc.Issuer.open(world.home, passphrase=PASSPHRASE, chain=world.chain)
    reopened.close()  # the home still opens with its old key: nothing was half-done


def test_earlier_credentials_still_print_after_a_rotation(world: World, tmp_path: Path) -> None:
    before = world.issue_anchored()
    world.issuer.rotate_key(PASSPHRASE)
    pdf = world.issuer.print_pdf(before, tmp_path / "before.pdf")
    [result] = world.online_verifier().verify_path(pdf)
    assert result.verdict is cc.Verdict.VALID


def test_a_retirement_owed_to_the_chain_is_finished_by_the_next_anchor(world: World) -> None:
    world.issuer.rotate_key(PASSPHRASE)
    [entry] = world.issuer.config.extra["previous_keys"]
    assert entry["on_chain"] is True
    assert world.issuer.registry is not None
    info = world.issuer.registry.key(world.issuer.config.municipality_code, thumbprint_of(entry["kid"]))
    assert info is not None
    assert info.retired_at != 0
