"""Issuer: what a municipal backend calls to issue, anchor, revoke and print certificates.

Issuing never waits for the chain: a credential is signed (digital SD-JWT and its compact paper twin with
the same key) and both hashes are durably journaled before ``issue`` returns. Anchoring runs in batches
(``anchor``) and resumes after a crash; receipts are attached to credential files afterwards
(``with_receipts``). Nothing personal leaves this module except in the credential file handed back.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount

from civiccert.chain.nodes import EMBEDDED, Chain, connect
from civiccert.chain.registry import MAX_KEY_BACKDATE_SECONDS, Registry
from civiccert.credential_file import CredentialFile
from civiccert.credentials import sdjwt
from civiccert.credentials.claims import record_claims
from civiccert.credentials.jose import SigningKey, b64url_encode
from civiccert.credentials.keys import IssuerKey, public_key_from_jwk, thumbprint_of
from civiccert.errors import (
    ChainError,
    ConfigError,
    CredentialError,
    JournalError,
    ReasonCode,
    RecordError,
    RegistryError,
)
from civiccert.fileio import write_atomic
from civiccert.issuance.anchoring import Anchorer, BatchOutcome, RevocationOutcome, journal_status
from civiccert.issuance.home import ChainSettings, HomeConfig
from civiccert.issuance.journal import (
    CredentialEntry,
    CredentialKind,
    Journal,
    RevocationState,
    new_credential_id,
    new_credential_ids,
)
from civiccert.issuance.journal_url import anchoring_lease, open_journal
from civiccert.issuance.publish import DEFAULT_EXPORT_VALID_DAYS, trust_export
from civiccert.paper import payload as paper_payload
from civiccert.pki.decide import CERT_KID_CHARS
from civiccert.pki.home import SigningIdentity, certificate_hash, signing_identity
from civiccert.pki.validate import cert_kid
from civiccert.records import ResidentRecord, SealCertificate
from civiccert.status.bits import Status
from civiccert.status.publish import MANIFEST_NAME, Publication, sign_publication
from civiccert.status.store import StatusEntry, StatusStore, open_status_store
from civiccert.verification.trust import TrustSnapshot

__all__ = ["Issuer", "RevocationReason"]

DAY = 24 * 3600
DEFAULT_STATUS_LIST_SIZE = 1 << 20  # 1,048,576 two-bit entries: 256 KiB raw, ~100 B compressed when all valid
DEFAULT_STATUS_VALID_SECONDS = DAY  # a published list is good for a day (exp); re-publish daily at least
DEFAULT_STATUS_TTL_SECONDS = 3600  # verifiers may cache a list this long (ttl)
_KEYSTORE_ITERATIONS = 2**15


class RevocationReason:
    """Reason codes stored on chain with a revocation (uint8; 0 means "not revoked")."""

    UNSPECIFIED = 1
    SUPERSEDED = 2  # a corrected copy was issued
    ISSUED_IN_ERROR = 3
    KEY_COMPROMISE = 4
    HOLDER_REQUEST = 5

    NAMES: Mapping[str, int] = {
        "unspecified": UNSPECIFIED, "superseded": SUPERSEDED, "issued_in_error": ISSUED_IN_ERROR,
        "key_compromise": KEY_COMPROMISE, "holder_request": HOLDER_REQUEST,
    }


@dataclass(frozen=True)
class _Signed:
    """One record signed in both forms, not yet journaled."""

    file: CredentialFile
    digital_hash: bytes
    paper_hash: bytes | None


class Issuer:
    """A municipality's issuing service, bound to an issuer home (key, journal, chain settings)."""

    def __init__(
        self,
        home: Path,
        config: HomeConfig,
        key: SigningKey,
        *,
        chain: Chain | None = None,
        account: LocalAccount | None = None,
        clock: Callable[[], float] = time.time,
        journal: Journal | None = None,
    ) -> None:
        self.home = home
        self.config = config
        self.key: SigningKey = key
        self._clock = clock
        # the home's SQLite file unless the config (or the caller) names a database shared by several servers
        self._journal = journal if journal is not None else open_journal(
            config.journal_url or HomeConfig.journal_path(home))
        self._status = open_status_store(self._journal, HomeConfig.journal_path(home), list_size=int(
            config.extra.get("status_list_size", DEFAULT_STATUS_LIST_SIZE)))
        self._chain = chain
        self._account = account
        self._registry: Registry | None = None
        self._anchorer: Anchorer | None = None
        # a configured node is connected to on first use, so issuing and status never need it
        self._unconnected: ChainSettings | None = None
        self._identity: tuple[HomeConfig, str, SigningIdentity] | None = None  # see _signing_identity
        if chain is not None and config.chain is not None:
            self._attach(chain, config.chain)
        elif config.chain is not None and config.chain.url != EMBEDDED:
            self._unconnected = config.chain

    # --- creating and opening a home -------------------------------------------------------------------
    @classmethod
    def init(
        cls,
        home: Path,
        *,
        municipality_code: str,
        municipality_name: str,
        passphrase: bytes,
        alg: str = "ES256",
        sample: bool = True,
        key_uri: str | None = None,
        pin: bytes | None = None,
        generate_on_token: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> Issuer:
        """Create an issuer home: a new signing key and chain account, both encrypted with ``passphrase``.

        With ``key_uri`` (a PKCS#11 URI) the home signs with that key on a token instead, generated there
        when ``generate_on_token``; the config records the URI, never the PIN.
        """
        from civiccert.records.municipalities import check_official_municipality

        if HomeConfig.exists(home):
            raise ConfigError(ReasonCode.HOME_EXISTS, "issuer home already initialised")
        code = check_official_municipality(municipality_code, municipality_name).code
        key: SigningKey
        if key_uri is None:
            key = IssuerKey.generate(alg)
        else:
            from civiccert.credentials import pkcs11

            if alg != "ES256":
                raise ConfigError(ReasonCode.ALGORITHM_UNSUPPORTED, "keys on a token are ES256 only", field="alg")
            key = (pkcs11.generate_key if generate_on_token else pkcs11.Pkcs11Signer.open)(key_uri, pin)
            key_uri = str(key.uri)  # with the key's id once generated: an unambiguous reference
        home.mkdir(parents=True, exist_ok=True)
        (home / "keys").mkdir(mode=0o700, exist_ok=True)
        config = HomeConfig(municipality_code=code, municipality_name=municipality_name, kid=key.kid, alg=alg,
                            sample=sample, public_jwk=key.public_jwk(), key_created_at=int(clock()),
                            key_uri=key_uri)
        if isinstance(key, IssuerKey):
            key.save(config.key_path(home), passphrase)
        account: LocalAccount = Account.create()
        keystore = Account.encrypt(account.key, passphrase.decode("utf-8"), iterations=_KEYSTORE_ITERATIONS)
        write_atomic(HomeConfig.account_path(home), json.dumps(keystore).encode("utf-8"), overwrite=False)
        config.save(home)
        return cls(home, config, key, account=account, clock=clock)

    @classmethod
    def open(
        cls,
        home: Path,
        *,
        passphrase: bytes | None,
        chain: Chain | None = None,
        pin: bytes | None = None,
        key: SigningKey | None = None,
        clock: Callable[[], float] = time.time,
        journal_url: str | None = None,
    ) -> Issuer:
        """Open an existing home. Its configured chain (unless ``chain`` is given) is connected to only when
        something needs it (anchoring, receipts, revocation, key rotation): issuing works with the node down.

        The signing key is ``key`` when given (any ``SigningKey``, e.g. a KMS client), else the token key the
        config's ``key_uri`` names (logged in with ``pin``, default ``$CIVICCERT_PKCS11_PIN``), else the key
        file (decrypted with ``passphrase``); either way it must be the key the config names. ``journal_url``
        (e.g. ``postgresql://…``) overrides the home's journal (``journal_url`` in its config, else SQLite)."""
        config = HomeConfig.load(home)
        loaded = key is None
        if key is None:
            key = _load_key(home, config, passphrase, pin)
        try:
            if key.kid != config.kid:
                raise ConfigError(ReasonCode.CONFIG_INVALID, "the signing key is not the key this home's config names")
            if config.public_jwk is None:  # a home made before public keys were kept in its config
                config = replace(config, public_jwk=key.public_jwk())
                config.save(home)
            account = _load_account(home, passphrase)
            journal = open_journal(journal_url) if journal_url is not None else None
            return cls(home, config, key, chain=chain, account=account, clock=clock, journal=journal)
        except BaseException:
            close_key = getattr(key, "close", None)  # a token session we opened must not outlive the failure
            if loaded and callable(close_key):
                close_key()
            raise

    # --- chain -----------------------------------------------------------------------------------------
    @property
    def registry(self) -> Registry | None:
        """The registry client; connects to the configured node on first use (ChainError if it is down)."""
        self._connect_configured()
        return self._registry

    @property
    def has_chain(self) -> bool:
        """Whether this home anchors somewhere (without contacting the node)."""
        return self.config.chain is not None

    def _connect_configured(self) -> None:
        settings = self._unconnected
        if settings is not None:
            chain = connect(settings.url, expected_chain_id=settings.chain_id)
            self._unconnected = None
            self._chain = chain
            self._attach(chain, settings)

    @property
    def account(self) -> LocalAccount | None:
        return self._account

    def use_chain(self, chain: Chain, registry_address: str, *, confirmations: int = 0) -> None:
        """Record ``chain`` + registry in the home and anchor there from now on."""
        settings = ChainSettings(url=chain.url, chain_id=chain.chain_id, registry=registry_address,
                                 confirmations=confirmations)
        self.config = self.config.with_chain(settings)
        self.config.save(self.home)
        self._chain = chain
        self._unconnected = None
        self._attach(chain, settings)

    def register_on_chain(self, admin_registry: Registry, *, valid_from: int | None = None) -> None:
        """Admin registers this municipality with our account as operator; we register our signing key.

        The key is registered as valid from when this home began signing with it (``key_created_at``), so
        issuing before going on chain is fine: the contract accepts a start up to 400 days back, so credentials
        issued before the registration verify against a registry snapshot too."""
        from civiccert.records.municipalities import check_official_municipality

        if self._account is None or self.registry is None or self._registry is None:
            raise ConfigError(ReasonCode.CONFIG_INVALID, "issuer home has no chain configured")
        check_official_municipality(self.config.municipality_code, self.config.municipality_name)
        if admin_registry.municipality(int(self.config.municipality_code)) is None:
            admin_registry.register_municipality(int(self.config.municipality_code), self._account.address)
        self.register_key(valid_from=valid_from)

    def register_key(self, *, valid_from: int | None = None) -> bool:
        """Register our signing key in our municipality's namespace; False when it is registered already.

        Needs the municipality registered by the registry's admin with our account as an operator
        (RegistryError(UNAUTHORIZED) otherwise) and gas on that account. ``valid_from`` defaults to when
        this home began signing with the key (``key_created_at``), else a minute ago (clock skew).
        """
        registry = self._require_registry()
        code = int(self.config.municipality_code)
        cert = certificate_hash(self.home, self.config, self.key.public_key)  # recorded with the key (docs/trust.md)
        if registry.key(code, self.key.thumbprint) is not None:
            if cert is not None and registry.certificate_key(code, cert) is None:
                registry.record_certificate(self.key.thumbprint, cert)  # a leaf installed after registration
            return False
        created = self.config.key_created_at
        start = valid_from if valid_from is not None else created if created else int(self._clock()) - 60
        start = max(start, int(self._clock()) - MAX_KEY_BACKDATE_SECONDS + 3600)  # the contract's bound, with margin
        registry.register_key(self.key.thumbprint, start, public_jwk=self.key.public_jwk(), cert_hash=cert)
        return True

    def check_anchors(self) -> list[BatchOutcome]:
        """Re-check EVERY batch the journal holds as anchored against the chain, sending nothing.

        For a node that lost blocks it had mined (a local anvil killed before its state dump): a batch
        whose anchor is gone goes back to ``sent``, and the next :meth:`anchor` re-broadcasts its journaled
        transaction. Returns the batches that changed (``error`` set when the node could not be asked).
        """
        return self._require_anchorer().reconcile(window_blocks=sys.maxsize, resend=False)

    def _attach(self, chain: Chain, settings: ChainSettings) -> None:
        if self._account is None:
            raise ConfigError(ReasonCode.CONFIG_INVALID, "no chain account in this issuer home")
        self._registry = Registry(chain, settings.registry, account=self._account)
        self._anchorer = Anchorer(self._journal, self._registry, max_batch=self.config.max_batch,
                                  max_paper_batch=self.config.max_paper_batch,
                                  max_age_seconds=self.config.max_batch_age_seconds,
                                  confirmations=settings.confirmations, clock=self._clock)

    # --- issuing ---------------------------------------------------------------------------------------
    def issue(
        self,
        record: ResidentRecord | SealCertificate,
        *,
        holder_jwk: Mapping[str, str] | None = None,
        paper: bool = True,
        include_individual_number_on_paper: bool = False,
    ) -> CredentialFile:
        """Sign ``record`` as an SD-JWT VC (and its paper twin) and journal both hashes durably."""
        signed = self._sign(record, holder_jwk, paper, include_individual_number_on_paper)
        self._journal_many([signed])
        return signed.file

    def issue_many(
        self, records: Iterable[ResidentRecord | SealCertificate], *, paper: bool = True, chunk: int = 1000
    ) -> Iterator[CredentialFile]:
        """Stream a day's batch: signs and journals in chunks (one durable commit per chunk for the status
        indexes, one for the journal)."""
        pending: list[ResidentRecord | SealCertificate] = []
        for record in records:
            pending.append(record)
            if len(pending) >= chunk:
                yield from self._issue_chunk(pending, paper)
                pending = []
        if pending:
            yield from self._issue_chunk(pending, paper)

    def _issue_chunk(self, records: list[ResidentRecord | SealCertificate], paper: bool) -> list[CredentialFile]:
        now = int(self._clock())
        ids = new_credential_ids(len(records))
        entries = self._status.allocate_many(ids, self.status_list_uri, at=now)
        signed = [self._sign(record, None, paper, False, allocated=(cred_id, entry, now))
                  for record, cred_id, entry in zip(records, ids, entries, strict=True)]
        self._journal_many(signed)
        return [s.file for s in signed]

    def _sign(
        self,
        record: ResidentRecord | SealCertificate,
        holder_jwk: Mapping[str, str] | None,
        paper: bool,
        include_individual_number: bool,
        *,
        allocated: tuple[str, StatusEntry, int] | None = None,
    ) -> _Signed:
        """One credential; ``allocated`` is its (id, status entry, clock) when allocated with its chunk."""
        if (record.municipality.code, record.municipality.name) != (self.config.municipality_code,
                                                                    self.config.municipality_name):
            raise RecordError(ReasonCode.FIELD_INVALID, "the record certifies another municipality than this issuer",
                              field="municipality")
        vct, body = record_claims(record)
        if allocated is None:
            now = int(self._clock())
            cred_id = new_credential_id()
            entry = self._status.allocate(cred_id, self.status_list_uri, at=now)
        else:
            cred_id, entry, now = allocated
        exp = now + self.config.validity_days * DAY
        identity = self._signing_identity()
        iss = identity.iss
        status = {"status_list": {"idx": entry.idx, "uri": entry.uri}}
        claims: dict[Any, Any] = {"iss": iss, "iat": now, "nbf": now, "exp": exp, "vct": vct, **body,
                                  "status": status}
        token = sdjwt.issue(claims, self.key, holder_jwk=holder_jwk, header=identity.header)
        digital_hash = sdjwt.credential_hash(token)
        cose: bytes | None = None
        paper_hash: bytes | None = None
        if paper:
            cose, paper_hash = paper_payload.encode_paper_hashed(
                vct, body, self.key, iss=iss, iat=now, exp=exp, nbf=now,
                include_individual_number=include_individual_number, cti=digital_hash[:8], status=status,
                cose_kid=identity.cose_kid, marked=True,
            )
        return _Signed(CredentialFile(id=cred_id, vct=vct, sd_jwt=token, paper_cose=cose), digital_hash, paper_hash)

    def _journal_many(self, signed: list[_Signed]) -> None:
        entries: list[CredentialEntry] = []
        paper_ids = iter(new_credential_ids(sum(item.paper_hash is not None for item in signed)))
        for item in signed:
            paper_id = next(paper_ids) if item.paper_hash is not None else None
            entries.append(CredentialEntry(item.file.id, item.digital_hash, CredentialKind.DIGITAL, paper_id))
            if item.paper_hash is not None and paper_id is not None:
                entries.append(CredentialEntry(paper_id, item.paper_hash, CredentialKind.PAPER, item.file.id))
        self._journal.add_credentials(entries)

    # --- anchoring, receipts, revocation -----------------------------------------------------------------
    def anchor(self, *, force: bool = True, progress: Callable[[int, int], None] | None = None) -> list[Any]:
        """Anchor what is pending (``force``: now, not only when the batch is full or old enough).

        Only one process anchors through a journal at a time (see
        :func:`~civiccert.issuance.journal_url.anchoring_lease`);
        when another one holds the lease this returns ``[]`` at once, and that one anchors what is pending.
        """
        anchorer = self._require_anchorer()
        with anchoring_lease(self._journal) as held:
            if not held:
                return []
            self.sync_keys()
            # first, an anchor the chain lost (a reorg, or a node restarted from older state) is sent again with
            # its journaled nonce: transactions signed since hold later nonces and wait for it to be mined
            anchorer.reconcile()
            anchorer.resume()
            return anchorer.flush(force=force, progress=progress)

    @property
    def journal(self) -> Journal:
        """The journal this issuer writes to (read-only uses: status, metrics, the service's audit log)."""
        return self._journal

    def with_receipts(self, cred: CredentialFile) -> CredentialFile:
        """The same credential file with its anchoring receipts, if its batch is anchored by now."""
        anchorer = self._require_anchorer()
        receipt = anchorer.receipt(cred.id)
        twin = self._journal.credential(cred.id).twin_id
        paper_receipt = anchorer.receipt(twin) if twin and cred.paper_cose else None
        return cred.with_receipts(receipt, paper_receipt)

    def revoke(self, cred: CredentialFile | str, reason: int = RevocationReason.UNSPECIFIED) -> RevocationOutcome:
        """Revoke a credential and its paper twin on chain (journaled first, resumable).

        A credential file is matched by its signed content, never by its unsigned ``id`` field alone, so a
        file carrying somebody else's id cannot make the city revoke somebody else's credential. The outcome
        says whether the revocation is on chain (``state`` confirmed) or journaled for a retry (``error``).
        """
        if not 1 <= reason <= 255:
            raise ValueError("revocation reason must be 1..255 (see RevocationReason)")
        listed = self._revoke_listed(cred)
        if not self.has_chain:  # the status list alone: public at the next publication
            return RevocationOutcome(0, (listed,), RevocationState.CONFIRMED, None)
        anchorer = self._require_anchorer()
        if isinstance(cred, CredentialFile):
            journaled = self._journal.credential(cred.id)
            if journaled.credential_hash != sdjwt.credential_hash(cred.sd_jwt):
                raise JournalError(ReasonCode.CREDENTIAL_UNKNOWN, "this file's content was not issued under its id")
            cred_id = cred.id
        else:
            cred_id = cred
        outcome = anchorer.revoke([cred_id], reason)
        if outcome is not None:
            return outcome
        anchorer.resume()  # requested before: retry it now, then report where it stands
        for record in self._journal.revocations(RevocationState.REQUESTED, RevocationState.SENT):
            if cred_id in record.credential_ids:
                return RevocationOutcome(record.revocation_id, record.credential_ids, record.state, None,
                                         error=record.last_error, next_attempt_at=record.next_attempt_at)
        return RevocationOutcome(0, (cred_id,), RevocationState.CONFIRMED, None)

    # --- status lists (draft-ietf-oauth-status-list) -------------------------------------------------------
    @property
    def status_list_uri(self) -> str:
        """Where this home's current status list is served (config ``extra.status_list_uri``)."""
        uri = self.config.extra.get("status_list_uri")
        return str(uri) if uri else f"https://status.civiccert.example/{self.config.municipality_code}/1"

    @property
    def status_store(self) -> StatusStore:
        """The status entries and publications (in the journal's database; the service reads files from it)."""
        return self._status

    def credential_status(self, cred: CredentialFile | str) -> StatusEntry:
        """A credential's entry (list uri, index, status) as the next publication will show it."""
        return self._status.entry(self._status_id(cred))

    def suspend(self, cred: CredentialFile | str) -> StatusEntry:
        """Mark VALID → SUSPENDED in the status list (durable now, public at the next publication)."""
        return self._status.set_status(self._status_id(cred), Status.SUSPENDED, allowed_from=(Status.VALID,))

    def reinstate(self, cred: CredentialFile | str) -> StatusEntry:
        """SUSPENDED → VALID. A revoked or superseded credential is never reinstated."""
        return self._status.set_status(self._status_id(cred), Status.VALID, allowed_from=(Status.SUSPENDED,))

    def supersede(self, cred: CredentialFile | str) -> StatusEntry:
        """VALID/SUSPENDED → SUPERSEDED: the record changed (moved, corrected) and a newer copy exists."""
        return self._status.set_status(self._status_id(cred), Status.SUPERSEDED,
                                       allowed_from=(Status.VALID, Status.SUSPENDED))

    def revoke_in_list(self, cred: CredentialFile | str) -> StatusEntry:
        """Any status → INVALID in the status list (final). :meth:`revoke` does this and, with a chain, the
        per-credential on-chain revocation (the fast path online verifiers see before the next publication)."""
        return self._status.set_status(self._status_id(cred), Status.INVALID,
                                       allowed_from=(Status.VALID, Status.SUSPENDED, Status.SUPERSEDED))

    def _status_id(self, cred: CredentialFile | str) -> str:
        """The digital credential id a status entry is kept under (a file is matched by its signed content;
        a paper twin's id maps to its digital twin)."""
        if isinstance(cred, CredentialFile):
            journaled = self._journal.credential(cred.id)
            if journaled.credential_hash != sdjwt.credential_hash(cred.sd_jwt):
                raise JournalError(ReasonCode.CREDENTIAL_UNKNOWN, "this file's content was not issued under its id")
            return cred.id
        record = self._journal.credential(cred)
        if record.kind is CredentialKind.PAPER and record.twin_id is not None:
            return record.twin_id
        return cred

    def publish_status(
        self,
        out: Path | None,
        *,
        valid_seconds: int = DEFAULT_STATUS_VALID_SECONDS,
        ttl: int = DEFAULT_STATUS_TTL_SECONDS,
        anchor: bool = True,
    ) -> tuple[Publication, ReasonCode | None]:
        """Sign every status list (JWT and CWT) and the manifest into ``out``; with a chain, anchor the manifest's
        hash in one transaction. Returns the publication and the chain error code if anchoring failed (the
        files are written and journaled first; the next publication anchors again). The files are also kept in
        the journal's database (what ``civiccert serve`` serves); ``out`` None writes no directory."""
        now = int(self._clock())
        uris = sorted({*self._status.uris(), self.status_list_uri})
        lists = [(uri, self._status.build(uri)) for uri in uris]
        publication = sign_publication(lists, self.key, municipality=self.config.municipality_code,
                                       iss=self._signing_identity().iss, seq=self._status.next_seq(),
                                       now=now, valid_seconds=valid_seconds, ttl=ttl)
        record = self._status.add_publication(publication.manifest, publication.root, at=now,
                                              files={**publication.files, MANIFEST_NAME: publication.manifest})
        if out is not None:
            publication.write(out)
        if not (anchor and self.has_chain):
            return publication, None
        try:
            outcome = self._require_registry().publish_status_lists(publication.root)
        except ChainError as exc:
            self._status.mark_publication(record.seq, error=exc.code)
            return publication, exc.code
        self._status.mark_publication(record.seq, tx_hash=bytes.fromhex(outcome.tx_hash.removeprefix("0x")),
                                      block_number=outcome.block_number)
        return publication, None

    def _revoke_listed(self, cred: CredentialFile | str) -> str:
        """Set INVALID in the status list (durably, before anything is sent); credentials issued before status
        lists existed have no entry and are revoked on chain only."""
        try:
            return self.revoke_in_list(cred).credential_id
        except JournalError as exc:
            if exc.code is not ReasonCode.CREDENTIAL_UNKNOWN or not self.has_chain:
                raise
            return cred.id if isinstance(cred, CredentialFile) else cred

    def status(self) -> dict[str, Any]:
        """Counts by state; with a chain, also the open batches' last error code and next retry time."""
        if self.has_chain:
            return journal_status(self._journal)  # read from the journal alone: the node may be down
        return dict(self._journal.status_counts())

    def _require_anchorer(self) -> Anchorer:
        self._connect_configured()
        if self._anchorer is None:
            raise ConfigError(ReasonCode.CONFIG_INVALID, "no chain configured for this issuer home "
                              "(civiccert chain up / chain deploy)")
        return self._anchorer

    # --- paper -------------------------------------------------------------------------------------------
    @property
    def signs_pdf(self) -> bool:
        """Whether printed copies are signed as PDFs: the home has a certificate for its current key."""
        return bool(self._signing_identity().chain)

    def print_pdf(self, cred: CredentialFile, out: Path, *, require_signed: bool = False) -> Path:
        """Render the printed copy; its QR carries the paper twin and, once anchored, its receipt.

        The page shows the full credential (the seal impression included); the QR carries the compact
        signed form, which binds the seal image by its SHA-256. With a certificate for the home's key the
        PDF is also signed (PAdES B-B, :mod:`civiccert.paper.pdfsig`) by the certificate the QR names;
        without one it is written unsigned, or refused (PDF_SIGNING_UNAVAILABLE) when ``require_signed``.
        """
        from civiccert.paper.pdf import render_pdf_bytes

        if cred.paper_cose is None:
            raise ConfigError(ReasonCode.CONFIG_INVALID, "credential was issued without a paper form")
        verified = sdjwt.verify(cred.sd_jwt, resolve_key=lambda header, _p: self._own_public_key(header.get("kid")),
                                algorithms=("ES256", "EdDSA"), check_validity=False)
        claims = {k: v for k, v in verified.claims.items() if k not in sdjwt.NEVER_DISCLOSABLE}
        try:
            text = paper_payload.qr_text(cred.paper_cose, cred.paper_receipt)
        except (KeyError, TypeError, ValueError) as exc:  # a hand-edited credential file: bad input, not a bug
            raise CredentialError(ReasonCode.MALFORMED, "the anchoring receipt is missing a field or has a bad "
                                  "value", field="paper_receipt") from exc
        paper = paper_payload.decode_qr_text(text)
        # the page prints the digital form; its QR must be that form's own twin, signed by us
        if paper.cti != sdjwt.credential_hash(cred.sd_jwt)[:8] or not paper_payload.verify_paper_signature(
                paper, self._own_public_key(paper.kid)):
            raise CredentialError(ReasonCode.DISCLOSURE_MISMATCH, "the paper form is not this credential's twin")
        chain = self._signing_identity().chain
        if not chain and require_signed:
            raise ConfigError(ReasonCode.PDF_SIGNING_UNAVAILABLE, "the home has no certificate for its key: "
                             "a signed PDF cannot be made (civiccert pki issue-leaf / pki import)")
        if chain and len(paper.kid) == CERT_KID_CHARS and b64url_encode(cert_kid(chain[0])) != paper.kid:
            raise ConfigError(ReasonCode.PDF_SIGNING_UNAVAILABLE, "the QR names a certificate that is no longer "
                             "the home's: issue the credential again to print it signed", field="kid")
        from civiccert.issuance.certifier import certifier_of

        data = render_pdf_bytes(cred.vct, claims, text, sample=self.config.sample,
                                certifier=certifier_of(self.home, self.config))
        if chain:
            from civiccert.paper.pdfsig import sign_pdf

            data = sign_pdf(data, self.key, chain, location=self.config.municipality_name)
        write_atomic(out, data)
        return out

    # --- trust -------------------------------------------------------------------------------------------
    def trust_export(self, *, valid_days: int = DEFAULT_EXPORT_VALID_DAYS) -> TrustSnapshot:
        """This municipality's public keys, as it publishes them for offline verifiers (see
        :func:`civiccert.issuance.publish.trust_export`, which needs no passphrase)."""
        return trust_export(self.home, valid_days=valid_days, now=int(self._clock()))

    def signed_trust_export(self, *, valid_days: int = DEFAULT_EXPORT_VALID_DAYS) -> str:
        """The trust export as a JWS signed by this home's certified key (``x5c``: leaf + intermediates), as
        the file's text (civiccert.verification.trust_signed). ConfigError when no installed leaf certifies the
        current key."""
        import json

        from civiccert.verification.trust_signed import sign_trust

        chain = self._signing_identity().chain
        if not chain:
            raise ConfigError(ReasonCode.CONFIG_INVALID, "no certificate certifies this home's current key: "
                              "install one (pki import, or pki issue-leaf for TEST) to sign trust files",
                              field="cert_chain")
        signed = sign_trust(self.trust_export(valid_days=valid_days).to_dict(), self.key, chain)
        return json.dumps(signed, indent=2) + "\n"

    # --- key lifecycle -----------------------------------------------------------------------------------
    def rotate_key(self, passphrase: bytes, *, compromised_at: int | None = None) -> IssuerKey:
        """Replace the signing key: a new key is registered on chain and the old one is retired now, or, with
        ``compromised_at``, revoked from that time (credentials anchored before it stay valid, later ones do
        not). The old public key stays in ``trust_export`` so earlier credentials keep verifying offline.

        Crash-safe order: a compromised key is revoked on chain first (nothing changes locally if that
        fails); the new key is registered before the home signs with it; the home switches keys in one
        atomic config write (the new key lives in a new file); a retirement still owed to the chain is
        recorded there and finished by ``sync_keys`` (also run by ``anchor``).
        """
        if self.config.key_uri is not None or not isinstance(self.key, IssuerKey):
            raise ConfigError(ReasonCode.CONFIG_INVALID, "key rotation is supported for key files only: for a "
                              "key on a token, generate the new key there and set up a new home", field="key_rotation")
        registry = self._require_registry()
        old = self.key
        now = int(self._clock())
        code = self.config.municipality_code
        if compromised_at is not None:
            info = registry.key(code, old.thumbprint)
            if info is None or compromised_at < info.valid_from:
                raise ValueError("compromised_at must not precede the key's registration on chain")
            try:
                registry.revoke_key(old.thumbprint, compromised_at)
            except RegistryError as exc:
                if exc.code is not ReasonCode.KEY_REVOKED:  # revoked by an interrupted earlier attempt: fine
                    raise
        new = IssuerKey.generate(old.alg)
        registry.register_key(new.thumbprint, now, public_jwk=new.public_jwk())
        key_file = f"issuer-{new.kid}.pem"
        new.save(self.home / "keys" / key_file, passphrase)
        entry: dict[str, Any] = {"kid": old.kid, "jwk": old.public_jwk()}
        if compromised_at is None:
            entry.update(retired_at=now + 1, on_chain=False)  # its last valid second is the one it signed in
        else:
            entry.update(revoked_at=compromised_at, on_chain=True)
        previous = [*self.config.extra.get("previous_keys", []), entry]
        self.config = replace(self.config, kid=new.kid, key_file=key_file, public_jwk=new.public_jwk(),
                              key_created_at=now,
                              extra={**self.config.extra, "previous_keys": previous})
        self.config.save(self.home)  # the switch: from here the home signs with the new key
        self.key = new
        self.sync_keys()
        return new

    def sync_keys(self) -> None:
        """Finish key retirements recorded in the home but not yet on chain (after a crash or node outage)."""
        previous = self.config.extra.get("previous_keys", [])
        owed = [entry for entry in previous if not entry.get("on_chain", True)]
        if not owed or self.registry is None or self._registry is None:
            return
        for entry in owed:
            thumbprint = thumbprint_of(str(entry["kid"]))
            if thumbprint is not None:
                self._registry.retire_key(thumbprint, int(entry["retired_at"]))
            entry["on_chain"] = True
        self.config = replace(self.config, extra={**self.config.extra, "previous_keys": previous})
        self.config.save(self.home)

    def _signing_identity(self) -> SigningIdentity:
        """``iss``, header (``x5c`` or ``jwk``) and paper kid (civiccert.pki.home), read once per config and key."""
        cached = self._identity
        if cached is None or cached[0] is not self.config or cached[1] != self.key.kid:
            identity = signing_identity(self.home, self.config, self.key.public_key, self.key.public_jwk())
            cached = self._identity = (self.config, self.key.kid, identity)
        return cached[2]

    def _own_public_key(self, kid: object) -> Any:
        """This home's public key for ``kid``: the current one, or one it rotated out (earlier credentials)."""
        cose_kid = self._signing_identity().cose_kid
        if kid == self.key.kid or (cose_kid is not None and kid == b64url_encode(cose_kid)):
            return self.key.public_key
        for entry in self.config.extra.get("previous_keys", []):
            if entry["kid"] == kid:
                return public_key_from_jwk(entry["jwk"])
        raise CredentialError(ReasonCode.KEY_UNKNOWN, "not signed by this issuer home")

    def _require_registry(self) -> Registry:
        self._connect_configured()
        if self._registry is None:
            raise ConfigError(ReasonCode.CONFIG_INVALID, "no chain configured for this issuer home "
                              "(civiccert chain up / chain deploy)")
        return self._registry

    def close(self) -> None:
        self._journal.close()
        self._status.close()
        close_key = getattr(self.key, "close", None)  # a token session (Pkcs11Signer); key files hold none
        if callable(close_key):
            close_key()


def _load_key(home: Path, config: HomeConfig, passphrase: bytes | None, pin: bytes | None) -> SigningKey:
    """The home's signing key: on the token its ``key_uri`` names, else its encrypted key file."""
    if config.key_uri is None:
        return IssuerKey.load(config.key_path(home), passphrase)
    from civiccert.credentials import pkcs11

    return pkcs11.Pkcs11Signer.open(config.key_uri, pin if pin is not None else pkcs11.pin_from_env())


def _load_account(home: Path, passphrase: bytes | None) -> LocalAccount | None:
    path = HomeConfig.account_path(home)
    if not path.is_file() or passphrase is None:
        return None
    try:
        key = Account.decrypt(json.loads(path.read_text(encoding="utf-8")), passphrase.decode("utf-8"))
    except ValueError as exc:
        raise ConfigError(ReasonCode.PASSPHRASE_WRONG, "passphrase does not open the chain account") from exc
    account: LocalAccount = Account.from_key(key)
    return account
