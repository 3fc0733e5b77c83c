"""An issuer on a shared PostgreSQL journal: issue → anchor → receipt → verify, and one anchoring process."""

from __future__ import annotations

import civiccert as cc
from civiccert.issuance.journal import BatchState
from civiccert.issuance.journal_url import anchoring_lease

from pgkit import PostgresServer
from worldkit import PASSPHRASE, World


def test_issuer_on_postgres_issues_anchors_and_verifies(world: World, postgres: PostgresServer) -> None:
    url = postgres.new_database()
    issuer = cc.Issuer.open(world.home, passphrase=PASSPHRASE, chain=world.chain, journal_url=url)
    try:
        cred = issuer.issue(world.household())
        assert issuer.status()["pending"] == 2  # the digital form and its paper twin, in PostgreSQL
        assert world.issuer.status()["pending"] == 0  # not in the home's SQLite file
        issuer.anchor()
        anchored = issuer.with_receipts(cred)
        assert anchored.receipt is not None
        assert world.online_verifier().verify(anchored).verdict is cc.Verdict.VALID
    finally:
        issuer.close()


def test_second_server_on_the_same_database_does_not_anchor_while_the_first_does(
    world: World, postgres: PostgresServer
) -> None:
    url = postgres.new_database()
    first = cc.Issuer.open(world.home, passphrase=PASSPHRASE, chain=world.chain, journal_url=url)
    second = cc.Issuer.open(world.home, passphrase=PASSPHRASE, chain=world.chain, journal_url=url)
    try:
        second.issue(world.household())
        with anchoring_lease(first.journal) as held:
            assert held
            assert second.anchor() == []  # the lease is taken: nothing anchored twice
            assert second.status()["anchored"] == 0
        outcomes = second.anchor()  # a digital batch and a paper batch
        assert [o.state for o in outcomes] == [BatchState.ANCHORED] * 2
        assert first.status()["anchored"] == 2
    finally:
        first.close()
        second.close()
