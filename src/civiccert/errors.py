"""One exception tree for civiccert; every error carries a stable reason code.

    CivicCertError                 base: ``code`` (ReasonCode), ``field`` (a JSON path or None)
     ├── RecordError               input record violates a rule (field + rule named, value never echoed)
     ├── KeyFileError              issuer key file unreadable, wrong passphrase / PIN, HSM token or key missing
     ├── CredentialError           an SD-JWT / KB-JWT is malformed or fails a check
     ├── PaperError                QR payload, PDF or scanned image cannot be produced or read
     ├── ChainError                node unreachable, wrong chain, transaction failed
     │    └── RegistryError        the registry contract reverted with one of its custom errors
     ├── JournalError              the issuance journal is unusable or a credential is unknown to it
     ├── ConfigError               an issuer home or a trust file is missing or invalid
     └── ServiceError              an HTTP API request is not authenticated, not allowed or not repeatable

Messages are for people and never contain personal data, salts, claim values or key material: they name
the field and the rule. Tests assert ``code``, never message text. Misuse of the API (wrong Python types
passed by a programmer) raises the usual ``TypeError``/``ValueError`` outside this tree, so that
``except CivicCertError`` never hides a bug.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "ChainError",
    "CivicCertError",
    "ConfigError",
    "CredentialError",
    "JournalError",
    "KeyFileError",
    "PaperError",
    "ReasonCode",
    "RecordError",
    "RegistryError",
    "ServiceError",
]


class ReasonCode(StrEnum):
    """Stable, documented reason codes; values never change once released (add, never rename)."""

    # --- records: input validation -------------------------------------------------------------------
    JSON_INVALID = "json_invalid"  # input is not well-formed JSON (or has duplicate keys)
    INPUT_TOO_LARGE = "input_too_large"  # input exceeds the size cap before parsing
    INPUT_NOT_FOUND = "input_not_found"  # a file named as input (record, credential, scan, trust file) does not exist
    SCHEMA_VIOLATION = "schema_violation"  # input does not match the shipped JSON Schema
    FIELD_MISSING = "field_missing"  # a required field is absent
    FIELD_INVALID = "field_invalid"  # a field has the wrong type or an unknown value
    TEXT_NOT_NFC = "text_not_nfc"  # text would change under Unicode NFC normalisation
    TEXT_CONTROL_CHAR = "text_control_char"  # text contains a control or other forbidden character
    TEXT_EMPTY = "text_empty"  # required text is empty or only whitespace
    KANA_INVALID = "kana_invalid"  # 振り仮名 is not katakana (nor the legal placeholder)
    DATE_INVALID = "date_invalid"  # a date is malformed or impossible
    DATE_ORDER = "date_order"  # dates contradict each other (e.g. moved in before birth)
    MUNICIPALITY_CODE_INVALID = "municipality_code_invalid"  # 地方公共団体コード format or check digit
    INDIVIDUAL_NUMBER_INVALID = "individual_number_invalid"  # 個人番号 format or check digit
    RESIDENT_CODE_INVALID = "resident_code_invalid"  # 住民票コード is not 11 digits
    RESIDENCE_CARD_INVALID = "residence_card_invalid"  # 在留カード番号 format
    MEMBER_SELECTION_INVALID = "member_selection_invalid"  # selected members unknown, empty or repeated
    HOUSEHOLDER_INVALID = "householder_invalid"  # 世帯主 is not consistent with the members
    ITEM_NOT_PERMITTED = "item_not_permitted"  # 住基法: item cannot be requested by this requester
    ITEM_NOT_APPLICABLE = "item_not_applicable"  # e.g. 本籍 for a foreign resident
    FOREIGN_RESIDENT_INCOMPLETE = "foreign_resident_incomplete"  # 国籍・在留資格 etc. missing
    SEAL_IMAGE_INVALID = "seal_image_invalid"  # seal impression is not a decodable PNG
    SEAL_IMAGE_SIZE = "seal_image_size"  # seal impression dimensions or byte size out of range

    # --- issuer keys -----------------------------------------------------------------------------------
    KEY_FILE_INVALID = "key_file_invalid"  # key file unreadable or not a supported private key
    PASSPHRASE_MISSING = "passphrase_missing"  # encrypted key and no passphrase available
    PASSPHRASE_WRONG = "passphrase_wrong"  # the passphrase does not decrypt the key
    ALGORITHM_UNSUPPORTED = "algorithm_unsupported"  # key or signing algorithm not supported
    HSM_UNAVAILABLE = "hsm_unavailable"  # the PKCS#11 module cannot be loaded or the token stopped answering
    HSM_TOKEN_MISSING = "hsm_token_missing"  # no token with the configured label
    HSM_PIN_WRONG = "hsm_pin_wrong"  # the token refuses the PIN (or has locked it)
    HSM_KEY_MISSING = "hsm_key_missing"  # no EC private key (and public key) with the label on the token
    HSM_KEY_EXISTS = "hsm_key_exists"  # generating would shadow a key of the same label on the token

    # --- SD-JWT / JWS layer ----------------------------------------------------------------------------
    MALFORMED = "malformed"  # structure is not a compact SD-JWT / JWS
    BASE64URL_INVALID = "base64url_invalid"  # padding or characters outside the base64url alphabet
    JSON_DUPLICATE_KEY = "json_duplicate_key"  # a JSON object repeats a member name
    TYP_INVALID = "typ_invalid"  # header typ is not the expected media type
    ALG_NOT_ALLOWED = "alg_not_allowed"  # alg outside the pinned allow-list (incl. none, HS*)
    CRIT_UNSUPPORTED = "crit_unsupported"  # header lists a critical extension we do not understand
    SIGNATURE_INVALID = "signature_invalid"  # signature does not verify under the resolved key
    KEY_UNKNOWN = "key_unknown"  # no trusted key matches kid / issuer
    SD_ALG_UNSUPPORTED = "sd_alg_unsupported"  # _sd_alg other than sha-256
    DISCLOSURE_MALFORMED = "disclosure_malformed"  # a disclosure is not a valid 2/3-element array
    DISCLOSURE_UNREFERENCED = "disclosure_unreferenced"  # a disclosure's digest appears nowhere
    DISCLOSURE_DUPLICATE = "disclosure_duplicate"  # the same disclosure is sent twice
    DIGEST_DUPLICATE = "digest_duplicate"  # a digest appears more than once in the payload
    CLAIM_NAME_RESERVED = "claim_name_reserved"  # disclosed claim named _sd or ...
    CLAIM_OVERWRITE = "claim_overwrite"  # disclosed claim already exists at that level
    DISCLOSURE_MISMATCH = "disclosure_mismatch"  # disclosed content contradicts the credential
    PAGE_MISMATCH = "page_mismatch"  # a PDF page's text is not what its QR's signed claims print
    SEAL_MISMATCH = "seal_mismatch"  # the printed seal impression is not the signed one
    PAGE_NOT_CHECKED = "page_not_checked"  # no text layer / unusable seal region: compare by eye
    HOLDER_BINDING_MISSING = "holder_binding_missing"  # policy requires a KB-JWT and none is present
    HOLDER_BINDING_FAILED = "holder_binding_failed"  # KB-JWT signature, typ, sd_hash, aud, nonce, iat
    EXPIRED = "expired"  # exp is in the past (beyond allowed skew)
    NOT_YET_VALID = "not_yet_valid"  # nbf / iat is in the future (beyond allowed skew)
    VCT_UNKNOWN = "vct_unknown"  # credential type not one of ours

    # --- chain, registry, receipts ------------------------------------------------------------------
    CHAIN_UNREACHABLE = "chain_unreachable"  # JSON-RPC node does not answer
    CHAIN_TIMEOUT = "chain_timeout"  # the node did not finish its answer within the call's total deadline
    CHAIN_RESPONSE_TOO_LARGE = "chain_response_too_large"  # the node's reply exceeds the size cap
    NODE_UNRELIABLE = "node_unreliable"  # the node's answers contradict themselves or the receipt's anchoring
    CHAIN_ID_MISMATCH = "chain_id_mismatch"  # node's chain id differs from configuration / receipt
    REGISTRY_NOT_DEPLOYED = "registry_not_deployed"  # no registry code at the configured address
    TRANSACTION_FAILED = "transaction_failed"  # a transaction was mined but reverted, or was dropped
    INSUFFICIENT_FUNDS = "insufficient_funds"  # the sending account cannot pay for gas
    UNAUTHORIZED = "unauthorized"  # the account may not perform this registry action
    ISSUER_NOT_REGISTERED = "issuer_not_registered"  # municipality unknown to the registry / snapshot
    MUNICIPALITY_SUSPENDED = "municipality_suspended"  # municipality suspended by the admin
    MUNICIPALITY_EXISTS = "municipality_exists"  # municipality already registered
    KEY_EXISTS = "key_exists"  # key thumbprint already registered
    KEY_REVOKED_BEFORE_ISSUE = "key_revoked_before_issue"  # key was revoked (compromise) before issuance
    KEY_NOT_YET_VALID = "key_not_yet_valid"  # key registered / valid only after issuance
    KEY_RETIRED = "key_retired"  # key retired before issuance
    KEY_WRONG_MUNICIPALITY = "key_wrong_municipality"  # key belongs to another municipality
    KEY_REVOKED = "key_revoked"  # key already revoked on chain (a key revocation never changes)
    OPERATOR_ASSIGNED = "operator_assigned"  # account already acts for a municipality (one per account)
    ROOT_ALREADY_ANCHORED = "root_already_anchored"  # the batch root is already on chain
    NOT_ANCHORED = "not_anchored"  # root not held by the registry
    ANCHORED_BY_OTHER = "anchored_by_other"  # root anchored by another municipality than the issuer
    PROOF_INVALID = "proof_invalid"  # inclusion proof does not lead from the leaf to the root
    RECEIPT_MISSING = "receipt_missing"  # credential carries no anchoring receipt (yet)
    RECEIPT_MISMATCH = "receipt_mismatch"  # receipt names another chain id or registry address
    REVOKED = "revoked"  # the credential was revoked by its issuer
    ISSUANCE_TIME_UNVERIFIED = "issuance_time_unverified"  # key since revoked; no anchor proves issuance before it
    ISSUER_MISMATCH = "issuer_mismatch"  # iss and the certifying municipality in the body differ
    REGISTRY_MISMATCH = "registry_mismatch"  # --registry, a trust snapshot or the node name different registries
    MUNICIPALITY_NAME_MISMATCH = "municipality_name_mismatch"  # name is not the official name for the code (総務省)

    # --- X.509 certificates (civiccert.pki) -------------------------------------------------------------
    CERT_CHAIN_INVALID = "cert_chain_invalid"  # x5c does not chain to a configured trust anchor (or is malformed)
    CERT_EXPIRED = "cert_expired"  # a certificate of the chain is outside its validity at issuance time
    CERT_REVOKED = "cert_revoked"  # a certificate of the chain was revoked (CRL) before issuance
    CERT_WRONG_MUNICIPALITY = "cert_wrong_municipality"  # the leaf certifies another municipality or issuer URL
    CERT_KEY_USAGE = "cert_key_usage"  # the leaf is a CA or its key usage does not permit signing
    CERT_REGISTRY_CONFLICT = "cert_registry_conflict"  # registry / trust file does not list the x5c key for the city
    CERT_NOT_RECORDED = "cert_not_recorded"  # the registry does not record the x5c leaf's SHA-256 for the city's key
    CERT_REQUIRED = "cert_required"  # the verifier has trust anchors and the credential's key carries no certificate
    CERT_ALREADY_RECORDED = "cert_already_recorded"  # the certificate is already recorded in this namespace
    CRL_INVALID = "crl_invalid"  # a CRL is unreadable, not signed by its issuer or past its nextUpdate
    CRL_UNAVAILABLE = "crl_unavailable"  # a CRL URL could not be fetched (down, refused: not https/public, too big)

    # --- journal ------------------------------------------------------------------------------------
    JOURNAL_UNAVAILABLE = "journal_unavailable"  # the journal database cannot be opened or written
    CREDENTIAL_UNKNOWN = "credential_unknown"  # no journaled credential with this id / leaf
    JOURNAL_CONFLICT = "journal_conflict"  # another worker changed this journal entry first (or a duplicate)

    # --- status lists (draft-ietf-oauth-status-list) -----------------------------------------------------
    SUSPENDED = "suspended"  # the credential is suspended by its issuer (may be reinstated)
    SUPERSEDED = "superseded"  # the issuer replaced the credential (record changed); a newer copy exists
    STATUS_LIST_UNAVAILABLE = "status_list_unavailable"  # no status list for the credential's uri (or fetch failed)
    STATUS_LIST_EXPIRED = "status_list_expired"  # the status list token is past its exp
    STATUS_LIST_SUB_MISMATCH = "status_list_sub_mismatch"  # the list's sub is not the uri the credential names
    STATUS_INDEX_OUT_OF_RANGE = "status_index_out_of_range"  # the credential's idx is beyond the list's end
    STATUS_LIST_UNANCHORED = "status_list_unanchored"  # the list's hash was never anchored (forked or forged)
    STATUS_LIST_ROLLED_BACK = "status_list_rolled_back"  # anchored once, but a later publication replaced it
    STATUS_FETCH_REFUSED = "status_fetch_refused"  # the list uri breaks the fetch rules (scheme, host, size)

    # --- paper --------------------------------------------------------------------------------------
    QR_NOT_FOUND = "qr_not_found"  # no readable QR code in the image / PDF
    QR_PAYLOAD_INVALID = "qr_payload_invalid"  # QR text is not a civiccert payload or is corrupt
    PAYLOAD_VERSION_UNSUPPORTED = "payload_version_unsupported"  # unknown QR prefix version
    PAYLOAD_TOO_LARGE = "payload_too_large"  # signed paper form does not fit the QR budget
    IMAGE_UNREADABLE = "image_unreadable"  # image file cannot be decoded
    PDF_UNREADABLE = "pdf_unreadable"  # PDF cannot be opened or rasterised
    FONT_MISSING = "font_missing"  # the embedded Japanese font is not available
    PDF_SIGNATURE_INVALID = "pdf_signature_invalid"  # the PDF's signature does not verify: signed bytes changed
    PDF_MODIFIED_AFTER_SIGNING = "pdf_modified_after_signing"  # an update after the signed revision changes the PDF
    PDF_SIGNER_NOT_ISSUER = "pdf_signer_not_issuer"  # the PDF is signed, but not with the QR's certificate / key
    PDF_UNSIGNED = "pdf_unsigned"  # a certified issuer's born-digital PDF copy carries no PDF signature
    PDF_SIGNING_UNAVAILABLE = "pdf_signing_unavailable"  # a signed PDF was required and the home has no certificate

    # --- verifier / trust / configuration -----------------------------------------------------------
    TRUST_SNAPSHOT_STALE = "trust_snapshot_stale"  # offline trust file older than the allowed age
    TRUST_FILE_INVALID = "trust_file_invalid"  # trust file unreadable or malformed
    TRUST_CONFLICT = "trust_conflict"  # trust files disagree about a municipality's keys or name
    TRUST_SNAPSHOT_FUTURE = "trust_snapshot_future"  # trust file dated after now (beyond the allowed skew)
    TRUST_FILE_UNSIGNED = "trust_file_unsigned"  # a verifier with trust anchors got an unsigned municipal export
    TRUST_FILE_SIGNER_MISMATCH = "trust_file_signer_mismatch"  # a signed export's leaf names another municipality
    NOT_CHECKED = "not_checked"  # check not requested by the policy
    OK = "ok"  # check passed
    HOME_MISSING = "home_missing"  # issuer home does not exist or is not initialised
    HOME_EXISTS = "home_exists"  # issuer home already initialised
    CONFIG_INVALID = "config_invalid"  # configuration value missing or malformed
    EXTRA_MISSING = "extra_missing"  # an optional part is not installed: pip install 'civiccert[issuer]' etc.

    # --- service (HTTP API) -------------------------------------------------------------------------
    AUTH_MISSING = "auth_missing"  # no bearer token on a request that needs one
    AUTH_INVALID = "auth_invalid"  # token malformed, unknown client, bad signature or audience
    AUTH_EXPIRED = "auth_expired"  # token expired, not yet valid, or valid for longer than allowed
    ROLE_FORBIDDEN = "role_forbidden"  # the client's role may not do this
    IDEMPOTENCY_KEY_MISSING = "idempotency_key_missing"  # a write without an Idempotency-Key header
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"  # the key was used before with another request body
    IDEMPOTENCY_IN_PROGRESS = "idempotency_in_progress"  # a request with this key has not finished (yet)
    NOT_FOUND = "not_found"  # no such endpoint or resource
    INTERNAL_ERROR = "internal_error"  # a bug: logged by the service, never detailed to the client

    # --- wallets (OpenID4VCI / OpenID4VP) ----------------------------------------------------------------
    OFFER_EXPIRED = "offer_expired"  # credential offer / pre-authorized code unknown, expired, used or locked
    TX_CODE_WRONG = "tx_code_wrong"  # the transaction code (PIN) of a credential offer is wrong
    NONCE_INVALID = "nonce_invalid"  # a c_nonce or presentation transaction is unknown, used or expired
    KEY_PROOF_INVALID = "key_proof_invalid"  # an OpenID4VCI key proof lacks a jwk, or has a wrong aud / iat
    PRESENTATION_UNSATISFIED = "presentation_unsatisfied"  # a presentation lacks what the DCQL query asked for


class CivicCertError(Exception):
    """Base of every error civiccert raises on bad input or a failed check.

    ``code`` is the stable reason; ``field`` names where (a JSON path like ``members[2].birth_date``);
    the message says which rule failed and never repeats the offending value.
    """

    def __init__(self, code: ReasonCode, message: str, *, field: str | None = None) -> None:
        self.code = code
        self.field = field
        self.message = message
        super().__init__(f"{code.value}: {message}" + (f" (field: {field})" if field else ""))


class RecordError(CivicCertError):
    """A 住民票 / 印鑑登録証明書 input breaks a rule, e.g. a 個人番号 check digit or a third-party request."""


class KeyFileError(CivicCertError):
    """An issuer key cannot be loaded or used, e.g. wrong passphrase or an unsupported curve."""


class CredentialError(CivicCertError):
    """An SD-JWT, disclosure or KB-JWT is malformed or fails an RFC 9901 / RFC 8725 check."""


class PaperError(CivicCertError):
    """A printed copy cannot be produced or read back, e.g. no QR found in a scan."""


class ChainError(CivicCertError):
    """The chain cannot be used: node unreachable, wrong chain id, or a transaction failed."""


class RegistryError(ChainError):
    """The registry contract reverted with a custom error; ``error_name`` and ``args`` say which."""

    def __init__(
        self,
        code: ReasonCode,
        message: str,
        *,
        error_name: str,
        args: tuple[object, ...] = (),
        field: str | None = None,
    ) -> None:
        super().__init__(code, message, field=field)
        self.error_name = error_name
        self.error_args = args


class JournalError(CivicCertError):
    """The issuance journal is unusable, or a credential id is unknown to it."""


class ConfigError(CivicCertError):
    """An issuer home, configuration value or trust file is missing or invalid."""


class ServiceError(CivicCertError):
    """An HTTP API request fails authentication, authorisation or its idempotency contract."""
