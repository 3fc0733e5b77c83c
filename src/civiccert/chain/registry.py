"""Typed client of the CivicRegistry contract (contracts/CivicRegistry.sol), over any `Chain`.

    registry = Registry.deploy(chain, admin)                       # admin: eth_account LocalAccount
    Registry(chain, registry.address, account=admin).register_municipality(122076, operator.address)
    city = Registry(chain, registry.address, account=operator)
    city.register_key(issuer_key.thumbprint, now, public_jwk=issuer_key.public_jwk(), cert_hash=sha256(leaf_der))
    city.record_certificate(issuer_key.thumbprint, sha256(renewed_leaf_der))   # a renewed 職責証明書, same key
    registry.certificate_key(122076, cert_hash)                    # the key that certificate certifies, or None
    city.add_operator(second.address)                              # operators, not the admin, grow a city
    registry.key(122076, thumbprint)                               # KeyInfo in 122076's namespace, or None
    registry.public_jwk(122076, thumbprint)                        # its published JWK, None when unknown
    outcome = city.anchor(root, leaf_count)                        # build + send + wait -> TxOutcome
    city.revoke([credential_hash], reason=1)
    registry.root(122076, root)                                    # RootInfo in 122076's namespace, or None
    registry.status(122076, root, credential_hash)                 # CredentialStatus in 122076's namespace
    registry.statuses([(122076, root, h1), (122076, root, h2), ...])   # ONE JSON-RPC batch of eth_call

Anchors, revocations and keys are namespaced by municipality: a root anchored (or a key registered) by another
municipality is simply not anchored (registered) in yours, so nobody can front-run or squat your roots or your
public key, and every read names the namespace. Revocations (`revoke`, `revoke_key`) also work while the
operator's municipality is suspended, and so does `remove_operator`; anchoring, adding operators and
registering, certifying or retiring keys do not. The admin only registers new municipalities (with their first
operator) and suspends them: it cannot touch a registered city's operators or keys (see the contract's NatSpec).

Crash-safe anchoring (what the journal uses) is two-phase:

    signed = city.build_anchor(root, leaf_count)    # SignedTx: raw bytes, hash, nonce; nothing sent yet
    ... persist signed.raw / signed.hash ...
    city.send_raw(signed)                           # idempotent: resending a known tx is not an error
    outcome = city.wait_for_receipt(signed.hash, confirmations=0, timeout=60)   # TxOutcome | None

`build_*` simulates the call first, so a revert (e.g. ROOT_ALREADY_ANCHORED) raises before anything is
signed. Nonces: under a per-(chain, account) lock, the next nonce is max(node's pending count, last nonce
this process built + 1); every built transaction must therefore be sent (or rebuilt with `nonce=`), or later
ones wait behind the gap. Fees: EIP-1559 when the latest block has a base fee, legacy gasPrice otherwise.
Transactions are signed locally with eth-account, so any JSON-RPC node works.

Errors: a contract revert raises RegistryError with the ABI-decoded custom error (`error_name`,
`error_args`) and its ReasonCode (see `ERROR_CODES`); a mined-but-reverted transaction or a dropped one
raises ChainError(TRANSACTION_FAILED); an unreachable node ChainError(CHAIN_UNREACHABLE); no code at the
address ChainError(REGISTRY_NOT_DEPLOYED). Wrong Python argument types/sizes raise ValueError/TypeError.

Public keys: `registerKey` takes the key's RFC 7638 thumbprint input (see `canonical_jwk`) and the contract
checks `sha256(jwk) == thumbprint`; the bytes are only logged in `KeyRegistered`, from where `public_jwk` and
`trust_snapshot` read them back (and check the hash again: a node could lie).

Municipality codes are the 6-digit 地方公共団体コード: methods accept an int (11002) or the 6-digit
string ("011002"); dataclasses carry the int, snapshots the 6-digit string. Hashes are 32 raw bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, cast

from eth_abi.abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from web3 import HTTPProvider
from web3.exceptions import (
    TransactionNotFound,
)
from web3.types import BlockIdentifier

from civiccert.chain.codes import format_municipality_code, municipality_code
from civiccert.chain.nodes import _TRANSPORT_ERRORS, Chain
from civiccert.chain.registry_abi import (
    ERROR_CODES,
    _abi,
    _call_errors,
    _calldata,
    _decode_output,
    _raise_for_call_error,
)
from civiccert.chain.registry_tx import TxSending
from civiccert.chain.registry_values import (
    MAX_KEY_BACKDATE_SECONDS,
    CredentialStatus,
    KeyInfo,
    MunicipalityInfo,
    RootInfo,
    SignedTx,
    TxOutcome,
    _published_jwk,
    canonical_jwk,
)
from civiccert.errors import ChainError, ReasonCode

__all__ = [
    "ERROR_CODES",
    "MAX_KEY_BACKDATE_SECONDS",
    "CredentialStatus",
    "KeyInfo",
    "MunicipalityInfo",
    "Registry",
    "RootInfo",
    "SignedTx",
    "TxOutcome",
    "canonical_jwk",
    "format_municipality_code",
    "municipality_code",
]

BlockTag = Literal["latest", "pending", "safe", "finalized"]

_LOG_CHUNK = 5_000
_BATCH_CHUNK = 1_000
_SNAPSHOT_VERSION = 1


def _triple(municipality: int | str, root: bytes, credential_hash: bytes) -> tuple[int, bytes, bytes]:
    return municipality_code(municipality), _b32(root, "root"), _b32(credential_hash, "credential hash")


def _b32(value: bytes, what: str) -> bytes:
    if not isinstance(value, bytes | bytearray) or len(value) != 32:
        raise ValueError(f"{what} must be 32 bytes")
    return bytes(value)


# --------------------------------------------------------------------------------------------------------
# The client
# --------------------------------------------------------------------------------------------------------


class Registry(TxSending):
    """The CivicRegistry at `address` on `chain`; `account` signs transactions (views need none)."""

    def __init__(self, chain: Chain, address: str, account: LocalAccount | None = None) -> None:
        self.chain = chain
        self.address = to_checksum_address(address)
        self.account = account
        self._w3 = chain.w3

    # ---- deployment ------------------------------------------------------------------------------------

    @classmethod
    def deploy(cls, chain: Chain, admin: LocalAccount, *, timeout: float = 60) -> Registry:
        """Deploy a new registry with `admin` as its admin; returns a client signing as `admin`."""
        tmp = cls(chain, "0x" + "00" * 20, admin)
        signed = tmp._build({"data": _abi().bytecode}, None)
        tmp.send_raw(signed)
        outcome = tmp._wait_or_fail(signed.hash, timeout)
        receipt = chain.w3.eth.get_transaction_receipt(outcome.tx_hash)  # type: ignore[arg-type]
        address = receipt["contractAddress"]
        if address is None:
            raise ChainError(ReasonCode.TRANSACTION_FAILED, "deployment produced no contract")
        return cls(chain, address, admin)

    def ensure_deployed(self) -> None:
        """ChainError(REGISTRY_NOT_DEPLOYED) unless contract code exists at `address`."""
        try:
            code = self._w3.eth.get_code(self.address)
        except _TRANSPORT_ERRORS as exc:
            raise ChainError(ReasonCode.CHAIN_UNREACHABLE, "node did not answer") from exc
        if len(code) == 0:
            raise ChainError(ReasonCode.REGISTRY_NOT_DEPLOYED, "no contract code at the registry address")

    # ---- governance (admin) ----------------------------------------------------------------------------

    def register_municipality(self, code: int | str, operator: str) -> TxOutcome:
        return self._transact("registerMunicipality", municipality_code(code), _account(operator))

    # ---- operators (an operator, in its own municipality; never the admin) -----------------------------

    def add_operator(self, operator: str) -> TxOutcome:
        """Add ``operator`` to this operator's municipality (not while it is suspended)."""
        return self._transact("addOperator", _account(operator))

    def remove_operator(self, operator: str) -> TxOutcome:
        """Remove ``operator`` (possibly this account) from this operator's municipality; also while suspended.
        RegistryError(OPERATOR_ASSIGNED) for the municipality's last operator."""
        return self._transact("removeOperator", _account(operator))

    def suspend(self, code: int | str) -> TxOutcome:
        return self._transact("suspendMunicipality", municipality_code(code))

    def unsuspend(self, code: int | str) -> TxOutcome:
        return self._transact("unsuspendMunicipality", municipality_code(code))

    def transfer_admin(self, new_admin: str) -> TxOutcome:
        """Step 1 of 2; the new admin calls `accept_admin()`."""
        return self._transact("transferAdmin", _account(new_admin))

    def accept_admin(self) -> TxOutcome:
        return self._transact("acceptAdmin")

    # ---- keys (operator) -------------------------------------------------------------------------------

    def register_key(self, thumbprint: bytes, valid_from: int, public_jwk: Mapping[str, str], *,
                     cert_hash: bytes | None = None) -> TxOutcome:
        """Register and publish a signing key in this operator's municipality: `thumbprint` (RFC 7638, 32 bytes)
        of `public_jwk`, with `cert_hash` (SHA-256 of the DER of the leaf certificate that certifies it; None for
        an uncertified development key). Another municipality having registered the same key does not matter.

        `valid_from` is the key's real start of use, at most `MAX_KEY_BACKDATE_SECONDS` before the block time
        (RegistryError(KEY_NOT_YET_VALID) otherwise). Only the JWK's required members are published
        (`canonical_jwk`); ValueError when their SHA-256 is not `thumbprint` (the contract checks it too).
        """
        t = _b32(thumbprint, "thumbprint")
        jwk = canonical_jwk(public_jwk)
        if hashlib.sha256(jwk).digest() != t:
            raise ValueError("public_jwk does not match the thumbprint")
        cert = bytes(32) if cert_hash is None else _nonzero(_b32(cert_hash, "certificate hash"))
        return self._transact("registerKey", t, _u64(valid_from), jwk, cert)

    def record_certificate(self, thumbprint: bytes, cert_hash: bytes) -> TxOutcome:
        """Record one more certificate (e.g. a renewed leaf) for a key of this operator's municipality."""
        return self._transact("recordCertificate", _b32(thumbprint, "thumbprint"),
                              _nonzero(_b32(cert_hash, "certificate hash")))

    def certificate_key(self, municipality: int | str, cert_hash: bytes, *,
                        block: BlockIdentifier = "latest") -> bytes | None:
        """The key thumbprint that certificate `cert_hash` certifies in `municipality`'s namespace; None when that
        municipality did not record it."""
        out = self._call("certificateKey", municipality_code(municipality), _b32(cert_hash, "certificate hash"),
                         block=block)
        key = bytes(out[0])
        return None if key == bytes(32) else key

    def retire_key(self, thumbprint: bytes, at: int = 0) -> TxOutcome:
        """Normal rotation: the key stops being valid at `at` (never earlier than the block time)."""
        return self._transact("retireKey", _b32(thumbprint, "thumbprint"), _u64(at))

    def revoke_key(self, thumbprint: bytes, at: int) -> TxOutcome:
        """Compromise: the key is invalid from `at` (may be past, not before valid_from; capped at now).

        Works while the municipality is suspended, like `revoke`.
        """
        return self._transact("revokeKey", _b32(thumbprint, "thumbprint"), _u64(at))

    # ---- anchors and revocations (operator) ------------------------------------------------------------

    def build_anchor(self, root: bytes, leaf_count: int, *, nonce: int | None = None) -> SignedTx:
        """Simulate and sign `anchor(root, leaf_count)` without sending it (phase 1 of 2)."""
        if not 0 < leaf_count < 2**32:
            raise ValueError("leaf_count must be within 1..2**32-1")
        data = _calldata("anchor", _nonzero(_b32(root, "root")), leaf_count)
        return self._build({"to": self.address, "data": data}, nonce)

    def anchor(self, root: bytes, leaf_count: int, *, timeout: float = 60) -> TxOutcome:
        """Convenience: build, send and wait for `anchor(root, leaf_count)`."""
        signed = self.build_anchor(root, leaf_count)
        self.send_raw(signed)
        return self._wait_or_fail(signed.hash, timeout)

    def revoke(self, hashes: Sequence[bytes], reason: int, *, timeout: float = 60) -> TxOutcome:
        """Revoke credential hashes in this operator's municipality (also while it is suspended); already revoked
        ones are no-ops."""
        if not 0 <= reason < 256:
            raise ValueError("reason must fit in uint8")
        items = [_b32(h, "credential hash") for h in hashes]
        if not items:
            raise ValueError("nothing to revoke")
        if len(items) == 1:
            return self._transact("revoke", items[0], reason, timeout=timeout)
        return self._transact("revokeMany", items, reason, timeout=timeout)

    def publish_status_lists(self, root: bytes, *, timeout: float = 60) -> TxOutcome:
        """Anchor a status-list publication root (SHA-256 of its manifest) for this operator's municipality."""
        return self._transact("publishStatusLists", _b32(root, "root"), timeout=timeout)

    def status_lists_root(self, municipality: int | str, *, block: BlockIdentifier = "latest") -> bytes | None:
        """The municipality's latest anchored status-list publication root; None when it never published."""
        root = bytes(self._call("statusListsRoot", municipality_code(municipality), block=block)[0])
        return None if root == bytes(32) else root

    def status_lists_history(self, municipality: int | str, *, log_chunk: int = _LOG_CHUNK) -> list[tuple[bytes, int]]:
        """Every (root, block timestamp) the municipality published, oldest first (from the events)."""
        code = municipality_code(municipality)
        topics = [HexBytes(_abi().events["StatusListsPublished"]).to_0x_hex(), _topic_u32(code)]
        latest = int(self._w3.eth.block_number)
        out: list[tuple[bytes, int]] = []
        for log in self._logs(topics, latest, log_chunk):
            block = self._w3.eth.get_block(log["blockNumber"])
            out.append((bytes(HexBytes(log["topics"][2])), int(block["timestamp"])))
        return out

    # ---- sending ---------------------------------------------------------------------------------------

    def _transact(self, fn: str, *args: Any, timeout: float = 60) -> TxOutcome:
        signed = self._build({"to": self.address, "data": _calldata(fn, *args)}, None)
        self.send_raw(signed)
        return self._wait_or_fail(signed.hash, timeout)

    # ---- views -----------------------------------------------------------------------------------------

    def _call(self, fn: str, *args: Any, block: BlockIdentifier = "latest") -> tuple[Any, ...]:
        data = _calldata(fn, *args)
        try:
            out = self._w3.eth.call({"to": self.address, "data": data}, block)
        except _call_errors() as exc:
            _raise_for_call_error(exc)
        if len(out) == 0:
            self.ensure_deployed()
            raise ChainError(ReasonCode.TRANSACTION_FAILED, "empty answer from the registry")
        return _decode_output(fn, bytes(out))

    def admin(self) -> str:
        return str(to_checksum_address(self._call("admin")[0]))

    def deployed_block(self) -> int:
        return int(self._call("deployedBlock")[0])

    def operator_of(self, account: str, *, block: BlockIdentifier = "latest") -> int | None:
        code = int(self._call("operatorOf", _account(account), block=block)[0])
        return code or None

    def municipality(self, code: int | str, *, block: BlockIdentifier = "latest") -> MunicipalityInfo | None:
        c = municipality_code(code)
        return self.municipality_from(c, self._call("municipalityInfo", c, block=block))

    def key(self, municipality: int | str, thumbprint: bytes, *, block: BlockIdentifier = "latest") -> KeyInfo | None:
        """Key `thumbprint` in `municipality`'s namespace; None when that municipality did not register it."""
        code, t = municipality_code(municipality), _b32(thumbprint, "thumbprint")
        return self.key_from(code, t, self._call("keyInfo", code, t, block=block))

    def public_jwk(
        self, municipality: int | str, thumbprint: bytes, *, log_chunk: int = _LOG_CHUNK
    ) -> dict[str, str] | None:
        """The public JWK (required members only) `municipality` published with key `thumbprint`; None when
        the key is not registered in its namespace.

        Reads the KeyRegistered log (topic filter on municipality and key, getLogs in chunks of `log_chunk`
        blocks from the deployment block) and re-checks that the JWK hashes to `thumbprint`.
        ChainError(KEY_UNKNOWN) when the key is registered but the node returns no log with a matching JWK.
        """
        code, t = municipality_code(municipality), _b32(thumbprint, "thumbprint")
        number = self.chain.block_number()
        if self.key(code, t, block=number) is None:
            return None
        jwk = self.logged_jwk(code, t, to_block=number, log_chunk=log_chunk)
        if jwk is None:
            raise ChainError(ReasonCode.KEY_UNKNOWN, "no registry log publishes a JWK for the key", field="jwk")
        return jwk

    def logged_jwk(self, municipality: int | str, thumbprint: bytes, *, to_block: int | None = None,
                   log_chunk: int = _LOG_CHUNK) -> dict[str, str] | None:
        """The JWK a ``KeyRegistered`` log of `municipality` publishes for `thumbprint` (hash re-checked), from
        the logs alone; None when there is no such log up to `to_block` (default: the latest block)."""
        code, t = municipality_code(municipality), _b32(thumbprint, "thumbprint")
        number = self.chain.block_number() if to_block is None else to_block
        topics = [HexBytes(_abi().events["KeyRegistered"]).to_0x_hex(), _topic_u32(code), HexBytes(t).to_0x_hex()]
        for log in self._logs(topics, number, log_chunk):
            jwk = _published_jwk(_logged_jwk(log), t)
            if jwk is not None:
                return jwk
        return None

    def _logs(self, topics: list[Any], to_block: int, log_chunk: int) -> Iterable[Any]:
        """This registry's logs matching `topics` from the deployment block to `to_block`, in chunks."""
        start = self.deployed_block()
        while start <= to_block:
            end = min(start + log_chunk - 1, to_block)
            try:
                logs = self._w3.eth.get_logs(
                    {"address": self.address, "fromBlock": start, "toBlock": end, "topics": topics}
                )
            except _TRANSPORT_ERRORS as exc:
                raise ChainError(ReasonCode.CHAIN_UNREACHABLE, "node did not answer") from exc
            yield from logs
            start = end + 1

    def is_key_valid_at(self, municipality: int | str, thumbprint: bytes, t: int) -> bool:
        args = (municipality_code(municipality), _b32(thumbprint, "thumbprint"), _u64(t))
        return bool(self._call("isKeyValidAt", *args)[0])

    def root(self, municipality: int | str, root: bytes) -> RootInfo | None:
        """The anchor of `root` in `municipality`'s namespace; None when that municipality did not anchor it."""
        code = municipality_code(municipality)
        anchored_at, block_number, leaf_count = self._call("anchorOf", code, _b32(root, "root"))
        if leaf_count == 0:
            return None
        return RootInfo(code, int(anchored_at), int(block_number), int(leaf_count))

    def anchor_transaction(self, municipality: int | str, root: bytes, block_number: int) -> tuple[str | None, str]:
        """(transaction hash or None, block hash) of the ``BatchAnchored(root)`` log that ``municipality``
        wrote in ``block_number``.

        The event carries only the root and other municipalities may log the same root in the same block,
        so a log counts only when its transaction was sent by an operator of ``municipality`` at that block.
        """
        code = municipality_code(municipality)
        topics = [HexBytes(_abi().events["BatchAnchored"]).to_0x_hex(), HexBytes(_b32(root, "root")).to_0x_hex()]
        try:
            logs = self._w3.eth.get_logs(
                {"address": self.address, "fromBlock": block_number, "toBlock": block_number, "topics": topics}
            )
            block_hash = HexBytes(self._w3.eth.get_block(block_number)["hash"]).to_0x_hex()
            for log in logs:
                sender = str(self._w3.eth.get_transaction(log["transactionHash"])["from"])
                if self.operator_of(sender, block=block_number) == code:
                    return HexBytes(log["transactionHash"]).to_0x_hex(), block_hash
        except _TRANSPORT_ERRORS as exc:
            raise ChainError(ReasonCode.CHAIN_UNREACHABLE, "node did not answer") from exc
        return None, block_hash

    def is_anchor_transaction(
        self, municipality: int | str, root: bytes, block_number: int, tx_hash: str, *, operators: Sequence[str] = ()
    ) -> bool:
        """Whether ``tx_hash`` is the transaction in which ``municipality`` anchored ``root`` at ``block_number``:
        its receipt logs ``BatchAnchored(root)`` and its sender is one of ``operators`` (the municipality's
        current operators, when the caller has them) or operated ``municipality`` at that block."""
        code = municipality_code(municipality)
        topics = [bytes(_abi().events["BatchAnchored"]), _b32(root, "root")]
        try:
            receipt = self._w3.eth.get_transaction_receipt(HexBytes(tx_hash))
        except TransactionNotFound:
            return False
        except _TRANSPORT_ERRORS as exc:
            raise ChainError(ReasonCode.CHAIN_UNREACHABLE, "node did not answer") from exc
        if int(receipt["status"]) != 1 or int(receipt["blockNumber"]) != block_number:
            return False
        logged = any(str(log["address"]).lower() == self.address.lower()
                     and [bytes(t) for t in log["topics"]] == topics for log in receipt["logs"])
        sender = str(receipt["from"])
        return logged and (sender in operators or self.operator_of(sender, block=block_number) == code)

    def revocation(self, municipality: int | str, credential_hash: bytes) -> tuple[int, int] | None:
        """(reason, revoked_at) in `municipality`'s namespace, None when not revoked."""
        args = (municipality_code(municipality), _b32(credential_hash, "credential hash"))
        reason, revoked_at = self._call("revocationOf", *args)
        return (int(reason), int(revoked_at)) if revoked_at else None

    def status(
        self,
        municipality: int | str,
        root: bytes,
        credential_hash: bytes,
        *,
        block: BlockIdentifier = "latest",
    ) -> CredentialStatus:
        """Anchor of `root` and revocation of `credential_hash`, both in `municipality`'s namespace."""
        code, r, h = _triple(municipality, root, credential_hash)
        out = self._call("status", code, r, h, block=block)
        return CredentialStatus(code, *(int(v) for v in out))

    def statuses(
        self, triples: Iterable[tuple[int | str, bytes, bytes]], *, block: int | BlockTag = "latest"
    ) -> list[CredentialStatus]:
        """`status` for many (municipality, root, hash) triples in one JSON-RPC batch of eth_call per 1,000."""
        checked = [_triple(m, r, h) for m, r, h in triples]
        outs = self.read_many([("status", t) for t in checked], block=block)
        return [CredentialStatus(code, *(int(v) for v in out)) for (code, _, _), out in zip(checked, outs, strict=True)]

    def read_many(
        self, calls: Sequence[tuple[str, tuple[Any, ...]]], *, block: int | BlockTag = "latest"
    ) -> list[tuple[Any, ...]]:
        """Decoded results of many view calls (function name, arguments), one JSON-RPC batch per 1,000 calls.

        Bulk verification reads statuses, keys and municipalities this way in one round-trip (web3's per-call
        path costs a round-trip each). Falls back to one call each on providers without batch support (the
        embedded EVM).
        """
        provider = self._w3.provider
        if not isinstance(provider, HTTPProvider):
            return [self._call(fn, *args, block=block) for fn, args in calls]
        block_id = block if isinstance(block, str) else hex(block)
        results: list[tuple[Any, ...]] = []
        for start in range(0, len(calls), _BATCH_CHUNK):
            chunk = calls[start : start + _BATCH_CHUNK]
            requests_ = [("eth_call", [{"to": self.address, "data": "0x" + _calldata(fn, *args).hex()}, block_id])
                         for fn, args in chunk]
            try:
                responses = provider.make_batch_request(requests_)  # type: ignore[arg-type]
            except _TRANSPORT_ERRORS as exc:
                raise ChainError(ReasonCode.CHAIN_UNREACHABLE, "node did not answer") from exc
            if not isinstance(responses, list) or len(responses) != len(chunk):
                raise ChainError(ReasonCode.TRANSACTION_FAILED, "node rejected the batch request")
            for (fn, _), response in zip(chunk, responses, strict=True):
                result = response.get("result")
                if not isinstance(result, str) or len(result) <= 2:
                    self.ensure_deployed()
                    raise ChainError(ReasonCode.TRANSACTION_FAILED, "node failed a call in the batch")
                try:
                    results.append(_decode_output(fn, bytes.fromhex(result[2:])))
                except (ValueError, DecodingError) as exc:
                    raise ChainError(ReasonCode.NODE_UNRELIABLE, "undecodable answer in the batch") from exc
        return results

    @staticmethod
    def municipality_from(code: int | str, out: tuple[Any, ...]) -> MunicipalityInfo | None:
        """A `municipalityInfo` result (e.g. from `read_many`) as MunicipalityInfo."""
        registered_at, suspended, operators = out
        if registered_at == 0:
            return None
        return MunicipalityInfo(municipality_code(code), int(registered_at), bool(suspended),
                                tuple(to_checksum_address(o) for o in operators))

    @staticmethod
    def key_from(municipality: int | str, thumbprint: bytes, out: tuple[Any, ...]) -> KeyInfo | None:
        """A `keyInfo(municipality, thumbprint)` result (e.g. from `read_many`) as KeyInfo."""
        valid_from, retired_at, revoked_at = out
        if valid_from == 0:  # never 0 once registered: the contract requires validFrom >= 1
            return None
        return KeyInfo(_b32(thumbprint, "thumbprint"), municipality_code(municipality), int(valid_from),
                       int(retired_at), int(revoked_at))

    def trust_snapshot(self, *, log_chunk: int = _LOG_CHUNK) -> dict[str, Any]:
        """Every municipality and key with its current state, read at one pinned block.

        Enumerates via MunicipalityRegistered / KeyRegistered logs from the deployment block (getLogs in
        chunks of `log_chunk` blocks), then reads each entry's state through the views at that block. Keys are
        grouped by the KeyRegistered municipality topic: each municipality lists the keys of its own namespace
        (a thumbprint another municipality also registered appears under both, each with its own state). Each
        key carries its published public JWK ("jwk"; None if no log held one hashing to the thumbprint) and the
        certificates recorded for it ("certificates": 0x-hex SHA-256 of each leaf's DER, re-read from storage).
        """
        latest = self._w3.eth.get_block("latest")
        number = int(latest["number"])
        abi = _abi()
        topic_m = abi.events["MunicipalityRegistered"]
        topic_k = abi.events["KeyRegistered"]
        topic_c = abi.events["CertificateRecorded"]
        codes: set[int] = set()
        jwks: dict[tuple[int, bytes], dict[str, str] | None] = {}
        certs: dict[tuple[int, bytes], set[bytes]] = {}
        wanted = [[HexBytes(t).to_0x_hex() for t in (topic_m, topic_k, topic_c)]]
        for log in self._logs(wanted, number, log_chunk):
            topics = [bytes(t) for t in log["topics"]]
            if topics[0] == topic_m:
                codes.add(int.from_bytes(topics[1], "big"))
            elif topics[0] == topic_c and len(topics) == 4:
                certs.setdefault((int.from_bytes(topics[1], "big"), topics[2]), set()).add(topics[3])
            elif topics[0] == topic_k:
                entry = (int.from_bytes(topics[1], "big"), topics[2])
                if jwks.get(entry) is None:
                    jwks[entry] = _published_jwk(_logged_jwk(log), entry[1])
        key_infos: dict[int, list[dict[str, Any]]] = {}
        for (code, thumb), jwk in jwks.items():
            info = self.key(code, thumb, block=number) if 0 < code <= 999_999 else None
            if info is None:
                continue
            recorded = sorted(c for c in certs.get((code, thumb), ())  # a log is a pointer, storage the record
                              if self.certificate_key(code, c, block=number) == thumb)
            key_infos.setdefault(code, []).append(
                {
                    "thumbprint": "0x" + thumb.hex(),
                    "valid_from": info.valid_from,
                    "retired_at": info.retired_at or None,
                    "revoked_at": info.revoked_at or None,
                    "jwk": jwk,
                    "certificates": ["0x" + c.hex() for c in recorded],
                }
            )
        municipalities = []
        for code in sorted(codes):
            m = self.municipality(code, block=number)
            if m is None:
                continue
            municipalities.append(
                {
                    "code": format_municipality_code(code),
                    "registered_at": m.registered_at,
                    "suspended": m.suspended,
                    "operators": list(m.operators),
                    "keys": sorted(key_infos.get(code, []), key=lambda k: (k["valid_from"], k["thumbprint"])),
                }
            )
        return {
            "v": _SNAPSHOT_VERSION,
            "chain_id": self.chain.chain_id,
            "registry": self.address,
            "block_number": number,
            "block_time": int(latest["timestamp"]),
            "municipalities": municipalities,
        }


def _logged_jwk(log: Any) -> bytes:
    """The `jwk` bytes of a KeyRegistered log (data: uint64 validFrom, bytes jwk); b"" when malformed."""
    try:
        _valid_from, jwk = abi_decode(["uint64", "bytes"], bytes(log["data"]))
    except Exception:  # a malformed log is "no JWK", never a crash
        return b""
    return bytes(jwk)


def _topic_u32(value: int) -> str:
    """An indexed uint32 event argument as a log topic (32-byte big-endian, 0x-hex)."""
    return "0x" + value.to_bytes(32, "big").hex()


def _account(address: str) -> str:
    checksummed = cast(str, to_checksum_address(address))
    if int(checksummed, 16) == 0:
        raise ValueError("the zero address is not an account")
    return checksummed


def _nonzero(value: bytes) -> bytes:
    if not any(value):
        raise ValueError("a zero hash is not allowed")
    return value


def _u64(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**64:
        raise ValueError("time must be a uint64 (unix seconds)")
    return value
