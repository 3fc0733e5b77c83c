"""One line for people per reason code, in the user's language, where the CLI prints an error.

The library's exception messages stay English (for developers and logs). In English the CLI prints them as
they are; in another language it prints the translated line of this table for the code, or the English message
when the code has none here.
"""

from __future__ import annotations

from civiccert.errors import ReasonCode
from civiccert.i18n import N_

__all__ = ["REASON_MESSAGES"]

R = ReasonCode
REASON_MESSAGES: dict[ReasonCode, str] = {
    R.JSON_INVALID: N_("the input is not well-formed JSON"),
    R.INPUT_TOO_LARGE: N_("the input is too large"),
    R.INPUT_NOT_FOUND: N_("the input file was not found"),
    R.SCHEMA_VIOLATION: N_("the record does not match the schema"),
    R.FIELD_MISSING: N_("a required field is missing"),
    R.FIELD_INVALID: N_("a field has the wrong type or an unknown value"),
    R.TEXT_NOT_NFC: N_("text is not in Unicode NFC form"),
    R.TEXT_CONTROL_CHAR: N_("text contains a control character"),
    R.TEXT_EMPTY: N_("required text is empty"),
    R.KANA_INVALID: N_("the furigana is not katakana"),
    R.DATE_INVALID: N_("a date is malformed or impossible"),
    R.DATE_ORDER: N_("dates contradict each other"),
    R.MUNICIPALITY_CODE_INVALID: N_("the municipality code is invalid"),
    R.INDIVIDUAL_NUMBER_INVALID: N_("the individual number is invalid"),
    R.ITEM_NOT_PERMITTED: N_("this requester may not request this item"),
    R.SEAL_IMAGE_INVALID: N_("the seal impression is not a readable PNG"),
    R.KEY_FILE_INVALID: N_("the key file is unreadable or not a supported key"),
    R.PASSPHRASE_MISSING: N_("no passphrase was given"),
    R.PASSPHRASE_WRONG: N_("the passphrase does not decrypt the key"),
    R.HSM_UNAVAILABLE: N_("the PKCS#11 module cannot be loaded or the token does not answer"),
    R.HSM_TOKEN_MISSING: N_("no token with this label"),
    R.HSM_PIN_WRONG: N_("the token refuses the PIN"),
    R.HSM_KEY_MISSING: N_("no key with this label on the token"),
    R.MALFORMED: N_("the input is malformed"),
    R.SIGNATURE_INVALID: N_("the signature does not verify"),
    R.KEY_UNKNOWN: N_("no trusted key matches"),
    R.VCT_UNKNOWN: N_("not a civiccert credential type"),
    R.CHAIN_UNREACHABLE: N_("the chain node does not answer"),
    R.CHAIN_TIMEOUT: N_("the chain node did not answer in time"),
    R.CHAIN_ID_MISMATCH: N_("the node is on another chain"),
    R.REGISTRY_NOT_DEPLOYED: N_("no registry at the configured address"),
    R.TRANSACTION_FAILED: N_("a transaction failed"),
    R.INSUFFICIENT_FUNDS: N_("the issuer's chain account cannot pay for gas"),
    R.UNAUTHORIZED: N_("this account may not do this on the registry"),
    R.ISSUER_NOT_REGISTERED: N_("the municipality is not registered"),
    R.MUNICIPALITY_EXISTS: N_("the municipality is already registered"),
    R.NOT_ANCHORED: N_("not anchored yet"),
    R.REVOKED: N_("the credential was revoked"),
    R.JOURNAL_UNAVAILABLE: N_("the journal cannot be opened or written"),
    R.CREDENTIAL_UNKNOWN: N_("no issued credential with this id"),
    R.JOURNAL_CONFLICT: N_("the journal entry was changed by another worker"),
    R.QR_NOT_FOUND: N_("no readable QR code found"),
    R.QR_PAYLOAD_INVALID: N_("the QR code is not a civiccert printed copy"),
    R.IMAGE_UNREADABLE: N_("the image cannot be read"),
    R.PDF_UNREADABLE: N_("the PDF cannot be read"),
    R.FONT_MISSING: N_("the Japanese font is not available"),
    R.TRUST_SNAPSHOT_STALE: N_("the trust snapshot is too old"),
    R.TRUST_FILE_INVALID: N_("the trust file is unreadable or malformed"),
    R.TRUST_CONFLICT: N_("the trust files disagree"),
    R.HOME_MISSING: N_("no issuer home"),
    R.HOME_EXISTS: N_("the issuer home already exists"),
    R.CONFIG_INVALID: N_("a configuration value is missing or invalid"),
    R.EXTRA_MISSING: N_("an optional part is not installed"),
}
