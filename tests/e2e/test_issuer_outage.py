"""Issuing never waits for the chain: with the node down, credentials stay journaled and the status says why."""

from __future__ import annotations

from pathlib import Path

import pytest

import civiccert as cc
from civiccert.chain.nodes import find_anvil


@pytest.mark.anvil
def test_node_outage_keeps_credentials_pending_then_anchors_them(tmp_path: Path) -> None:
    try:
        find_anvil()
    except cc.ConfigError:
        pytest.skip("anvil binary not installed (run scripts/setup)")
    state = tmp_path / "anvil-state.json"
    node = cc.AnvilNode(state_path=state).start()
    try:
        chain = cc.connect(node.url)
        registry = cc.Registry.deploy(chain, cc.dev_account(chain))
        issuer = cc.Issuer.init(tmp_path / "home", municipality_code="122076", municipality_name="松戸市",
                                passphrase=b"outage-passphrase")
        assert issuer.account is not None
        cc.fund_dev_account(chain, issuer.account.address)
        issuer.use_chain(chain, registry.address)
        issuer.register_on_chain(registry)
        port = node.port
        node.stop()  # the node goes away (state saved on SIGTERM)

        cred = issuer.issue(cc.load_record(cc.sample_record_path("seal-registrant.json")))  # does not wait
        issuer.anchor()  # reports, never raises, for an outage
        status = issuer.status()
        assert status["anchored"] == 0
        assert status["pending"] + status["batched"] + status["sent"] == 2  # credential and its paper twin
        assert status["last_error"] == "chain_unreachable"
        assert issuer.with_receipts(cred).receipt is None

        pending = issuer.revoke(cred)  # asked while the node is down: journaled, and said so
        assert pending.error is cc.ReasonCode.CHAIN_UNREACHABLE

        node = cc.AnvilNode(state_path=state, port=port).start()  # back, same URL, same chain state
        issuer.anchor()
        assert issuer.status()["anchored"] == 2
        anchored = issuer.with_receipts(cred)
        assert anchored.receipt is not None
        verifier = cc.Verifier(registry=cc.OnlineRegistry.of(chain, registry.address))
        assert verifier.verify(anchored).reasons == [cc.ReasonCode.REVOKED]  # the journaled revocation landed
        issuer.close()
    finally:
        node.stop()
