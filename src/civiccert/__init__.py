"""civiccert: tamper-proof 住民票の写し and 印鑑登録証明書 for municipalities, verifiable by anyone.

Public API only; modules not re-exported here are internal. ``import civiccert`` loads only the exception
tree: every other public name is imported on first use (PEP 562), so an offline verifier never loads the
chain client (web3) or the PDF writer, and the CLI starts fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from civiccert.errors import (
    ChainError,
    CivicCertError,
    ConfigError,
    CredentialError,
    JournalError,
    KeyFileError,
    PaperError,
    ReasonCode,
    RecordError,
    RegistryError,
)

if TYPE_CHECKING:  # the same names, for type checkers; at run time __getattr__ imports them
    from civiccert.chain.merkle import MerkleTree, verify_inclusion
    from civiccert.chain.nodes import AnvilNode, Chain, GanacheNode, connect, dev_account, fund_dev_account
    from civiccert.chain.registry import Registry
    from civiccert.credential_file import CredentialFile
    from civiccert.credentials.claims import VCT_RESIDENT_RECORD, VCT_SEAL_CERTIFICATE, record_claims
    from civiccert.credentials.keys import IssuerKey
    from civiccert.demo import run_demo, sample_record_path
    from civiccert.issuance.issuer import Issuer, RevocationReason
    from civiccert.pki import TestCA, TrustAnchors
    from civiccert.presentation import present
    from civiccert.records import ResidentRecord, SealCertificate, load_record
    from civiccert.verification.online import OnlineRegistry
    from civiccert.verification.result import Check, CheckName, Outcome, Verdict, VerificationResult
    from civiccert.verification.trust import TrustSnapshot
    from civiccert.verification.verifier import Policy, Verifier

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "MerkleTree": "civiccert.chain.merkle",
    "verify_inclusion": "civiccert.chain.merkle",
    "AnvilNode": "civiccert.chain.nodes",
    "Chain": "civiccert.chain.nodes",
    "GanacheNode": "civiccert.chain.nodes",
    "connect": "civiccert.chain.nodes",
    "dev_account": "civiccert.chain.nodes",
    "fund_dev_account": "civiccert.chain.nodes",
    "Registry": "civiccert.chain.registry",
    "CredentialFile": "civiccert.credential_file",
    "VCT_RESIDENT_RECORD": "civiccert.credentials.claims",
    "VCT_SEAL_CERTIFICATE": "civiccert.credentials.claims",
    "record_claims": "civiccert.credentials.claims",
    "IssuerKey": "civiccert.credentials.keys",
    "run_demo": "civiccert.demo",
    "sample_record_path": "civiccert.demo",
    "Issuer": "civiccert.issuance.issuer",
    "RevocationReason": "civiccert.issuance.issuer",
    "OnlineRegistry": "civiccert.verification.online",
    "TestCA": "civiccert.pki",
    "TrustAnchors": "civiccert.pki",
    "present": "civiccert.presentation",
    "ResidentRecord": "civiccert.records",
    "SealCertificate": "civiccert.records",
    "load_record": "civiccert.records",
    "Check": "civiccert.verification.result",
    "CheckName": "civiccert.verification.result",
    "Outcome": "civiccert.verification.result",
    "Verdict": "civiccert.verification.result",
    "VerificationResult": "civiccert.verification.result",
    "TrustSnapshot": "civiccert.verification.trust",
    "Policy": "civiccert.verification.verifier",
    "Verifier": "civiccert.verification.verifier",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'civiccert' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "VCT_RESIDENT_RECORD",
    "VCT_SEAL_CERTIFICATE",
    "AnvilNode",
    "Chain",
    "ChainError",
    "Check",
    "CheckName",
    "CivicCertError",
    "ConfigError",
    "CredentialError",
    "CredentialFile",
    "GanacheNode",
    "Issuer",
    "IssuerKey",
    "JournalError",
    "KeyFileError",
    "MerkleTree",
    "OnlineRegistry",
    "Outcome",
    "PaperError",
    "Policy",
    "ReasonCode",
    "RecordError",
    "Registry",
    "RegistryError",
    "ResidentRecord",
    "RevocationReason",
    "SealCertificate",
    "TestCA",
    "TrustAnchors",
    "TrustSnapshot",
    "Verdict",
    "VerificationResult",
    "Verifier",
    "connect",
    "dev_account",
    "fund_dev_account",
    "load_record",
    "present",
    "record_claims",
    "run_demo",
    "sample_record_path",
    "verify_inclusion",
]
