"""The ``civiccert`` command. ``main`` wraps the Typer app so that no input ever produces a traceback."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import cast

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns (and exits with) the documented exit code."""
    import typer

    from civiccert.cli.app import app
    from civiccert.cli.errors import EXIT_INTERNAL, EXIT_IO, EXIT_USAGE, exit_code_for, next_step_for
    from civiccert.errors import CivicCertError

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
        sys.stderr.write("Aborted.\n")
        code = 1
    except CivicCertError as exc:
        sys.stderr.write(f"error: {exc}\n")
        step = next_step_for(exc)
        if step:
            sys.stderr.write(f"  {step}\n")
        code = exit_code_for(exc)
    except usage_error as exc:
        exc.show()  # type: ignore[attr-defined]
        code = EXIT_USAGE
    except click_exception as exc:
        exc.show()  # type: ignore[attr-defined]
        code = EXIT_USAGE
    except OSError as exc:  # a file the user named cannot be read or written; the name itself is not repeated
        sys.stderr.write(f"error: file_io: {exc.strerror or type(exc).__name__}\n")
        code = EXIT_IO
    except KeyboardInterrupt:
        code = 130
    except Exception as exc:
        if os.environ.get("CIVICCERT_DEBUG") == "1":
            raise
        sys.stderr.write(f"internal error: {type(exc).__name__} (set CIVICCERT_DEBUG=1 for details)\n")
        code = EXIT_INTERNAL
    if argv is None:
        sys.exit(code)
    return code
