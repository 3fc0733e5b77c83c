"""The ``civiccert`` command. ``main`` wraps the Typer app so that no input ever produces a traceback.

Every error is one line on stderr (``error: <reason code>: <message>``, with the next step when there is one),
usage errors included, and the exit code is the documented one (src/civiccert/cli/errors.py).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any, cast

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns (and exits with) the documented exit code."""
    import typer

    from civiccert.cli.app import app
    from civiccert.cli.common import silence_stdout
    from civiccert.cli.errors import EXIT_INTERNAL, EXIT_IO, EXIT_PIPE, EXIT_USAGE, error_line, exit_code_for
    from civiccert.errors import CivicCertError
    from civiccert.i18n import _, detect_language, set_language

    set_language(detect_language())  # --lang (root or verify) may change it once the options are parsed

    # the vendored Click UsageError / ClickException, reached without importing click
    usage_error = cast(type[Exception], typer.BadParameter.__mro__[1])
    click_exception = cast(type[Exception], typer.BadParameter.__mro__[2])
    command = typer.main.get_command(app)
    args = list(sys.argv[1:] if argv is None else argv)
    code = 0
    try:
        result = command.main(args=args, prog_name="civiccert", standalone_mode=False)
        code = result if isinstance(result, int) else 0
    except typer.Exit as exc:
        code = int(exc.exit_code)
    except typer.Abort:
        _say(_("Aborted."))
        code = 1
    except BrokenPipeError:  # stdout's reader stopped early ('| head'): no traceback, no "Exception ignored"
        silence_stdout()
        code = EXIT_PIPE
    except SystemExit as exc:
        if not isinstance(exc.__context__, BrokenPipeError):
            raise
        silence_stdout()  # Typer or Rich met the closed pipe first and asked for exit status 1
        code = EXIT_PIPE
    except CivicCertError as exc:
        _say(error_line(exc))
        code = exit_code_for(exc)
    except usage_error as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # a bare group: its help, as Click shows it
            exc.show()  # type: ignore[attr-defined]
        else:
            _say(_usage_line(exc))
        code = EXIT_USAGE
    except click_exception as exc:
        _say(_usage_line(exc))
        code = EXIT_USAGE
    except OSError as exc:  # a file the user named cannot be read or written; the name itself is not repeated
        _say(f"error: file_io: {_os_error(exc)}")
        code = EXIT_IO
    except KeyboardInterrupt:
        code = 130
    except Exception as exc:
        if os.environ.get("CIVICCERT_DEBUG") == "1":
            raise
        _say(_("internal error: {name} (set CIVICCERT_DEBUG=1 for details)").format(name=type(exc).__name__))
        code = EXIT_INTERNAL
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()
        code = code or EXIT_PIPE
    if argv is None:
        sys.exit(code)
    return code


def _os_error(exc: OSError) -> str:
    """The system's words for a file error, translated for the common ones (the catalogue holds them)."""
    from civiccert.i18n import N_, _

    known = (N_("No such file or directory"), N_("Permission denied"), N_("Is a directory"), N_("Not a directory"),
             N_("No space left on device"), N_("File exists"), N_("Read-only file system"))
    if not exc.strerror:
        return type(exc).__name__
    return _(exc.strerror) if exc.strerror in known else exc.strerror


def _say(line: str) -> None:
    sys.stderr.write(line + "\n")


def _usage_line(exc: Any) -> str:
    """Click's usage error (usage, hint, blank line, message) as one line that still points at --help."""
    from civiccert.cli.errors import one_line
    from civiccert.i18n import _

    ctx = getattr(exc, "ctx", None)
    hint = " " + _("(see '{command} --help')").format(command=ctx.command_path) if ctx is not None else ""
    return f"error: usage: {one_line(str(exc.format_message()))}{hint}"
