"""Human output of ``civiccert verify``: a verdict line, each check, then the disclosed claims with labels."""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import date
from functools import lru_cache
from typing import Any, TextIO

from civiccert.credentials.claims import CLAIM_LABELS_EN, CLAIM_LABELS_JA
from civiccert.errors import CivicCertError
from civiccert.records.juminhyo import NAME_KANA_NOT_RECORDED_JA
from civiccert.records.wareki import to_wareki

__all__ = ["render_results"]

_VERDICT_TEXT = {
    "ja": {"VALID": "有効", "INVALID": "無効", "INDETERMINATE": "判定不能"},
    "en": {"VALID": "VALID", "INVALID": "INVALID", "INDETERMINATE": "INDETERMINATE"},
}
_VERDICT_STYLE = {"VALID": "\x1b[1;32m", "INVALID": "\x1b[1;31m", "INDETERMINATE": "\x1b[1;33m"}
_BOLD, _RESET = "\x1b[1m", "\x1b[0m"
_CHECK_LABELS = {
    "ja": {"format": "形式", "signature": "署名", "issuer": "発行者と鍵", "validity": "有効期間",
           "disclosures": "開示内容", "holder_binding": "保有者確認", "page": "紙面と署名内容",
           "anchor": "ブロックチェーン記録",
           "revocation": "失効"},
    "en": {"format": "format", "signature": "signature", "issuer": "issuer and key", "validity": "validity",
           "disclosures": "disclosures", "holder_binding": "holder binding", "page": "page matches", "anchor": "anchor",
           "revocation": "revocation"},
}
_OUTCOME = {
    "ja": {"passed": "✓ 合格", "failed": "✗ 不合格", "unknown": "? 確認不能", "skipped": "- 対象外"},
    "en": {"passed": "✓ passed", "failed": "✗ failed", "unknown": "? unknown", "skipped": "- skipped"},
}


def render_results(results: Sequence[Mapping[str, Any]], failures: Sequence[Mapping[str, str]], lang: str) -> None:
    """Plain text, aligned by terminal cell width, written in one go (a rich table cost 5x the verification)."""
    out = sys.stdout
    colour = out.isatty()
    write = out.write
    for result in results:
        write(render_one(result, lang, colour=colour))
    for failure in failures:
        red = ("\x1b[1;31m", _RESET) if sys.stderr.isatty() else ("", "")
        sys.stderr.write(f"{red[0]}unreadable{red[1]} {failure['source']}: {failure['code']}\n")
    if len(results) + len(failures) > 1:
        _summary(out, results, failures, lang, colour)
    out.flush()


def render_one(result: Mapping[str, Any], lang: str, *, colour: bool = False) -> str:
    """One result as text: verdict line, issuer, the checks as a table, then the disclosed claims."""
    verdict = str(result["verdict"])
    source = f"  ({result['source']})" if result.get("source") else ""
    text = _VERDICT_TEXT[lang][verdict]
    lines = [f"{_VERDICT_STYLE[verdict]}{text}{_RESET}{source}" if colour else text + source]
    issuer = result.get("issuer") or {}
    if issuer.get("code"):
        unverified = "" if issuer.get("name_verified") else (" ※名称は未確認" if lang == "ja" else " (name as signed)")
        lines.append(f"  {issuer.get('name') or ''} ({issuer['code']}){unverified}")
    header = ("確認項目", "結果", "理由", "補足") if lang == "ja" else ("check", "outcome", "reason", "note")
    rows = [header] + [
        (_CHECK_LABELS[lang].get(c["check"], c["check"]), _OUTCOME[lang][c["outcome"]], c["code"], c.get("detail", ""))
        for c in result["checks"]
    ]
    lines.extend(_table(rows, colour))
    claims = result.get("claims") or {}
    if claims:
        labels = CLAIM_LABELS_JA if lang == "ja" else CLAIM_LABELS_EN
        title = "開示された事項" if lang == "ja" else "Disclosed claims"
        lines.append(f"{_BOLD}{title}{_RESET}" if colour else title)
        lines.extend("  " + line for line in _flatten(claims, labels, ""))
    lines.append("")
    return "\n".join(lines) + "\n"


@lru_cache(maxsize=1024)
def _width(text: str) -> int:
    """Terminal cells: East Asian wide and full-width characters take two."""
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


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


def _order(labels: Mapping[str, str]) -> dict[str, int]:
    """Claims are shown in the order of the vocabulary (氏名 first), not in disclosure order."""
    return {name: i for i, name in enumerate(labels)}


_ORDER_JA, _ORDER_EN = _order(CLAIM_LABELS_JA), _order(CLAIM_LABELS_EN)


def _value(item: Any, labels: Mapping[str, str], japanese: bool, *, names_claim: bool = False) -> str:
    """A claim value for people: 和暦 dates and Japanese words in Japanese; ``names_claim`` for lists whose
    items are claim names (``omitted``), shown by their labels."""
    if names_claim and isinstance(item, str):
        return labels.get(item, item)
    if japanese and isinstance(item, str):
        if _DATE.fullmatch(item):
            try:
                return to_wareki(date.fromisoformat(item))
            except (ValueError, CivicCertError):
                return item
        return _VALUE_JA.get(item, item)
    return str(item)


def _flatten(value: Any, labels: Mapping[str, str], path: str, depth: int = 0) -> list[str]:
    pad = "  " * depth
    japanese = labels is CLAIM_LABELS_JA
    order = _ORDER_JA if japanese else _ORDER_EN
    lines: list[str] = []
    if isinstance(value, Mapping):
        for key in sorted(value, key=lambda k: (order.get(str(k), len(order)), str(k))):
            item = value[key]
            if key == "image_png":  # the seal image itself is shown on paper, not in a terminal
                item = f"<PNG {len(str(item)) * 3 // 4} bytes>"
            elif key == "name_kana" and item is None:  # the register has no 振り仮名 yet
                item = NAME_KANA_NOT_RECORDED_JA
            label = labels.get(f"{path}.{key}".lstrip("."), labels.get(str(key), str(key)))
            if isinstance(item, Mapping | list):
                lines.append(f"{pad}{label}:")
                lines.extend(_flatten(item, labels, str(key), depth + 1))
            else:
                lines.append(f"{pad}{label}: {_value(item, labels, japanese)}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, Mapping):
                lines.append(f"{pad}[{index + 1}]")
                lines.extend(_flatten(item, labels, path, depth + 1))
            else:
                lines.append(f"{pad}- {_value(item, labels, japanese, names_claim=path == 'omitted')}")
    return lines


def _summary(out: TextIO, results: Sequence[Mapping[str, Any]], failures: Sequence[Mapping[str, str]],
             lang: str, colour: bool) -> None:
    counts = {verdict: 0 for verdict in _VERDICT_TEXT[lang]}
    for result in results:
        counts[result["verdict"]] += 1
    title = "集計" if lang == "ja" else "Summary"
    rows = [("verdict", "count")] + [(_VERDICT_TEXT[lang][v], str(n)) for v, n in counts.items()]
    rows.append(("unreadable", str(len(failures))))
    out.write("\n".join([title, *_table([(a, b.rjust(6)) for a, b in rows], colour)]) + "\n")
