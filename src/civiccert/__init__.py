"""civiccert: tamper-proof 住民票の写し and 印鑑登録証明書 for municipalities, verifiable by anyone.

Public API only; modules not re-exported here are internal. ``import civiccert`` loads no CLI libraries.
"""

from civiccert.chain.merkle import MerkleTree, verify_inclusion
from civiccert.chain.nodes import AnvilNode, Chain, GanacheNode, connect, dev_account, fund_dev_account
from civiccert.chain.registry import Registry
from civiccert.credential_file import CredentialFile
from civiccert.credentials.claims import VCT_RESIDENT_RECORD, VCT_SEAL_CERTIFICATE, record_claims
from civiccert.credentials.keys import IssuerKey
from civiccert.demo import run_demo, sample_record_path
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
from civiccert.issuer import Issuer, RevocationReason
from civiccert.online import OnlineRegistry
from civiccert.pki import TestCA, TrustAnchors
from civiccert.presentation import present
from civiccert.records import ResidentRecord, SealCertificate, load_record
from civiccert.result import Check, CheckName, Outcome, Verdict, VerificationResult
from civiccert.trust import TrustSnapshot
from civiccert.verifier import Policy, Verifier

__version__ = "0.1.0"

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
