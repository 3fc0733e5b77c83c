"""The README's library example runs verbatim (in a temporary directory)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def _example() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Library example", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None, "README lost its library example"
    return match.group(1)


def test_readme_library_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(_example(), str(README), "exec"), {"__name__": "__readme__"})
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "VALID"
    assert out[1]  # the disclosed address
    assert (tmp_path / "juminhyo.pdf").stat().st_size > 10_000
    assert os.stat(tmp_path / "city-home" / "keys" / "issuer.pem").st_mode & 0o077 == 0


def test_readme_first_screen_gives_exactly_two_commands() -> None:
    first_screen = README.read_text(encoding="utf-8").split("---", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", first_screen, re.S)
    assert len(blocks) == 1
    commands = [line for line in blocks[0].splitlines() if line.strip()]
    assert [c.split()[0] for c in commands] == ["./scripts/demo", "./scripts/test"]
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "scripts/test" in ci
