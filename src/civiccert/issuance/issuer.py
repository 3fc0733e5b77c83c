"""Issuer: what a municipal backend calls to issue, anchor, revoke and print certificates.

Issuing never waits for the chain: a credential is signed (digital SD-JWT and its compact paper twin with
the same key) and both hashes are durably journaled before ``issue`` returns. Anchoring runs in batches
(``anchor``) and resumes after a crash; receipts are attached to credential files afterwards
(``with_receipts``). Nothing personal leaves this module except in the credential file handed back.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount

from civiccert.chain.nodes import EMBEDDED, Chain, connect
from civiccert.chain.registry import MAX_KEY_BACKDATE_SECONDS, Registry
from civiccert.credential_file import CredentialFile
from civiccert.credentials import sdjwt
from civiccert.credentials.b64url import b64url_encode
from civiccert.credentials.claims import record_claims
from civiccert.credentials.keys import IssuerKey, public_key_from_jwk
from civiccert.credentials.signatures import SigningKey
from civiccert.errors import (
    ConfigError,
    CredentialError,
    JournalError,
    ReasonCode,
    RecordError,
)
from civiccert.issuance.anchoring import Anchorer, BatchOutcome, RevocationOutcome, journal_status
from civiccert.issuance.home import ChainSettings, HomeConfig
from civiccert.issuance.home_keys import create_home, load_account, load_key, rotate_signing_key, sync_retirements
from civiccert.issuance.journal import (
    CredentialKind,
    Journal,
    RevocationState,
    new_credential_id,
    new_credential_ids,
)
from civiccert.issuance.journal_url import anchoring_lease, open_journal
from civiccert.issuance.printing import print_credential
from civiccert.issuance.publish import DEFAULT_EXPORT_VALID_DAYS, signed_trust_file, trust_export
from civiccert.issuance.signed import Signed, journal_signed, signed_file
from civiccert.issuance.status_publish import publish_status_lists
from civiccert.paper import payload as paper_payload
from civiccert.pki.home import SigningIdentity, certificate_hash, signing_identity
from civiccert.records import ResidentRecord, SealCertificate
from civiccert.status.bits import Status
from civiccert.status.publish import Publication
from civiccert.status.store import StatusEntry, StatusStore, open_status_store
from civiccert.verification.trust import TrustSnapshot

__all__ = ["Issuer", "RevocationReason"]

DAY = 24 * 3600
DEFAULT_STATUS_LIST_SIZE = 1 << 20  # 1,048,576 two-bit entries: 256 KiB raw, ~100 B compressed when all valid
DEFAULT_STATUS_VALID_SECONDS = DAY  # a published list is good for a day (exp); re-publish daily at least
DEFAULT_STATUS_TTL_SECONDS = 3600  # verifiers may cache a list this long (ttl)


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
        self._protected: tuple[SigningIdentity, str] | None = None  # see _protected_header
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
        config, key, account = create_home(
            home, municipality_code=municipality_code, municipality_name=municipality_name, passphrase=passphrase,
            alg=alg, sample=sample, key_uri=key_uri, pin=pin, generate_on_token=generate_on_token, clock=clock)
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
            key = load_key(home, config, passphrase, pin)
        try:
            if key.kid != config.kid:
                raise ConfigError(ReasonCode.CONFIG_INVALID, "the signing key is not the key this home's config names")
            if config.public_jwk is None:  # a home made before public keys were kept in its config
                config = replace(config, public_jwk=key.public_jwk())
                config.save(home)
            account = load_account(home, passphrase)
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
    ) -> Signed:
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
        token, digital_hash = sdjwt.issue_hashed(claims, self.key, self._protected_header(identity),
                                                 holder_jwk=holder_jwk)
        cose: bytes | None = None
        paper_hash: bytes | None = None
        if paper:
            cose, paper_hash = paper_payload.encode_paper_hashed(
                vct, body, self.key, iss=iss, iat=now, exp=exp, nbf=now,
                include_individual_number=include_individual_number, cti=digital_hash[:8], status=status,
                cose_kid=identity.cose_kid, marked=True,
            )
        return Signed(signed_file(cred_id, vct, token, cose), digital_hash, paper_hash)

    def _journal_many(self, signed: list[Signed]) -> None:
        journal_signed(self._journal, signed)

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
        return publish_status_lists(
            self._status, self.key, out, municipality=self.config.municipality_code,
            iss=self._signing_identity().iss, current_uri=self.status_list_uri, now=int(self._clock()),
            valid_seconds=valid_seconds, ttl=ttl,
            registry=self._require_registry if anchor and self.has_chain else None)

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
        return print_credential(cred, out, home=self.home, config=self.config, key=self.key,
                                identity=self._signing_identity(), own_public_key=self._own_public_key,
                                require_signed=require_signed)

    # --- trust -------------------------------------------------------------------------------------------
    def trust_export(self, *, valid_days: int = DEFAULT_EXPORT_VALID_DAYS) -> TrustSnapshot:
        """This municipality's public keys, as it publishes them for offline verifiers (see
        :func:`civiccert.issuance.publish.trust_export`, which needs no passphrase)."""
        return trust_export(self.home, valid_days=valid_days, now=int(self._clock()))

    def signed_trust_export(self, *, valid_days: int = DEFAULT_EXPORT_VALID_DAYS) -> str:
        """The trust export as a JWS signed by this home's certified key (``x5c``: leaf + intermediates), as
        the file's text (civiccert.verification.trust_signed). ConfigError when no installed leaf certifies the
        current key."""
        return signed_trust_file(self.home, self.key, self._signing_identity().chain, valid_days=valid_days,
                                 now=int(self._clock()))

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
        self.config, new = rotate_signing_key(self.home, self.config, self.key, self._require_registry(), passphrase,
                                              now=int(self._clock()), compromised_at=compromised_at)
        self.key = new
        self.sync_keys()
        return new

    def sync_keys(self) -> None:
        """Finish key retirements recorded in the home but not yet on chain (after a crash or node outage)."""
        owed = any(not entry.get("on_chain", True) for entry in self.config.extra.get("previous_keys", []))
        if not owed or self.registry is None or self._registry is None:
            return
        self.config = sync_retirements(self.home, self.config, self._registry)

    def _signing_identity(self) -> SigningIdentity:
        """``iss``, header (``x5c`` or ``jwk``) and paper kid (civiccert.pki.home), read once per config and key."""
        cached = self._identity
        if cached is None or cached[0] is not self.config or cached[1] != self.key.kid:
            identity = signing_identity(self.home, self.config, self.key.public_key, self.key.public_jwk())
            cached = self._identity = (self.config, self.key.kid, identity)
        return cached[2]

    def _protected_header(self, identity: SigningIdentity) -> str:
        """The SD-JWT's encoded JWS header under ``identity`` (it changes with the key): made once, not per item."""
        cached = self._protected
        if cached is None or cached[0] is not identity:
            cached = self._protected = (identity, sdjwt.protected_header(self.key, header=identity.header))
        return cached[1]

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

