"""Verifier rules found in review: compromised keys offline, revocation without the anchor check, bad receipts."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

import civiccert as cc
from civiccert.trust import TrustSnapshot

from worldkit import World


def _codes(result: cc.VerificationResult) -> dict[str, str]:
    return {c.name.value: c.code.value for c in result.checks}


def test_offline_a_revoked_key_cannot_vouch_for_an_unanchored_issuance_time(world: World) -> None:
    cred = world.issuer.issue(world.household())
    export = world.issuer.trust_export()
    [key] = export.keys.values()
    snapshot = TrustSnapshot(source="registry", generated_at=export.generated_at,
                             municipalities=export.municipalities,
                             keys={key.kid: dataclasses.replace(key, revoked_at=2**40)})  # revoked, later than iat
    result = cc.Verifier(trust=snapshot).verify(cred)
    assert result.verdict is cc.Verdict.INDETERMINATE  # iat is the forger's word; no anchor was checked
    assert _codes(result)["issuer"] == "issuance_time_unverified"


def test_revocation_is_checked_even_when_the_anchor_check_is_not_requested(world: World) -> None:
    cred = world.issue_anchored()
    world.issuer.revoke(cred)
    result = world.online_verifier(check_anchor=False).verify(cred)
    assert result.verdict is cc.Verdict.INVALID
    assert _codes(result)["revocation"] == "revoked"
    assert _codes(result)["anchor"] == "not_checked"


@pytest.mark.parametrize("receipt", [{"chain_id": "abc"}, {"chain_id": None}, {"chain_id": 1, "root": 5},
                                     {"root": "zz", "proof": "x"}, {"registry": ["x"]}])
def test_malformed_receipts_are_findings_not_crashes(world: World, receipt: dict[str, Any]) -> None:
    cred = world.issue_anchored()
    result = world.online_verifier().verify(dataclasses.replace(cred, receipt=receipt))
    assert result.verdict is cc.Verdict.INVALID
    assert _codes(result)["anchor"] in {"receipt_mismatch", "proof_invalid"}


@pytest.mark.parametrize("receipt", ['"root"', '["root"]', "42"])
def test_receipts_that_are_not_objects_make_the_file_malformed(world: World, tmp_path: Path, receipt: str) -> None:
    cred = world.issue_anchored()
    text = cred.dumps().replace('"receipt": {', '"receipt": ' + receipt + ', "was": {', 1)
    result = world.online_verifier().verify(text)
    assert result.verdict is cc.Verdict.INVALID
    assert _codes(result)["format"] == "malformed"
