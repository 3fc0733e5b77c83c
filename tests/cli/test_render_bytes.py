"""The verify report's bytes stay put while the renderer gets faster (issue 15).

``data/render_expected.{ja,en}.txt`` were written by the renderer before it was optimised: the 58-disclosure
household result plus a made-up one that reaches every note pattern, odd claim values (no 振り仮名, seal image,
invalid and Meiji dates, numbers, unknown claims), colour and the summary. Regenerate only for an intended
change of the report: ``CIVICCERT_REGEN_RENDER=1 pytest tests/cli/test_render_bytes.py``.
"""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import pytest

from civiccert.cli.render import claim_rows, render_one, render_results
from civiccert.i18n import set_language

DATA = Path(__file__).parent / "data"


def render_all(lang: str) -> str:
    """Each sample result plain and coloured, then ``render_results`` of them all with one unreadable input."""
    set_language(lang)
    results = json.loads((DATA / "render_results.json").read_text(encoding="utf-8"))
    parts = [render_one(r, lang) + render_one(r, lang, colour=True) for r in results]
    stdout, stderr = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = io.StringIO(), io.StringIO()
    try:
        render_results(results, [{"source": "bad.json", "code": "malformed"}], lang)
        parts += [sys.stdout.getvalue(), sys.stderr.getvalue()]
    finally:
        sys.stdout, sys.stderr = stdout, stderr
        set_language("en")
    return "".join(parts)


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_the_report_is_byte_identical_to_the_stored_one(lang: str) -> None:
    expected = DATA / f"render_expected.{lang}.txt"
    text = render_all(lang)
    if os.environ.get("CIVICCERT_REGEN_RENDER"):
        expected.write_bytes(text.encode("utf-8"))
    assert text.encode("utf-8") == expected.read_bytes()
    assert text.count("\n") > 150  # the sample's claims are all there, not an empty report matching itself


def test_the_report_differs_by_language() -> None:
    assert render_all("ja") != render_all("en")


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_the_web_page_rows_are_the_report_claims(lang: str) -> None:
    """``claim_rows`` (the verifier page) and the terminal report list the same claims the same way."""
    set_language(lang)
    try:
        for result in json.loads((DATA / "render_results.json").read_text(encoding="utf-8")):
            listed = "\n".join("  " + row.text() for row in claim_rows(result["claims"], lang))
            assert listed.count("\n") > 10
            assert "\n" + listed + "\n\n" in render_one(result, lang)
    finally:
        set_language("en")
