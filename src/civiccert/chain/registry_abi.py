"""The CivicRegistry ABI from the shipped artifact (encoded with eth_abi directly so that batches stay cheap)
and the mapping of what a node raises for a failed call to our errors: a decoded custom error, unreachable
node, insufficient funds, or a plain rejection."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak
from eth_utils.exceptions import ValidationError as EthValidationError
from hexbytes import HexBytes
from web3.exceptions import ContractLogicError, Web3Exception

from civiccert.chain.nodes import _TRANSPORT_ERRORS
from civiccert.errors import ChainError, ReasonCode, RegistryError

#: Custom error name -> ReasonCode. Errors the client prevents by validating arguments first (zero hash,
#: zero address, zero leaf count, a JWK that is not the thumbprint's input) map to TRANSACTION_FAILED.
ERROR_CODES: dict[str, ReasonCode] = {
    "RegistryUnauthorizedAdmin": ReasonCode.UNAUTHORIZED,
    "RegistryUnauthorizedPendingAdmin": ReasonCode.UNAUTHORIZED,
    "RegistryUnauthorizedOperator": ReasonCode.UNAUTHORIZED,
    "RegistryUnknownOperator": ReasonCode.UNAUTHORIZED,
    "RegistryMunicipalitySuspended": ReasonCode.MUNICIPALITY_SUSPENDED,
    "RegistryInvalidMunicipality": ReasonCode.MUNICIPALITY_CODE_INVALID,
    "RegistryMunicipalityAlreadyRegistered": ReasonCode.MUNICIPALITY_EXISTS,
    "RegistryUnknownMunicipality": ReasonCode.ISSUER_NOT_REGISTERED,
    "RegistryOperatorAlreadyAssigned": ReasonCode.OPERATOR_ASSIGNED,
    "RegistryKeyAlreadyRegistered": ReasonCode.KEY_EXISTS,
    "RegistryKeyMismatch": ReasonCode.TRANSACTION_FAILED,
    "RegistryUnknownKey": ReasonCode.KEY_UNKNOWN,
    "RegistryKeyAlreadyRetired": ReasonCode.KEY_RETIRED,
    "RegistryKeyAlreadyRevoked": ReasonCode.KEY_REVOKED,
    "RegistryInvalidKeyTime": ReasonCode.KEY_NOT_YET_VALID,
    "RegistryKeyStartTooEarly": ReasonCode.KEY_NOT_YET_VALID,
    "RegistryCertificateAlreadyRecorded": ReasonCode.CERT_ALREADY_RECORDED,
    "RegistryLastOperator": ReasonCode.OPERATOR_ASSIGNED,
    "RegistryRootAlreadyAnchored": ReasonCode.ROOT_ALREADY_ANCHORED,
    "RegistryInvalidAccount": ReasonCode.TRANSACTION_FAILED,
    "RegistryInvalidHash": ReasonCode.TRANSACTION_FAILED,
    "RegistryInvalidLeafCount": ReasonCode.TRANSACTION_FAILED,
}

# What a failed eth_call / eth_estimateGas raises: JSON-RPC errors via web3 (plus reverts on the embedded EVM,
# see _call_errors).
_CALL_ERRORS: tuple[type[BaseException], ...] = (
    *_TRANSPORT_ERRORS,
    ContractLogicError,
    Web3Exception,
    ValueError,
)
# What a node's refusal of a raw transaction raises (plus the embedded EVM's).
_REJECTED: tuple[type[BaseException], ...] = (Web3Exception, ValueError, EthValidationError)


def _embedded_revert() -> tuple[type[BaseException], ...]:
    """eth-tester's revert, if the embedded chain is in use: it is then loaded, and otherwise it cannot be
    raised; looking it up here keeps eth-tester (the optional embedded-chain extra) out of every other use."""
    module = sys.modules.get("eth_tester.exceptions")
    return (module.TransactionFailed,) if module is not None else ()


def _call_errors() -> tuple[type[BaseException], ...]:
    return _CALL_ERRORS + _embedded_revert()


@dataclass(frozen=True)
class _Fn:
    selector: bytes
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


@dataclass(frozen=True)
class _Abi:
    functions: dict[str, _Fn]
    errors: dict[bytes, tuple[str, tuple[str, ...]]]
    events: dict[str, bytes]  # name -> topic0
    bytecode: bytes


def _signature(item: dict[str, Any]) -> str:
    return f"{item['name']}({','.join(i['type'] for i in item['inputs'])})"


@cache
def _abi() -> _Abi:
    text = resources.files("civiccert.chain").joinpath("artifacts/CivicRegistry.json").read_text("utf-8")
    artifact = json.loads(text)
    functions: dict[str, _Fn] = {}
    errors: dict[bytes, tuple[str, tuple[str, ...]]] = {}
    events: dict[str, bytes] = {}
    for item in artifact["abi"]:
        if item["type"] == "function":
            functions[item["name"]] = _Fn(
                keccak(text=_signature(item))[:4],
                tuple(i["type"] for i in item["inputs"]),
                tuple(o["type"] for o in item["outputs"]),
            )
        elif item["type"] == "error":
            errors[keccak(text=_signature(item))[:4]] = (item["name"], tuple(i["type"] for i in item["inputs"]))
        elif item["type"] == "event":
            events[item["name"]] = keccak(text=_signature(item))
    return _Abi(functions, errors, events, bytes.fromhex(artifact["bytecode"][2:]))


def _calldata(fn: str, *args: Any) -> bytes:
    f = _abi().functions[fn]
    return f.selector + abi_encode(list(f.inputs), list(args))


def _decode_output(fn: str, data: bytes) -> tuple[Any, ...]:
    return tuple(abi_decode(list(_abi().functions[fn].outputs), data))


def decode_revert(data: bytes) -> RegistryError | None:
    """A RegistryError for revert data carrying one of the registry's custom errors, else None."""
    known = _abi().errors.get(data[:4])
    if known is None:
        return None
    name, types = known
    try:
        values = tuple(abi_decode(list(types), data[4:]))
    except Exception:  # malformed revert data is "unknown", never a crash
        return None
    args = tuple("0x" + v.hex() if isinstance(v, bytes) else v for v in values)
    code = ERROR_CODES.get(name, ReasonCode.TRANSACTION_FAILED)
    return RegistryError(code, f"registry reverted with {name}", error_name=name, args=args)


