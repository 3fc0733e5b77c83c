"""Human output of ``civiccert verify``: a verdict line, each check, then the disclosed claims with labels."""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any, TextIO

from civiccert.cli.notes import translate_note
from civiccert.credentials.claims import CLAIM_LABELS_EN, CLAIM_LABELS_JA
from civiccert.errors import CivicCertError
from civiccert.i18n import N_, _, catalogue_for, language
from civiccert.records.juminhyo import NAME_KANA_NOT_RECORDED_JA
from civiccert.records.wareki import to_wareki

__all__ = ["ClaimRow", "check_label", "claim_rows", "outcome_text", "pad_left", "render_results", "render_tail",
           "verdict_text"]

_VERDICT_TEXT = {"VALID": N_("VALID"), "INVALID": N_("INVALID"), "INDETERMINATE": N_("INDETERMINATE")}
_VERDICT_STYLE = {"VALID": "\x1b[1;32m", "INVALID": "\x1b[1;31m", "INDETERMINATE": "\x1b[1;33m"}
_BOLD, _RESET = "\x1b[1m", "\x1b[0m"
_CHECK_LABELS = {
    "format": N_("format"), "signature": N_("signature"), "issuer": N_("issuer and key"),
    "validity": N_("validity"), "disclosures": N_("disclosures"), "holder_binding": N_("holder binding"),
    "anchor": N_("anchor"), "revocation": N_("revocation"),
    "page": N_("page matches"), "pdf_signature": N_("PDF signature"),
}
_OUTCOME = {"passed": N_("✓ passed"), "failed": N_("✗ failed"), "unknown": N_("? unknown"),
            "skipped": N_("- skipped")}


def render_results(results: Sequence[Mapping[str, Any]], failures: Sequence[Mapping[str, str]], lang: str) -> None:
    """Plain text, aligned by terminal cell width, written in one go (a rich table cost 5x the verification)."""
    out = sys.stdout
    colour = out.isatty()
    write = out.write
    counts = {verdict: 0 for verdict in _VERDICT_TEXT}
    for result in results:
        counts[result["verdict"]] += 1
        write(render_one(result, lang, colour=colour))
    render_tail(counts, failures)


def render_tail(counts: Mapping[str, int], failures: Sequence[Mapping[str, str]]) -> None:
    """After the results' blocks: the unreadable inputs (stderr) and, for more than one input, the summary
    from the results' ``counts`` by verdict (a bulk run's workers render the blocks, the parent this)."""
    out = sys.stdout
    for failure in failures:
        red = ("\x1b[1;31m", _RESET) if sys.stderr.isatty() else ("", "")
        sys.stderr.write(f"{red[0]}{_('unreadable')}{red[1]} {failure['source']}: {failure['code']}\n")
    if sum(counts.values()) + len(failures) > 1:
        _summary(out, counts, failures, out.isatty())
    out.flush()


def render_one(result: Mapping[str, Any], lang: str, *, colour: bool = False) -> str:
    """One result as text: verdict line, issuer, the checks as a table, then the disclosed claims."""
    verdict = str(result["verdict"])
    source = f"  ({result['source']})" if result.get("source") else ""
    text = _(_VERDICT_TEXT[verdict])
    lines = [f"{_VERDICT_STYLE[verdict]}{text}{_RESET}{source}" if colour else text + source]
    issuer = result.get("issuer") or {}
    if issuer.get("code"):
        unverified = "" if issuer.get("name_verified") else " " + _("(name as signed)")
        lines.append(f"  {issuer.get('name') or ''} ({issuer['code']}){unverified}")
    now = language()
    rows = (_header(now), *[_check_row(now, lang, c["check"], c["outcome"], c["code"], str(c.get("detail", "")))
                            for c in result["checks"]])
    lines.extend(_check_table(rows, colour))
    claims = result.get("claims") or {}
    if claims:
        title = _("Disclosed claims")
        lines.append(f"{_BOLD}{title}{_RESET}" if colour else title)
        lines.extend(_claim_lines(claims, lang == "ja"))
    lines.append("")
    return "\n".join(lines) + "\n"


_LIST_STATUS = {"revoked": 0x01, "suspended": 0x02, "superseded": 0x03}  # civiccert.status.Status by reason


@lru_cache(maxsize=4)
def _header(current: str) -> tuple[str, str, str, str]:
    """The checks table's header in the ``current`` process language (the key of the cache)."""
    return _("check"), _("outcome"), _("reason"), _("note")


