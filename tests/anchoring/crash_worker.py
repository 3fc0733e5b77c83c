"""Subprocess entry for the kill -9 tests: anchors a journal and SIGKILLs itself at a chosen point.

    python crash_worker.py JOURNAL URL REGISTRY_ADDRESS OPERATOR_KEY_HEX
    CIVICCERT_CRASH_AT = before_build | before_send | after_send | after_receipt | (unset: run to the end)

The registry is the real client with a kill switch around its two-phase methods (nothing is faked):
before_build   batch journaled with its root, nothing signed yet
before_send    signed tx journaled (state "sent"), never broadcast
after_send     tx broadcast (and mined by anvil's automine), receipt never read
after_receipt  receipt read, journal not updated
Without a crash point the worker runs ``resume()`` then ``flush(force=True)`` and prints the status JSON.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Any

from eth_account import Account

from civiccert.chain.nodes import connect
from civiccert.chain.registry import Registry, SignedTx, TxOutcome
from civiccert.issuance.anchoring import Anchorer
from civiccert.issuance.journal_sqlite import SqliteJournal

CRASH_AT = os.environ.get("CIVICCERT_CRASH_AT", "")


def _die(point: str) -> None:
    if point == CRASH_AT:
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)


class CrashingRegistry(Registry):
    """The real Registry that kills its own process at CRASH_AT."""

    def build_anchor(self, root: bytes, leaf_count: int, *, nonce: int | None = None) -> SignedTx:
        _die("before_build")
        return super().build_anchor(root, leaf_count, nonce=nonce)

    def send_raw(self, signed: SignedTx) -> str:
        _die("before_send")
        tx_hash = super().send_raw(signed)
        _die("after_send")
        return tx_hash

    def wait_for_receipt(self, tx_hash: str, **kwargs: Any) -> TxOutcome | None:
        outcome = super().wait_for_receipt(tx_hash, **kwargs)
        if outcome is not None:
            _die("after_receipt")
        return outcome


def main(argv: list[str]) -> int:
    journal_path, url, address, key_hex = argv
    chain = connect(url)
    registry = CrashingRegistry(chain, address, Account.from_key(bytes.fromhex(key_hex)))
    journal = SqliteJournal(journal_path)
    anchorer = Anchorer(journal, registry, max_batch=int(os.environ.get("CIVICCERT_MAX_BATCH", "10000")))
    if not CRASH_AT:
        anchorer.resume()
    outcomes = anchorer.flush(force=True)
    print(json.dumps({"status": anchorer.status(), "errors": [o.error for o in outcomes if o.error]}))
    journal.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
