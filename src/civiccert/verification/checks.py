"""The verifier's trust checks after the local ones: issuer and key (registry or trust snapshot, or a certificate),
anchor and on-chain revocation (one JSON-RPC batch for many inputs), and status-list revocation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from civiccert.chain.merkle import verify_inclusion
from civiccert.errors import ChainError, CredentialError, ReasonCode
from civiccert.pki.decide import certificate_decision, leaf_hash
from civiccert.records.municipalities import official_municipality
from civiccert.status.check import evaluate_status
from civiccert.status.source import StatusListSource
from civiccert.verification.draft import ANCHOR_OFFLINE, REVOCATION_OFFLINE, Draft
from civiccert.verification.keys import KeyResolution
from civiccert.verification.online import ChainStatus, RootStatus
from civiccert.verification.result import CheckName, Outcome
from civiccert.verification.trust import key_status_at

__all__ = ["TrustChecks"]


class TrustChecks(KeyResolution):
    """ISSUER, ANCHOR and REVOCATION for a batch of drafts (a base of the Verifier)."""

    _status_lists: StatusListSource | None

    def _chain_checks(self, drafts: list[Draft]) -> None:
        live = [d for d in drafts if d.credential_hash is not None and not d.failed()
                and _SIGNATURE in d.checks]
        statuses: dict[int, ChainStatus | ChainError] = {}
        if self._registry is not None and live:
            statuses = self._lookup(live)
        for i, draft in enumerate(live):
            status = statuses.get(i)
            self._anchor_check(draft, status)
            self._issuer_check(draft, status)
        for draft in drafts:
            checks = draft.checks
            if _FORMAT in checks and checks[_FORMAT].outcome is _PASSED:
                for name in _LATER:
                    if name not in checks:
                        draft.set(name, Outcome.UNKNOWN, ReasonCode.NOT_CHECKED, "not reached")

    def _lookup(self, drafts: list[Draft]) -> dict[int, ChainStatus | ChainError]:
        assert self._registry is not None
        queries = []
        for d in drafts:
            root = _receipt_root(d.receipt)
            queries.append((d.issuer_code or "", d.kid or "", root, d.credential_hash or b""))
        try:
            pinned = self._trust.chain_id if self._trust is not None else None
            if pinned is not None and self._registry.chain_id != pinned:
                raise ChainError(ReasonCode.CHAIN_ID_MISMATCH, "the node is not on the trust snapshot's chain")
            answers = self._registry.statuses(queries)
        except ChainError as exc:
            return dict.fromkeys(range(len(drafts)), exc)
        except Exception as exc:  # a misbehaving node (odd replies, HTTP errors): unknown, never a crash
            error = ChainError(ReasonCode.CHAIN_UNREACHABLE, "the node failed to answer")
            error.__cause__ = exc
            return dict.fromkeys(range(len(drafts)), error)
        return dict(enumerate(answers))

    def _anchor_check(self, draft: Draft, status: ChainStatus | ChainError | None) -> None:
        policy = self._policy
        if self._registry is None:
            draft.checks[_ANCHOR] = ANCHOR_OFFLINE
            draft.checks[_REVOCATION] = REVOCATION_OFFLINE
            if draft.receipt and self._trust is not None and self._trust.registry and not _same_registry(
                    draft.receipt, self._trust.chain_id, self._trust.registry):
                draft.set(CheckName.ANCHOR, Outcome.FAILED, ReasonCode.RECEIPT_MISMATCH,
                          "receipt names another chain or registry than the trust snapshot")
            return
        if not policy.check_anchor:
            draft.set(CheckName.ANCHOR, Outcome.SKIPPED, ReasonCode.NOT_CHECKED, "not requested")
        if isinstance(status, ChainError) or status is None:
            code = status.code if isinstance(status, ChainError) else ReasonCode.CHAIN_UNREACHABLE
            if policy.check_anchor:
                draft.set(CheckName.ANCHOR, Outcome.UNKNOWN, code)
            draft.set(CheckName.REVOCATION, Outcome.UNKNOWN, code)
            return
        # revocation needs no receipt (keyed by municipality and credential hash): always checked online
        if status.revoked:
            draft.set(CheckName.REVOCATION, Outcome.FAILED, ReasonCode.REVOKED, f"reason {status.revoked_reason}")
        else:
            draft.set(CheckName.REVOCATION, Outcome.PASSED, ReasonCode.OK)
        if policy.check_anchor:
            self._anchor_from_receipt(draft, status)

    def _anchor_from_receipt(self, draft: Draft, status: ChainStatus) -> None:
        """The receipt's proof leads from the credential to a root anchored in the issuer's namespace."""
        assert self._registry is not None
        receipt = draft.receipt
        if not receipt:
            draft.set(CheckName.ANCHOR, Outcome.UNKNOWN, ReasonCode.RECEIPT_MISSING, "no anchoring receipt yet")
            return
        if not _same_registry(receipt, self._registry.chain_id, self._registry.address):
            draft.set(CheckName.ANCHOR, Outcome.FAILED, ReasonCode.RECEIPT_MISMATCH,
                      "receipt names another chain or registry, or is malformed")
            return
        root = _receipt_root(receipt)
        try:
            proof = [bytes.fromhex(str(p).removeprefix("0x")) for p in receipt["proof"]]
            size = int(receipt["size"])
            ok = root is not None and draft.credential_hash is not None and verify_inclusion(
                draft.credential_hash, int(receipt["index"]), size, proof, root)
        except (KeyError, TypeError, ValueError, AttributeError):
            ok, size = False, -1
        if not ok or root is None:
            draft.set(CheckName.ANCHOR, Outcome.FAILED, ReasonCode.PROOF_INVALID)
            return
        root_status: RootStatus | None = status.root
        if root_status is None:  # also when only another municipality anchored it: namespaces are per issuer
            if self._confirms_receipt_tx(draft, root):
                draft.set(CheckName.ANCHOR, Outcome.UNKNOWN, ReasonCode.NODE_UNRELIABLE,
                          "the node shows the receipt's anchoring transaction but denies the anchor")
            else:
                draft.set(CheckName.ANCHOR, Outcome.FAILED, ReasonCode.NOT_ANCHORED)
            return
        if size != root_status.leaf_count:
            draft.set(CheckName.ANCHOR, Outcome.FAILED, ReasonCode.PROOF_INVALID,
                      "the proof's tree size differs from the anchored batch")
            return
        try:  # shown only when the chain confirms the receipt's claim; informational, never a failure
            tx = self._registry.confirmed_anchor_transaction(draft.issuer_code or "", root, root_status.block_number,
                                                             receipt.get("tx"))
        except Exception:  # informational: a node that cannot confirm it just leaves it out
            tx = None
        draft.anchor = {"chain_id": self._registry.chain_id, "registry": self._registry.address,
                        "root": "0x" + root.hex(), "block": root_status.block_number,
                        "anchored_at": root_status.anchored_at, "tx": tx}
        draft.set(CheckName.ANCHOR, Outcome.PASSED, ReasonCode.OK, f"block {root_status.block_number}")

    def _confirms_receipt_tx(self, draft: Draft, root: bytes) -> bool:
        """Whether the node itself shows the receipt's transaction anchoring ``root`` for the issuer, sent by
        one of its operators (then "not anchored" is the node contradicting itself, never a forged receipt:
        such a transaction anchors the root in the issuer's namespace for good)."""
        assert self._registry is not None
        assert draft.receipt is not None
        block = draft.receipt.get("block")
        if not draft.issuer_code or not isinstance(block, int) or isinstance(block, bool) or block <= 0:
            return False
        try:
            return self._registry.confirmed_anchor_transaction(draft.issuer_code, root, block,
                                                               draft.receipt.get("tx")) is not None
        except Exception:  # a node that cannot confirm it confirms nothing
            return False

    def _issuer_check(self, draft: Draft, status: ChainStatus | ChainError | None) -> None:
        if _ISSUER in draft.checks:
            return
        code, kid = draft.issuer_code, draft.kid
        if code is None or kid is None:
            draft.set(CheckName.ISSUER, Outcome.FAILED, ReasonCode.KEY_UNKNOWN)
            return
        official = official_municipality(code)  # the 総務省 list first: a trust file can say anything
        known_name = official.name if official is not None else self._trust.municipalities[code].name \
            if self._trust and code in self._trust.municipalities else ""
        if known_name:  # the name a business sees comes from a trust source, not from the credential body
            draft.issuer["name"] = known_name
        draft.issuer["name_verified"] = bool(known_name)  # else it is the name the issuer signed, unchecked
        # issuance time: the block that anchored it when known (cannot be backdated), else iat
        anchored_at = draft.anchor.get("anchored_at")
        at = int(anchored_at or draft.issued_at or 0)
        if (draft.certified or draft.cert_error) and not self._certificate_issuer(draft, status, at):
            return
        if self._anchors is not None and not (draft.certified or draft.cert_error):
            # with trust anchors, only certified keys: the registry alone (whose admin registers cities) is no root
            draft.set(CheckName.ISSUER, Outcome.FAILED, ReasonCode.CERT_REQUIRED,
                      "the verifier requires a certificate and the credential's key has none")
            return
        if isinstance(status, ChainStatus):
            key, muni, where = status.key, status.municipality, "registry"
            signature = draft.checks.get(CheckName.SIGNATURE)
            if key is None and muni is not None and (
                    (draft.form != "paper" and draft.anchor.get("block") is not None)
                    or (signature is not None and signature.code is ReasonCode.NODE_UNRELIABLE)):
                # the anchored leaf is the hash of this very JWT, kid included: the municipality anchored a
                # credential signed with this key, yet the node says the key was never registered there
                # (or the node already contradicted its own logs about this key)
                draft.set(CheckName.ISSUER, Outcome.UNKNOWN, ReasonCode.NODE_UNRELIABLE,
                          "the node denies the key of a credential anchored by its issuer")
                return
        elif self._trust is None:
            reason = status.code if isinstance(status, ChainError) else ReasonCode.KEY_UNKNOWN
            draft.set(CheckName.ISSUER, Outcome.UNKNOWN, reason, "no trust snapshot and no registry")
            return
        elif self._stale(now := int(self._clock())):  # one reading of the clock for staleness and age
            draft.set(CheckName.ISSUER, Outcome.UNKNOWN, self._stale_code(),
                      f"snapshot generated at {self._trust.generated_at}")
            return
        else:
            key, muni = self._trust.key(code, kid), self._trust.municipalities.get(code)
            where = f"trust snapshot, {self._trust.age(now)} s old"
        verdict = key_status_at(key, muni, code, at, skew=self._policy.skew_seconds, issued_at=draft.issued_at)
        if verdict in _NOT_LISTED and not isinstance(
                status, ChainStatus) and self._trust is not None and self._trust.source != "registry":
            draft.set(CheckName.ISSUER, Outcome.UNKNOWN, verdict, "not in the given trust file")
            return
        if verdict is _OK and anchored_at is None and key is not None and key.revoked_at is not None:
            # the key was compromised: a forger holding it can write any iat, only a block cannot lie
            draft.set(CheckName.ISSUER, Outcome.UNKNOWN, ReasonCode.ISSUANCE_TIME_UNVERIFIED,
                      "the key was revoked; only an anchor can prove this credential was issued before that")
            return
        self._set_issuer(draft, verdict, where)

    # --- status lists (draft-ietf-oauth-status-list) -----------------------------------------------------
    def _status_checks(self, drafts: list[Draft]) -> None:
        """The REVOCATION check from the issuer's status list, when the verifier has a source of lists. An
        on-chain revocation already found stays; otherwise the list decides (see :mod:`civiccert.status.check`)."""
        if self._status_lists is None:
            return
        batch: dict[tuple[str, str, bytes, int], tuple[Any, ReasonCode | None]] = {}  # anchoring, once per list
        for draft in drafts:
            signature = draft.checks.get(CheckName.SIGNATURE)
            current = draft.checks.get(CheckName.REVOCATION)
            if signature is None or signature.outcome is not Outcome.PASSED or draft.status_ref is None:
                continue
            if current is not None and current.outcome is Outcome.FAILED and self._policy.at is None:
                continue
            outcome, code, detail = evaluate_status(
                draft.status_ref, self._status_lists, issuer_code=draft.issuer_code or "",
                public_key=self._status_list_key, now=int(self._clock()), skew=self._policy.skew_seconds,
                registry=self._registry, at=self._policy.at, batch=batch)
            draft.set(CheckName.REVOCATION, outcome, code, detail)

    def _status_list_key(self, kid: str | None, code: str) -> Any:
        """A public key the issuer's trust sources list in ITS namespace: the list must be signed by the issuer
        itself (no later check vouches for the signer, as the ISSUER check does for a credential)."""
        if kid is None:
            return None
        jwk = self._trusted_jwk(kid, None, code, own_namespace=True)
        return None if jwk is None else self._public_key(kid, jwk)

    def _certificate_issuer(self, draft: Draft, status: ChainStatus | ChainError | None, at: int) -> bool:
        """The ISSUER check for an x5c chain (civiccert.pki.decide). True: the registry or trust file also speaks
        for this city and lists the key, so their key rules apply too; False: the check is set here."""
        if draft.certified is not None and draft.anchor.get("anchored_at") is not None and self._anchors:
            try:  # anchor time, not the iat the signer wrote
                draft.certified = self._anchors.validate(draft.x5c, at)
            except CredentialError as exc:
                draft.certified, draft.cert_error = None, exc.code
        recorded: bool | None = None  # the registry records this leaf for the key (None: source says nothing)
        leaf = leaf_hash(draft.certified.leaf) if draft.certified is not None else None
        if isinstance(status, ChainStatus):
            speaks, listed = status.municipality is not None, status.key is not None
            if listed and leaf is not None and self._registry is not None:
                try:
                    recorded = self._registry.certificate_recorded(draft.issuer_code or "", draft.kid or "", leaf)
                except Exception:  # the node could not say: unknown, never a verdict about the certificate
                    draft.set(CheckName.ISSUER, Outcome.UNKNOWN, ReasonCode.CHAIN_UNREACHABLE,
                              "the registry could not be asked for the certificate")
                    return False
        elif isinstance(status, ChainError):
            draft.set(CheckName.ISSUER, Outcome.UNKNOWN, status.code, "the registry could not be asked")
            return False
        elif self._trust is not None and draft.issuer_code in self._trust.municipalities and not self._stale():
            key = self._trust.key(draft.issuer_code or "", draft.kid or "")
            speaks, listed = True, key is not None
            if key is not None and key.certificates is not None and leaf is not None:
                recorded = "0x" + leaf.hex() in key.certificates
        else:
            speaks = listed = False
        outcome, code, detail = certificate_decision(
            draft.certified, draft.cert_error, code=draft.issuer_code, name=draft.issuer.get("name"),
            iss=draft.iss, at=at, anchored=draft.anchor.get("anchored_at") is not None,
            registry_speaks=speaks, registry_lists=listed, recorded=recorded)
        if outcome is None:
            return True
        draft.set(CheckName.ISSUER, outcome, code, detail)
        return False

    @staticmethod
    def _set_issuer(draft: Draft, verdict: ReasonCode, where: str) -> None:
        draft.set(_ISSUER, _PASSED if verdict is _OK else _FAILED, verdict, where)


# Python 3.11 reads an enum member (``CheckName.ISSUER``) through a descriptor, ~0.1 µs each: the happy path
# of a bulk run uses these
_FORMAT, _SIGNATURE, _ISSUER = CheckName.FORMAT, CheckName.SIGNATURE, CheckName.ISSUER
_ANCHOR, _REVOCATION = CheckName.ANCHOR, CheckName.REVOCATION
_LATER = (CheckName.ANCHOR, CheckName.REVOCATION, CheckName.ISSUER)  # "not reached" when format passed
_PASSED, _FAILED, _OK = Outcome.PASSED, Outcome.FAILED, ReasonCode.OK
_NOT_LISTED = (ReasonCode.ISSUER_NOT_REGISTERED, ReasonCode.KEY_UNKNOWN)


def _same_registry(receipt: Mapping[str, Any], chain_id: int | None, address: str) -> bool:
    """Whether a receipt names this chain (when known) and this registry contract."""
    try:
        return (chain_id is None or int(receipt.get("chain_id", -1)) == chain_id) and \
            str(receipt.get("registry", "")).lower() == address.lower()
    except (TypeError, ValueError, AttributeError):
        return False


def _receipt_root(receipt: Mapping[str, Any] | None) -> bytes | None:
    if not isinstance(receipt, Mapping) or "root" not in receipt:
        return None
    try:
        root = bytes.fromhex(str(receipt["root"]).removeprefix("0x"))
    except ValueError:
        return None
    return root if len(root) == 32 else None

