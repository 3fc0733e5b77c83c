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

if TYPE_CHECKING:
    from civiccert.issuer import Issuer

__all__ = ["State", "emit_json", "info", "open_issuer", "passphrase", "reader_may_leave", "silence_stdout",
           "state_of"]

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


def passphrase(*, confirm: bool = False) -> bytes:
    """From CIVICCERT_KEY_PASSPHRASE, else a prompt when a terminal is attached."""
    value = os.environ.get(PASSPHRASE_ENV)
    if value:
        return value.encode("utf-8")
    if not sys.stdin.isatty():
        raise KeyFileError(ReasonCode.PASSPHRASE_MISSING, f"no passphrase: set {PASSPHRASE_ENV}")
    entered: str = typer.prompt("Key passphrase", hide_input=True, confirmation_prompt=confirm)
    return entered.encode("utf-8")


def open_issuer(ctx: typer.Context) -> Issuer:
    from civiccert.issuer import Issuer

    home = require_home(ctx)
    return Issuer.open(home, passphrase=passphrase())


def info(message: str) -> None:
    sys.stderr.write(message + "\n")


def emit_json(data: Any) -> None:
    # default=repr: an unverifiable input may carry non-JSON values (CBOR bytes); print them, never crash
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=repr) + "\n")


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
