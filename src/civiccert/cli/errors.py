"""How the CLI turns an exception into one line on stderr and an exit code; never a traceback.

Exit codes (documented in the README):

    0   VALID / success              1   INVALID
    2   INDETERMINATE                64  usage error (bad option, missing argument)
    65  unreadable or malformed input (record, credential, image, PDF)
    66  an input file named on the command line does not exist
    69  chain unavailable, a transaction failed, or anchoring work is left (pending / failed)
    74  journal or file I/O error (a file named on the command line cannot be read or written)
    78  configuration: issuer home, key file, passphrase, token PIN / key / module, trust file, a missing
        optional part (pip extra)
    70  internal error (a bug: please report; set CIVICCERT_DEBUG=1 for the traceback)
    141 standard output closed early by its reader (``| head``); ``verify`` keeps its verdict code instead
"""

from __future__ import annotations

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
)
from civiccert.i18n import N_, _, language

__all__ = [
    "EXIT_CONFIG",
    "EXIT_DATA",
    "EXIT_INTERNAL",
    "EXIT_IO",
    "EXIT_NOINPUT",
    "EXIT_PIPE",
    "EXIT_UNAVAILABLE",
    "EXIT_USAGE",
    "error_line",
    "exit_code_for",
    "next_step_for",
    "one_line",
]

EXIT_USAGE = 64
EXIT_DATA = 65
EXIT_NOINPUT = 66
EXIT_UNAVAILABLE = 69
EXIT_INTERNAL = 70
EXIT_IO = 74
EXIT_CONFIG = 78
EXIT_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a command killed by a closed pipe

_NEXT_STEP: dict[ReasonCode, str] = {
    ReasonCode.HOME_MISSING: N_("Run 'civiccert init HOME --municipality-code ... --municipality-name ...' first."),
    ReasonCode.PASSPHRASE_MISSING: N_("Use --passphrase-file FILE or set CIVICCERT_KEY_PASSPHRASE."),
    ReasonCode.PASSPHRASE_WRONG: N_("Check CIVICCERT_KEY_PASSPHRASE."),
    ReasonCode.HSM_UNAVAILABLE: N_("Check the PKCS#11 module path in the key URI and that the token is attached."),
    ReasonCode.HSM_TOKEN_MISSING: N_("Check the token label (softhsm2-util --show-slots, or the HSM's tools)."),
    ReasonCode.HSM_PIN_WRONG: N_("Check --pin-file / CIVICCERT_PKCS11_PIN (repeated failures may lock the token)."),
    ReasonCode.HSM_KEY_MISSING: N_("Check the key label; 'civiccert init ... --generate-on-token' creates one."),
    ReasonCode.CHAIN_UNREACHABLE: N_("Is the node running? 'civiccert chain up' starts a local one."),
    ReasonCode.CONFIG_INVALID: N_("Check the issuer home's config.json or run 'civiccert chain up'."),
    ReasonCode.PDF_SIGNING_UNAVAILABLE: N_("Certify the home's key: 'civiccert pki import chain.pem' (TEST: "
                                           "'pki issue-leaf --ca DIR'), or issue the credential again."),
    ReasonCode.QR_NOT_FOUND: N_("Scan at 200 dpi or more, with the whole code in the picture."),
    ReasonCode.SCHEMA_VIOLATION: N_("Compare the file with the examples in examples/records/."),
}


def exit_code_for(exc: CivicCertError) -> int:
    if exc.code is ReasonCode.INPUT_NOT_FOUND:
        return EXIT_NOINPUT
    if isinstance(exc, (RecordError, CredentialError, PaperError)):
        return EXIT_DATA
    if isinstance(exc, ChainError):
        return EXIT_UNAVAILABLE
    if isinstance(exc, JournalError):
        return EXIT_IO
    if isinstance(exc, (ConfigError, KeyFileError)):
        return EXIT_CONFIG
    return EXIT_DATA


# fields whose messages already say what to do: the generic step of their code would mislead
_STEP_IN_MESSAGE = frozenset({"anvil", "port", "state", "key_rotation", "pin", "pin_file"})


def next_step_for(exc: CivicCertError) -> str | None:
    if exc.field in _STEP_IN_MESSAGE:
        return None
    step = _NEXT_STEP.get(exc.code)
    return _(step) if step else None


def one_line(text: str, limit: int = 400) -> str:
    """``text`` as a single line: a node's output tail or a wrapped message never spreads over the terminal.
    Over ``limit``, the first line and the end are kept (a failing node says why at the end)."""
    parts = [part.strip() for part in text.splitlines() if part.strip()]
    line = " | ".join(parts)
    if len(line) <= limit or not parts:
        return line
    head = parts[0][: limit // 2]
    return f"{head} | ... {line[-(limit - len(head) - 7):]}"


def error_line(exc: CivicCertError) -> str:
    """What the CLI prints for one of our errors: ``error: <reason code>: <message>``, then the next step.
    The code stays ASCII (scripts match it); the message is in the user's language when the catalogue has one
    for the code, and English otherwise (a message that carries its own next step keeps it)."""
    from civiccert.cli.reasons import REASON_MESSAGES

    step = next_step_for(exc)
    message = REASON_MESSAGES.get(exc.code) if language() != "en" else None
    if message is None:
        return f"error: {one_line(str(exc))}" + (f". {step}" if step else "")
    text = _(message) + (_(" (field: {field})").format(field=exc.field) if exc.field else "")
    if exc.field in _STEP_IN_MESSAGE:
        text += f" — {one_line(exc.message)}"
    return f"error: {exc.code.value}: {text}" + (f"。{step}" if step else "")
