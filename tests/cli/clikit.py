"""What the CLI tests share: running `civiccert` in process and capturing what it printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from civiccert.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    """`civiccert ARGS...` in this process: its exit code, stdout and stderr."""
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err