def _revert_data(exc: BaseException) -> bytes | None:
    """Revert data from whatever web3 (JSON-RPC) or eth-tester (embedded) raised for a failed call.

    eth-tester re-raises its TransactionFailed with the data only in the message; the original, with the
    raw bytes, is the exception's __context__, so the whole chain is searched.
    """
    candidates: list[Any] = []
    seen: BaseException | None = exc
    for _ in range(4):
        if seen is None:
            break
        candidates.append(getattr(seen, "data", None))
        message = getattr(seen, "rpc_response", None)
        if isinstance(message, dict) and isinstance(message.get("error"), dict):
            candidates.append(message["error"].get("data"))
        candidates.extend(seen.args)
        seen = seen.__cause__ or seen.__context__
    for candidate in candidates:
        # geth/anvil: "0x…"; ganache 7: {"result": "0x…", "message": "revert", …}
        c = candidate.get("data", candidate.get("result")) if isinstance(candidate, dict) else candidate
        if isinstance(c, bytes | bytearray | HexBytes) and len(c) >= 4:
            return bytes(c)
        if isinstance(c, str) and c.startswith("0x") and len(c) >= 10:
            try:
                return bytes.fromhex(c[2:])
            except ValueError:
                continue
    return None


def _raise_for_call_error(exc: BaseException) -> None:
    if isinstance(exc, _TRANSPORT_ERRORS):
        raise ChainError(ReasonCode.CHAIN_UNREACHABLE, "node did not answer") from exc
    data = _revert_data(exc)
    if data is not None:
        decoded = decode_revert(data)
        if decoded is not None:
            raise decoded from exc
    text = str(exc).lower()
    if "insufficient funds" in text:
        raise ChainError(ReasonCode.INSUFFICIENT_FUNDS, "account cannot pay for gas") from exc
    raise ChainError(ReasonCode.TRANSACTION_FAILED, "the node rejected the call") from exc