@lru_cache(maxsize=2048)
def _check_row(current: str, lang: str, check: str, outcome: str, code: str, detail: str) -> tuple[str, ...]:
    """One row of the checks table. Cached by its inputs and the ``current`` process language that ``_()``
    translates into: a bulk run repeats the same few rows, and translating a note tries a dozen patterns."""
    return _(_CHECK_LABELS.get(check, check)), _(_OUTCOME[outcome]), code, _note(check, code, detail, lang)


def _note(check: str, code: str, detail: str, lang: str) -> str:
    """The check's note for people; a status list's verdict also by name (失効（取消し）, 一時停止中, ...)."""
    note = translate_note(detail)
    if check == "revocation" and code in _LIST_STATUS and detail.startswith("status list"):
        from civiccert.status.bits import LABELS, Status

        note = f"{LABELS[Status(_LIST_STATUS[code])][lang]}: {note}"
    return note


@lru_cache(maxsize=1024)
def _width(text: str) -> int:
    """Terminal cells: East Asian wide and full-width characters take two."""
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad_left(text: str, cells: int) -> str:
    """``text`` right-aligned in ``cells`` terminal cells (Japanese characters take two)."""
    return " " * max(0, cells - _width(text)) + text


@lru_cache(maxsize=256)
def _check_table(rows: tuple[tuple[str, ...], ...], colour: bool) -> tuple[str, ...]:
    """``_table`` of the checks, cached: the files of a bulk run mostly repeat the same few tables."""
    return tuple(_table(rows, colour))


