"""Signed trust files: a municipality's export as a JWS signed by its certified key, and the rule a verifier
with X.509 trust anchors applies to exports.

A trust file is data anyone can hand a verifier. Signed, it is a flattened JWS JSON Serialization (RFC 7515
§7.2.2: ``protected``, ``payload``, ``signature``; still one JSON file, told apart from a plain one by having
no ``format`` member) whose protected header carries ``typ`` and ``x5c`` (leaf + intermediates). Loading checks
the signature under the leaf's key (integrity only); ``check_signers`` then asks the verifier's anchors whether
that leaf is the named municipality's certificate. Registry snapshots keep their own rules (their source is
the pinned registry), so they need no signature.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cryptography import x509

from civiccert.credentials.jose import sign_compact, verify_compact
from civiccert.credentials.signatures import SUPPORTED_ALGORITHMS, PublicKey, Signer
from civiccert.credentials.strictjson import json_dumps, json_parse
from civiccert.errors import ConfigError, CredentialError, ReasonCode
from civiccert.pki.validate import decode_x5c, encode_x5c
from civiccert.records.municipalities import official_municipality

if TYPE_CHECKING:
    from civiccert.pki.validate import TrustAnchors
    from civiccert.verification.trust import TrustSnapshot

__all__ = ["TRUST_JWS_TYP", "check_signers", "is_signed", "open_signed", "sign_trust"]

TRUST_JWS_TYP = "civiccert-trust+jws"
_MEMBERS = frozenset({"protected", "payload", "signature"})


def sign_trust(document: Mapping[str, Any], signer: Signer, chain: Sequence[x509.Certificate]) -> dict[str, str]:
    """``document`` (a trust file's JSON) signed by ``signer``, whose certificate is ``chain[0]``."""
    compact = sign_compact({"typ": TRUST_JWS_TYP, "x5c": encode_x5c(chain)}, json_dumps(dict(document)), signer)
    protected, payload, signature = compact.split(".")
    return {"protected": protected, "payload": payload, "signature": signature}


def is_signed(data: Mapping[str, Any]) -> bool:
    return "format" not in data and set(data) >= _MEMBERS


def open_signed(data: Mapping[str, Any]) -> tuple[Any, tuple[str, ...]]:
    """The signed trust document and the signer's ``x5c``; TRUST_FILE_INVALID when the JWS does not verify
    under its own leaf (changed after signing) or is malformed. Says nothing yet about WHO signed."""
    if set(data) != _MEMBERS or not all(isinstance(data[m], str) for m in _MEMBERS):
        raise ConfigError(ReasonCode.TRUST_FILE_INVALID, "a signed trust file has exactly protected, payload "
                          "and signature", field="$")
    x5c: list[str] = []

    def leaf_key(header: dict[str, Any], _payload: bytes) -> PublicKey:
        x5c.extend(header.get("x5c") or [])
        return decode_x5c(header.get("x5c"))[0].public_key()  # type: ignore[return-value]

    try:
        jws = verify_compact(f"{data['protected']}.{data['payload']}.{data['signature']}",
                             algorithms=SUPPORTED_ALGORITHMS, resolve_key=leaf_key, expected_typ=TRUST_JWS_TYP)
        document = json_parse(jws.payload, field="payload")
    except CredentialError as exc:
        raise ConfigError(ReasonCode.TRUST_FILE_INVALID, "the trust file's signature does not verify",
                          field=exc.field or "signature") from exc
    return document, tuple(x5c)


def check_signers(snapshot: TrustSnapshot, anchors: TrustAnchors) -> None:
    """Refuse (ConfigError) a municipal export unless, for every municipality it names, a signature whose
    ``x5c`` validates to ``anchors`` at signing time has a leaf naming that municipality (code and official
    name). A registry snapshot passes: its source is the pinned registry, checked as before."""
    if snapshot.source == "registry":
        return
    for code, muni in sorted(snapshot.municipalities.items()):
        signatures = snapshot.signers.get(code, ())
        refusal = ConfigError(ReasonCode.TRUST_FILE_UNSIGNED, f"the trust file for municipality {code} is not "
                              "signed: a verifier with trust anchors needs its certified signature",
                              field=f"municipalities.{code}")
        official = official_municipality(code)
        name = official.name if official is not None else muni.name
        for signature in signatures:
            try:
                certified = anchors.validate(list(signature.x5c), signature.signed_at)
            except CredentialError as exc:
                refusal = ConfigError(exc.code, f"the trust file for municipality {code} is signed by a "
                                      "certificate that does not validate", field="x5c")
                continue
            if certified.revoked_at is not None and certified.compromise:
                refusal = ConfigError(ReasonCode.CERT_REVOKED, f"the trust file for municipality {code} is signed "
                                      "by a certificate revoked as compromised", field="x5c")
                continue
            if certified.municipality.code != code or certified.municipality.name != name:
                refusal = ConfigError(ReasonCode.TRUST_FILE_SIGNER_MISMATCH, f"the trust file for municipality "
                                      f"{code} is signed by another municipality's certificate", field="x5c")
                continue
            break
        else:
            raise refusal
