"""Two-phase transaction sending for the registry client: build (estimate, fee, nonce, sign locally), send a
raw transaction idempotently, wait for its receipt. A mixin so that `Registry` keeps one public surface.

Nonces: under a per-(chain, account) lock, the next nonce is max(node's pending count, last nonce this process
built + 1); every built transaction must therefore be sent (or rebuilt with `nonce=`), or later ones wait
behind the gap.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import TimeExhausted, TransactionNotFound, Web3Exception, Web3RPCError

from civiccert.chain.nodes import _TRANSPORT_ERRORS, Chain
from civiccert.chain.registry_abi import _REJECTED, _call_errors, _embedded_revert, _raise_for_call_error
from civiccert.chain.registry_values import SignedTx, TxOutcome
from civiccert.errors import ChainError, ReasonCode

_GAS_HEADROOM = 1.25

# One lock and one "next nonce" per (chain id, node URL, account) in this process, shared by all Registry
# instances. The URL is part of the key: two local dev nodes share chain id 31337 but not their nonces.
_NONCE_LOCKS: dict[tuple[int, str, str], threading.Lock] = {}
_NEXT_NONCE: dict[tuple[int, str, str], int] = {}
_NONCE_GUARD = threading.Lock()


def _nonce_lock(key: tuple[int, str, str]) -> threading.Lock:
    with _NONCE_GUARD:
        return _NONCE_LOCKS.setdefault(key, threading.Lock())


class TxSending:
    """Sending as `account` to `chain` (what `Registry` sets in its constructor)."""

    chain: Chain
    account: LocalAccount | None
    _w3: Web3


    def send_raw(self, signed: SignedTx) -> str:
        """Send a signed transaction; a node that already knows it (or mined it) is not an error."""
        try:
            self._w3.eth.send_raw_transaction(signed.raw)
        except _TRANSPORT_ERRORS as exc:
            raise ChainError(ReasonCode.CHAIN_UNREACHABLE, "node did not answer") from exc
        except _REJECTED + _embedded_revert() as exc:
            text = str(exc).lower()
            if "insufficient funds" in text:
                raise ChainError(ReasonCode.INSUFFICIENT_FUNDS, "account cannot pay for gas") from exc
            if self._node_knows(signed.hash):
                return signed.hash
            raise ChainError(ReasonCode.TRANSACTION_FAILED, "the node rejected the transaction") from exc
        return signed.hash

    def _node_knows(self, tx_hash: str) -> bool:
        try:
            self._w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
        except (TransactionNotFound, Web3Exception, ValueError):
            return False
        return True

    def wait_for_receipt(
        self, tx_hash: str, *, confirmations: int = 0, timeout: float = 60, poll: float = 0.05
    ) -> TxOutcome | None:
        """The outcome once mined with `confirmations` blocks on top; None when `timeout` passes first.

        The receipt is re-read after the confirmations, so a transaction moved by a reorg reports its
        final block.
        """
        deadline = time.monotonic() + timeout
        while True:
            receipt = self._receipt(tx_hash)
            if receipt is not None:
                mined_in = int(receipt["blockNumber"])
                if confirmations == 0 or self.chain.block_number() - mined_in >= confirmations:
                    receipt = self._receipt(tx_hash) if confirmations else receipt
                    if receipt is not None:
                        return self._outcome(receipt)
            if time.monotonic() >= deadline:
                return None
            time.sleep(poll)

    def _receipt(self, tx_hash: str) -> Any:
        try:
            return self._w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
        except (TransactionNotFound, TimeExhausted):
            return None
        except _TRANSPORT_ERRORS as exc:
            raise ChainError(ReasonCode.CHAIN_UNREACHABLE, "node did not answer") from exc
        except Web3RPCError:
            return None  # some nodes answer an error instead of null while indexing

    def _outcome(self, receipt: Any) -> TxOutcome:
        block = self._w3.eth.get_block(receipt["blockNumber"])
        return TxOutcome(
            tx_hash=HexBytes(receipt["transactionHash"]).to_0x_hex(),
            block_number=int(receipt["blockNumber"]),
            block_hash=HexBytes(receipt["blockHash"]).to_0x_hex(),
            block_timestamp=int(block["timestamp"]),
            gas_used=int(receipt["gasUsed"]),
            success=int(receipt["status"]) == 1,
        )

    def _wait_or_fail(self, tx_hash: str, timeout: float) -> TxOutcome:
        outcome = self.wait_for_receipt(tx_hash, timeout=timeout)
        if outcome is None:
            raise ChainError(ReasonCode.TRANSACTION_FAILED, "transaction not mined before the timeout")
        if not outcome.success:
            raise ChainError(ReasonCode.TRANSACTION_FAILED, "transaction reverted on chain")
        return outcome

    def _build(self, tx: dict[str, Any], nonce: int | None) -> SignedTx:
        account = self._signer()
        w3 = self._w3
        tx = {**tx, "from": account.address, "chainId": self.chain.chain_id}
        try:
            gas = int(w3.eth.estimate_gas(tx))  # type: ignore[arg-type]
        except _call_errors() as exc:
            _raise_for_call_error(exc)
        tx["gas"] = int(gas * _GAS_HEADROOM) + 10_000
        tx.update(self._fees())
        key = (self.chain.chain_id, self.chain.url, account.address)
        with _nonce_lock(key):
            if nonce is None:
                try:
                    pending = int(w3.eth.get_transaction_count(account.address, "pending"))
                except _TRANSPORT_ERRORS as exc:
                    raise ChainError(ReasonCode.CHAIN_UNREACHABLE, "node did not answer") from exc
                nonce = max(pending, _NEXT_NONCE.get(key, 0))
            _NEXT_NONCE[key] = max(_NEXT_NONCE.get(key, 0), nonce + 1)
        tx["nonce"] = nonce
        del tx["from"]
        signed = account.sign_transaction(tx)
        return SignedTx(
            raw=bytes(signed.raw_transaction),
            hash=HexBytes(signed.hash).to_0x_hex(),
            nonce=nonce,
            sender=account.address,
        )

    def _fees(self) -> dict[str, int]:
        w3 = self._w3
        try:
            latest = w3.eth.get_block("latest")
            base_fee = latest.get("baseFeePerGas")
            if base_fee is None:
                return {"gasPrice": int(w3.eth.gas_price)}
            try:
                tip = int(w3.eth.max_priority_fee)
            except (Web3Exception, ValueError):
                tip = 10**9
        except _TRANSPORT_ERRORS as exc:
            raise ChainError(ReasonCode.CHAIN_UNREACHABLE, "node did not answer") from exc
        return {"maxFeePerGas": 2 * int(base_fee) + tip, "maxPriorityFeePerGas": tip}

    def _signer(self) -> LocalAccount:
        if self.account is None:
            raise ValueError("this Registry has no account: pass account= to send transactions")
        return self.account
