"""What every command shares: the issuer home option, the passphrase, and where output goes.

Data goes to stdout, messages to stderr (so ``--json`` output can be piped).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from civiccert.errors import ConfigError, KeyFileError, ReasonCode
from civiccert.i18n import _

if TYPE_CHECKING:
    from civiccert.issuance.issuer import Issuer

__all__ = ["State", "emit_json", "info", "json_text", "open_issuer", "passphrase", "pin", "reader_may_leave",
           "require_home", "silence_stdout", "state_of", "use_passphrase_file", "use_pin_file"]

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


_pin_file: Path | None = None  # --pin-file of this invocation (set by the root callback)


def use_pin_file(path: Path | None) -> None:
    """Read the PKCS#11 token PIN from ``path`` in this invocation."""
    global _pin_file  # noqa: PLW0603 - one CLI invocation, one option value
    _pin_file = path


def pin() -> bytes:
    """The token PIN: from --pin-file, else CIVICCERT_PKCS11_PIN, else a prompt when a terminal is attached."""
    from civiccert.credentials.pkcs11 import PIN_ENV, pin_from_env

    if _pin_file is not None:
        return _read_passphrase_file(_pin_file, field="pin_file")
    value = pin_from_env()
    if value:
        return value
    if not sys.stdin.isatty():
        raise KeyFileError(ReasonCode.PASSPHRASE_MISSING, f"no token PIN: use --pin-file FILE or set {PIN_ENV}",
                           field="pin")
    entered: str = typer.prompt(_("Token PIN"), hide_input=True)
    return entered.encode("utf-8")


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
    entered: str = typer.prompt(_("Key passphrase"), hide_input=True, confirmation_prompt=confirm)
    return entered.encode("utf-8")


def _read_passphrase_file(path: Path, *, field: str = "passphrase_file") -> bytes:
    """The file's content without one trailing line break (what ``echo secret > file`` leaves)."""
    what = "PIN" if field == "pin_file" else "passphrase"
    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_PASSPHRASE_FILE_BYTES + 1)
    except OSError as exc:
        raise KeyFileError(ReasonCode.PASSPHRASE_MISSING, f"the {what} file cannot be read", field=field) from exc
    if len(data) > _MAX_PASSPHRASE_FILE_BYTES:
        raise KeyFileError(ReasonCode.PASSPHRASE_MISSING, f"the {what} file is too large", field=field)
    data = data.removesuffix(b"\n").removesuffix(b"\r")
    if not data:
        raise KeyFileError(ReasonCode.PASSPHRASE_MISSING, f"the {what} file is empty", field=field)
    return data


def open_issuer(ctx: typer.Context) -> Issuer:
    from civiccert.issuance.home import HomeConfig
    from civiccert.issuance.issuer import Issuer

    home = require_home(ctx)
    on_token = HomeConfig.exists(home) and HomeConfig.load(home).key_uri is not None
    # a journal shared by several servers (postgresql://…) overrides the home's own SQLite file
    return Issuer.open(home, passphrase=passphrase(), pin=pin() if on_token else None,
                       journal_url=os.environ.get(JOURNAL_URL_ENV) or None)


def info(message: str) -> None:
    sys.stderr.write(message + "\n")


def emit_json(data: Any) -> None:
    sys.stdout.write(json_text(data) + "\n")


def json_text(data: Any, shift: int = 0) -> str:
    """``json.dumps(data, ensure_ascii=False, indent=2, default=repr)``, each line after the first shifted right
    by ``shift`` spaces (its place inside a larger document).

    The standard encoder is pure Python once it indents (a 58-claim result: ~10x orjson), so plain data (str,
    int, bool, None, lists, dicts with str keys) goes through orjson, whose OPT_INDENT_2 output is the same bytes
    for those; anything else (floats, which orjson writes 1e-5 where json writes 1e-05, enums, dates, bytes,
    subclasses...) keeps the standard encoder and its default=repr: an unverifiable input may carry non-JSON
    values (CBOR bytes), printed, never a crash."""
    text = None
    if _plain(data):
        import orjson

        try:
            text = orjson.dumps(data, option=orjson.OPT_INDENT_2).decode("utf-8")
        except orjson.JSONEncodeError:  # an int beyond 64 bits, a lone surrogate, nesting orjson refuses
            text = None
    if text is None:
        text = json.dumps(data, ensure_ascii=False, indent=2, default=repr)
    return text.replace("\n", "\n" + " " * shift) if shift else text


def _plain(data: Any) -> bool:
    """Only JSON's own types, exactly (no subclass, no float), and str keys: what orjson and json write alike."""
    stack = [data]
    pop, extend = stack.pop, stack.extend
    while stack:
        value = pop()
        kind = type(value)
        if kind is dict:
            for key in value:
                if type(key) is not str:
                    return False
            extend(value.values())
        elif kind is list:
            extend(value)
        elif not (kind is str or kind is int or kind is bool or value is None):
            return False
    return True


def silence_stdout() -> None:
    """The reader of stdout has gone (``| head``): point it at /dev/null, so that nothing more fails, not even
    the interpreter's last flush (which would print "Exception ignored ... BrokenPipeError")."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (a test harness): nothing to silence
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


@contextmanager
def reader_may_leave() -> Iterator[None]:
    """Write output whose reader may stop early; the rest is dropped quietly and the command goes on."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()
