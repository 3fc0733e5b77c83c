"""Printed copies are anchored in small batches of their own, so a bulk run still prints compact QR codes."""

from __future__ import annotations

import dataclasses

import civiccert as cc
from civiccert.paper.payload import qr_text
from civiccert.paper.qr import make_qr

from worldkit import World


def test_bulk_issuance_keeps_the_printed_qr_within_version_22(world: World) -> None:
    household = world.household()
    one = dataclasses.replace(household, request=dataclasses.replace(household.request, members=(0,)))
    assert len(one.selected_members) == 1  # one person: the budget is version 22 at ECC M, everything printed
    creds = list(world.issuer.issue_many(one for _ in range(300)))
    world.issuer.anchor()
    creds = [world.issuer.with_receipts(c) for c in creds]
    digital_sizes = {c.receipt["size"] for c in creds if c.receipt}
    paper_sizes = {c.paper_receipt["size"] for c in creds if c.paper_receipt}
    assert digital_sizes == {300}  # the digital forms: one batch, one transaction
    assert max(paper_sizes) <= world.issuer.config.max_paper_batch
    last = creds[-1]
    assert last.paper_cose is not None
    assert make_qr(qr_text(last.paper_cose, last.paper_receipt)).version <= 22
    assert world.online_verifier().verify(qr_text(last.paper_cose, last.paper_receipt)).verdict is cc.Verdict.VALID