def _table(rows: Sequence[Sequence[str]], colour: bool) -> list[str]:
    """Columns padded to their widest cell, two spaces apart; the header bold on a terminal."""
    widths = [max(_width(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for n, row in enumerate(rows):
        cells = [cell + " " * (widths[i] - _width(cell)) for i, cell in enumerate(row[:-1])]
        line = "  ".join([*cells, row[-1]]).rstrip()
        lines.append(f"{_BOLD}{line}{_RESET}" if colour and n == 0 else line)
    return lines


_VALUE_JA = {
    "household": "世帯全員", "selected": "世帯の一部", "self": "本人", "third_party": "第三者",
}
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class _SortKey(dict[str, tuple[int, str]]):
    """Claims are shown in the order of the vocabulary (氏名 first), not in disclosure order.

    ``(vocabulary position, name)`` of each claim name, built once per language: sorting a member's claims
    is then one C-level dict lookup per key; names outside the vocabulary go last, by name (not stored, so
    a stream of odd names cannot grow it)."""

    def __init__(self, labels: Mapping[str, str]) -> None:
        super().__init__((name, (i, name)) for i, name in enumerate(labels))
        self.last = len(labels)

    def __missing__(self, key: str) -> tuple[int, str]:
        return (self.last, str(key))


_SORT_JA, _SORT_EN = _SortKey(CLAIM_LABELS_JA), _SortKey(CLAIM_LABELS_EN)


def _wareki_text(item: str) -> str:
    """An ISO date as 和暦; anything else as written."""
    if _DATE.fullmatch(item):
        try:
            return to_wareki(date.fromisoformat(item))
        except (ValueError, CivicCertError):
            return item
    return item


# Cached for the CLI's report only (a household repeats its dates, a bulk run its members'): the CLI process
# ends with the run, whereas the verifier page (claim_rows) is a long-running service that keeps no dates.
_date_text = lru_cache(maxsize=4096)(_wareki_text)


def _value(item: Any, labels: Mapping[str, str], japanese: bool, *, names_claim: bool = False,
           dates: Callable[[str], str] = _wareki_text) -> str:
    """A claim value for people: 和暦 dates and Japanese words in Japanese; ``names_claim`` for lists whose
    items are claim names (``omitted``), shown by their labels."""
    if names_claim and isinstance(item, str):
        return labels.get(item, item)
    if japanese and isinstance(item, str):
        if len(item) == 10 and item[4] == "-":  # cheap pre-test; ``dates`` decides
            return dates(item)
        return _VALUE_JA.get(item, item)
    return str(item)


@lru_cache(maxsize=1024)
def _label(japanese: bool, path: str, key: str) -> str:
    """A claim's label: by its dotted path first (``household.address``), else by its name, else the name."""
    labels = CLAIM_LABELS_JA if japanese else CLAIM_LABELS_EN
    return labels.get(f"{path}.{key}".lstrip("."), labels.get(key, key))


@dataclass(frozen=True)
class ClaimRow:
    """One line of the disclosed claims, for any renderer (terminal text here, HTML on the verifier page):
    ``group`` opens a nested object (``label:``), ``index`` one member of a list (``[n]``), ``item`` is
    ``label: value`` and ``bullet`` a list item (``- value``)."""

    depth: int
    kind: str
    label: str = ""
    value: str = ""

    def text(self) -> str:
        return _row_text(self.depth, self.kind, self.label, self.value)


def _row_text(depth: int, kind: str, label: str, value: str) -> str:
    pad = "  " * depth
    if kind == "group":
        return f"{pad}{label}:"
    if kind == "index":
        return f"{pad}{label}"
    if kind == "bullet":
        return f"{pad}- {value}"
    return f"{pad}{label}: {value}"


def claim_rows(claims: Mapping[str, Any], lang: str) -> list[ClaimRow]:
    """The disclosed claims in vocabulary order with their labels, 和暦 dates and Japanese words (``lang`` ja)."""
    rows: list[tuple[int, str, str, str]] = []
    _walk(claims, lang == "ja", "", 0, rows)
    return [ClaimRow(*row) for row in rows]


def verdict_text(verdict: str, lang: str) -> str:
    """有効 / 無効 / 判定不能 in Japanese, the verdict itself in English (per call: the web page serves both)."""
    return catalogue_for(lang).gettext(_VERDICT_TEXT[verdict])


def check_label(check: str, lang: str) -> str:
    return catalogue_for(lang).gettext(_CHECK_LABELS.get(check, check))


def outcome_text(outcome: str, lang: str) -> str:
    return catalogue_for(lang).gettext(_OUTCOME[outcome])


def _claim_lines(claims: Mapping[str, Any], japanese: bool) -> list[str]:
    """The claims as text lines, indented under the title (``ClaimRow.text`` of each row, without the rows)."""
    lines: list[Any] = []
    _walk(claims, japanese, "", 1, lines, text=True)
    return lines


def _walk(value: Any, japanese: bool, path: str, depth: int, rows: list[Any], *, text: bool = False) -> None:
    """Append the rows of ``value`` and what it holds in vocabulary order: ``(depth, kind, label, value)`` (see
    ClaimRow), or with ``text`` each row's line as ``ClaimRow.text`` writes it.

    This runs for every claim of every reported credential, so it avoids per-claim overhead: sort keys and
    labels come from tables built once, exact-type tests go before the ABC ``isinstance``, lines are formatted
    here rather than through row objects."""
    labels = CLAIM_LABELS_JA if japanese else CLAIM_LABELS_EN
    append = rows.append
    dates = _date_text if text else _wareki_text
    pad = "  " * depth
    if type(value) is dict or (type(value) is not list and isinstance(value, Mapping)):
        for key in sorted(value, key=(_SORT_JA if japanese else _SORT_EN).__getitem__):
            item = value[key]
            if key == "image_png":  # the seal image itself is shown on paper, not in a terminal
                item = f"<PNG {len(str(item)) * 3 // 4} bytes>"
            elif key == "name_kana" and item is None:  # the register has no 振り仮名 yet
                item = NAME_KANA_NOT_RECORDED_JA
            label = _label(japanese, path, str(key))
            kind = type(item)
            if kind is str:  # most claims: _value inlined
                shown: str = item
                if japanese:
                    shown = dates(shown) if len(shown) == 10 and shown[4] == "-" else _VALUE_JA.get(shown, shown)
            elif kind is dict or kind is list or isinstance(item, Mapping | list):
                append(f"{pad}{label}:" if text else (depth, "group", label, ""))
                _walk(item, japanese, str(key), depth + 1, rows, text=text)
                continue
            else:
                shown = _value(item, labels, japanese, dates=dates)
            append(f"{pad}{label}: {shown}" if text else (depth, "item", label, shown))
    elif isinstance(value, list):
        names_claim = path == "omitted"
        for index, item in enumerate(value):
            if type(item) is dict or (type(item) is not str and isinstance(item, Mapping)):
                append(f"{pad}[{index + 1}]" if text else (depth, "index", f"[{index + 1}]", ""))
                _walk(item, japanese, path, depth + 1, rows, text=text)
            else:
                shown = _value(item, labels, japanese, names_claim=names_claim, dates=dates)
                append(f"{pad}- {shown}" if text else (depth, "bullet", "", shown))


def _summary(out: TextIO, counts: Mapping[str, int], failures: Sequence[Mapping[str, str]], colour: bool) -> None:
    title = _("Summary")
    rows = [(_("verdict"), _("count"))] + [(_(_VERDICT_TEXT[v]), str(counts.get(v, 0))) for v in _VERDICT_TEXT]
    rows.append((_("unreadable"), str(len(failures))))
    out.write("\n".join([title, *_table([(a, b.rjust(6)) for a, b in rows], colour)]) + "\n")
