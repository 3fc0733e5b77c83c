"""The public face: `civiccert.__all__` is complete and sorted, and importing it loads no CLI libraries."""

from __future__ import annotations

import subprocess
import sys

import civiccert


def test_all_is_sorted_and_every_name_exists() -> None:
    names = civiccert.__all__
    assert names == sorted(names, key=lambda n: (not n.isupper(), n))
    for name in names:
        assert hasattr(civiccert, name), name


def test_every_public_object_has_a_docstring() -> None:
    missing = [n for n in civiccert.__all__ if callable(getattr(civiccert, n)) and not getattr(civiccert, n).__doc__]
    assert missing == []


def test_import_loads_no_cli_libraries() -> None:
    code = "import sys, civiccert; print(','.join(m for m in ('typer', 'rich', 'click') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == ""
