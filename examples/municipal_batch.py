"""A municipal backend issuing a day's batch: every request signed and journaled at once, one anchor at the end.

    python examples/municipal_batch.py [N]        # N copies of the sample household (default 200)

Runs on the embedded chain; point `connect` at your consortium chain's JSON-RPC URL in production and open
the issuer home created by `civiccert init` instead of creating one.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import civiccert as cc


def main(count: int) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="civiccert-batch-"))
    chain = cc.connect("embedded")
    registry = cc.Registry.deploy(chain, cc.dev_account(chain))
    issuer = cc.Issuer.init(workdir / "home", municipality_code="122076", municipality_name="松戸市",
                            passphrase=b"example-only-passphrase")
    try:
        assert issuer.account is not None
        cc.fund_dev_account(chain, issuer.account.address)
        issuer.use_chain(chain, registry.address)
        issuer.register_on_chain(registry)

        record = cc.load_record(cc.sample_record_path("household-matsudo.json"))
        started = time.perf_counter()
        issued = list(issuer.issue_many(record for _ in range(count)))  # one durable commit per chunk
        signed = time.perf_counter()
        outcomes = issuer.anchor()                                       # one transaction for the batch
        anchored = time.perf_counter()
        out = workdir / "credentials"
        out.mkdir()
        for cred in issued:
            issuer.with_receipts(cred).save(out / f"{cred.id}.json")
        print(f"issued {len(issued)} in {signed - started:.2f} s, anchored in {len(outcomes)} transaction(s) "
              f"in {anchored - signed:.2f} s; files in {out}")
        print("journal:", issuer.status())
    finally:
        issuer.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
