"""What every command shares: the issuer home option, the passphrase, and where output goes.

Data goes to stdout, messages to stderr (so ``--json`` output can be piped).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from civiccert.errors import ConfigError, KeyFileError, ReasonCode

if TYPE_CHECKING:
    from civiccert.issuer import Issuer

__all__ = ["State", "emit_json", "info", "open_issuer", "passphrase", "require_home", "state_of",
           "use_passphrase_file"]

PASSPHRASE_ENV = "CIVICCERT_KEY_PASSPHRASE"  # noqa: S105 - the variable name, not a secret


class State:
    """Global options, carried in the Typer context."""

    def __init__(self, home: Path | None) -> None:
        self.home = home


def state_of(ctx: typer.Context) -> State:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, State) else State(None)


def require_home(ctx: typer.Context) -> Path:
    home = state_of(ctx).home
    if home is None:
        raise ConfigError(ReasonCode.HOME_MISSING, "this command needs --home HOME (or CIVICCERT_HOME)")
    return home


_MAX_PASSPHRASE_FILE_BYTES = 4096
JOURNAL_URL_ENV = "CIVICCERT_JOURNAL_URL"
_passphrase_file: Path | None = None  # --passphrase-file of this invocation (set by the root callback)


def use_passphrase_file(path: Path | None) -> None:
    """Read the key passphrase from ``path`` in this invocation (unattended jobs: a secret mounted as a file)."""
    global _passphrase_file  # noqa: PLW0603 - one CLI invocation, one option value
    _passphrase_file = path


def passphrase(*, confirm: bool = False) -> bytes:
    """From --passphrase-file, else CIVICCERT_KEY_PASSPHRASE, else a prompt when a terminal is attached."""
    if _passphrase_file is not None:
        return _read_passphrase_file(_passphrase_file)
    value = os.environ.get(PASSPHRASE_ENV)
    if value:
        return value.encode("utf-8")
    if not sys.stdin.isatty():
        raise KeyFileError(ReasonCode.PASSPHRASE_MISSING,
                           f"no passphrase: use --passphrase-file FILE or set {PASSPHRASE_ENV}")
    entered: str = typer.prompt("Key passphrase", hide_input=True, confirmation_prompt=confirm)
    return entered.encode("utf-8")


def _read_passphrase_file(path: Path) -> bytes:
    """The file's content without one trailing line break (what ``echo secret > file`` leaves)."""
    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_PASSPHRASE_FILE_BYTES + 1)
    except OSError as exc:
        raise KeyFileError(ReasonCode.PASSPHRASE_MISSING, "the passphrase file cannot be read",
                           field="passphrase_file") from exc
    if len(data) > _MAX_PASSPHRASE_FILE_BYTES:
        raise KeyFileError(ReasonCode.PASSPHRASE_MISSING, "the passphrase file is too large",
                           field="passphrase_file")
    data = data.removesuffix(b"\n").removesuffix(b"\r")
    if not data:
        raise KeyFileError(ReasonCode.PASSPHRASE_MISSING, "the passphrase file is empty", field="passphrase_file")
    return data


def open_issuer(ctx: typer.Context) -> Issuer:
    from civiccert.issuer import Issuer

    home = require_home(ctx)
    # a journal shared by several servers (postgresql://…) overrides the home's own SQLite file
    return Issuer.open(home, passphrase=passphrase(), journal_url=os.environ.get(JOURNAL_URL_ENV) or None)


def info(message: str) -> None:
    sys.stderr.write(message + "\n")


def emit_json(data: Any) -> None:
    # default=repr: an unverifiable input may carry non-JSON values (CBOR bytes); print them, never crash
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=repr) + "\n")
