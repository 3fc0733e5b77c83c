"""End to end on a real anvil: journal -> Merkle batch -> anchor tx -> receipt, per batch size.

    .venv/bin/python benchmarks/bench_anchoring.py [--quick]

For each batch size: journal N credentials (one durable commit), anchor them (flush), then produce every
receipt. Prints credentials/s for the whole path and gas per anchoring tx and per credential. Targets
(docs): gas <= 48 per credential at 1,000 and <= 0.5 at 100,000. Nothing is asserted.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from civiccert.chain.nodes import AnvilNode, connect, dev_account
from civiccert.chain.registry import Registry
from civiccert.issuance.anchoring import Anchorer
from civiccert.issuance.journal import CredentialEntry, new_credential_id
from civiccert.issuance.journal_sqlite import SqliteJournal

CITY = 122076
# (batch size, credentials anchored at that size)
RUNS = [(1, 20), (100, 2_000), (1_000, 10_000), (10_000, 50_000), (100_000, 100_000)]
QUICK = [(1, 5), (100, 500), (1_000, 1_000), (10_000, 10_000), (100_000, 100_000)]


def main() -> None:
    runs = QUICK if "--quick" in sys.argv else RUNS
    with AnvilNode() as node, tempfile.TemporaryDirectory() as tmp:
        chain = connect(node.url)
        admin_account, operator = dev_account(chain), dev_account(chain)
        admin = Registry.deploy(chain, admin_account)
        admin.register_municipality(CITY, operator.address)
        city = Registry(chain, admin.address, operator)
        print(f"anvil {chain.w3.client_version}, chain {chain.chain_id}")
        header = (
            f"{'batch':>7} {'creds':>7} {'txs':>4} {'journal s':>9} {'anchor s':>9} {'receipts s':>10} "
            f"{'creds/s':>9} {'gas/tx':>8} {'gas/cred':>9}"
        )
        print(header)
        for batch_size, total in runs:
            journal = SqliteJournal(Path(tmp) / f"journal-{batch_size}.db")
            entries = [CredentialEntry(new_credential_id(), os.urandom(32)) for _ in range(total)]
            t0 = time.perf_counter()
            journal.add_credentials(entries)
            t1 = time.perf_counter()
            anchorer = Anchorer(journal, city, max_batch=batch_size)
            outcomes = anchorer.flush(force=True)
            t2 = time.perf_counter()
            receipts = 0
            for outcome in outcomes:
                receipts += len(anchorer.receipts(outcome.batch_id))
            t3 = time.perf_counter()
            assert receipts == total, (receipts, total)
            assert all(o.gas_used for o in outcomes)
            gas = sum(o.gas_used or 0 for o in outcomes)
            print(
                f"{batch_size:>7} {total:>7} {len(outcomes):>4} {t1 - t0:>9.3f} {t2 - t1:>9.3f} {t3 - t2:>10.3f} "
                f"{total / (t3 - t0):>9.0f} {gas / len(outcomes):>8.0f} {gas / total:>9.3f}"
            )
            journal.close()


if __name__ == "__main__":
    main()
