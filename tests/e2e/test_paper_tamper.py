"""Tampered printed copies are caught with the right reason: pasted QR, edited QR, revoked copy."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cbor2

import civiccert as cc
from civiccert.paper.payload import decode_qr_text, qr_text
from civiccert.paper.pdf import render_pdf

from worldkit import World


def _codes(result: cc.VerificationResult) -> dict[str, str]:
    return {c.name.value: c.code.value for c in result.checks}


def test_genuine_pdf_is_valid_and_a_qr_pasted_onto_another_copy_is_not(world: World, tmp_path: Path) -> None:
    household = world.issue_anchored(world.household())
    seal = world.issue_anchored(world.seal())
    genuine = world.issuer.print_pdf(household, tmp_path / "genuine.pdf")
    verifier = world.online_verifier()
    assert [r.verdict for r in verifier.verify_path(genuine)] == [cc.Verdict.VALID]

    # the household's page, carrying the seal certificate's (valid, signed) QR
    assert seal.paper_cose is not None
    pasted_qr = qr_text(seal.paper_cose, seal.paper_receipt)
    page_claims = decode_qr_text(qr_text(household.paper_cose or b"", household.paper_receipt)).claims
    forged = render_pdf(cc.VCT_RESIDENT_RECORD, page_claims, pasted_qr, tmp_path / "forged.pdf")
    [result] = verifier.verify_path(forged)
    assert result.verdict is cc.Verdict.INVALID
    assert _codes(result)["disclosures"] == "disclosure_mismatch"
    assert _codes(result)["signature"] == "ok"  # the QR itself is genuine: only its page is not


def test_edited_qr_fails_the_signature(world: World) -> None:
    cred = world.issue_anchored()
    assert cred.paper_cose is not None
    tag = cbor2.loads(cred.paper_cose)
    protected, unprotected, payload, signature = tag.value
    cwt = cbor2.loads(payload)
    edited = cbor2.dumps(cbor2.CBORTag(18, [protected, unprotected, cbor2.dumps({**cwt, 4: cwt[4] + 10 * 365 * 86400}),
                                            signature]))  # ten more years of validity
    result = world.online_verifier().verify(qr_text(edited, None))
    assert result.verdict is cc.Verdict.INVALID
    assert _codes(result)["signature"] == "signature_invalid"


def test_revoked_printed_copy_scanned_from_its_pdf_is_invalid(world: World, tmp_path: Path) -> None:
    cred = world.issue_anchored(world.seal())
    pdf = world.issuer.print_pdf(cred, tmp_path / "inkan.pdf")
    world.issuer.revoke(cred, cc.RevocationReason.HOLDER_REQUEST)
    [result] = world.online_verifier().verify_path(pdf)
    assert result.verdict is cc.Verdict.INVALID
    assert result.reasons == [cc.ReasonCode.REVOKED]
    assert result.source == "inkan.pdf p.1"


def test_a_serial_that_is_a_prefix_of_the_page_serial_does_not_bind(world: World, tmp_path: Path) -> None:
    page_cred = world.issue_anchored()  # printed serial MATSUDO-2026-000123
    short = dataclasses.replace(world.household(), serial="MATSUDO-2026-0001")
    qr_cred = world.issue_anchored(short)
    assert qr_cred.paper_cose is not None
    assert page_cred.paper_cose is not None
    page_claims = decode_qr_text(qr_text(page_cred.paper_cose, page_cred.paper_receipt)).claims
    forged = render_pdf(cc.VCT_RESIDENT_RECORD, page_claims, qr_text(qr_cred.paper_cose, qr_cred.paper_receipt),
                        tmp_path / "prefix.pdf")
    [result] = world.online_verifier().verify_path(forged)
    assert _codes(result)["disclosures"] == "disclosure_mismatch"
