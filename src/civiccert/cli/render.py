"""Human output of ``civiccert verify``: a verdict line, each check, then the disclosed claims with labels."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from rich.console import Console
from rich.table import Table

from civiccert.credentials.claims import CLAIM_LABELS_EN, CLAIM_LABELS_JA
from civiccert.errors import CivicCertError
from civiccert.records.juminhyo import NAME_KANA_NOT_RECORDED_JA
from civiccert.records.wareki import to_wareki

__all__ = ["render_results"]

_VERDICT_TEXT = {
    "ja": {"VALID": "有効", "INVALID": "無効", "INDETERMINATE": "判定不能"},
    "en": {"VALID": "VALID", "INVALID": "INVALID", "INDETERMINATE": "INDETERMINATE"},
}
_VERDICT_STYLE = {"VALID": "bold green", "INVALID": "bold red", "INDETERMINATE": "bold yellow"}
_CHECK_LABELS = {
    "ja": {"format": "形式", "signature": "署名", "issuer": "発行者と鍵", "validity": "有効期間",
           "disclosures": "開示内容", "holder_binding": "保有者確認", "anchor": "ブロックチェーン記録",
           "revocation": "失効"},
    "en": {"format": "format", "signature": "signature", "issuer": "issuer and key", "validity": "validity",
           "disclosures": "disclosures", "holder_binding": "holder binding", "anchor": "anchor",
           "revocation": "revocation"},
}
_OUTCOME = {
    "ja": {"passed": "✓ 合格", "failed": "✗ 不合格", "unknown": "? 確認不能", "skipped": "- 対象外"},
    "en": {"passed": "✓ passed", "failed": "✗ failed", "unknown": "? unknown", "skipped": "- skipped"},
}


class _PipeConsole(Console):
    """Rich exits with status 1 when stdout's reader has gone, which would read as INVALID: let the caller decide."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError


def render_results(results: Sequence[Mapping[str, Any]], failures: Sequence[Mapping[str, str]], lang: str) -> None:
    out = _PipeConsole()
    for result in results:
        _render_one(out, result, lang)
    for failure in failures:
        Console(stderr=True).print(f"[bold red]unreadable[/] {failure['source']}: {failure['code']}")
    if len(results) + len(failures) > 1:
        _summary(out, results, failures, lang)


def _render_one(out: Console, result: Mapping[str, Any], lang: str) -> None:
    verdict = str(result["verdict"])
    source = f"  ({result['source']})" if result.get("source") else ""
    out.print(f"[{_VERDICT_STYLE[verdict]}]{_VERDICT_TEXT[lang][verdict]}[/]{source}", highlight=False)
    issuer = result.get("issuer") or {}
    if issuer.get("code"):
        unverified = "" if issuer.get("name_verified") else (" ※名称は未確認" if lang == "ja" else " (name as signed)")
        out.print(f"  {issuer.get('name') or ''} ({issuer['code']}){unverified}", highlight=False)
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in (("確認項目", "結果", "理由", "補足") if lang == "ja" else ("check", "outcome", "reason", "note")):
        table.add_column(column)
    for check in result["checks"]:
        table.add_row(_CHECK_LABELS[lang].get(check["check"], check["check"]), _OUTCOME[lang][check["outcome"]],
                      check["code"], check.get("detail", ""))
    out.print(table)
    claims = result.get("claims") or {}
    if claims:
        labels = CLAIM_LABELS_JA if lang == "ja" else CLAIM_LABELS_EN
        out.print("[bold]" + ("開示された事項" if lang == "ja" else "Disclosed claims") + "[/]")
        for line in _flatten(claims, labels, ""):
            out.print("  " + line, highlight=False)
    out.print()


_VALUE_JA = {
    "household": "世帯全員", "selected": "世帯の一部", "self": "本人", "third_party": "第三者",
}
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _order(labels: Mapping[str, str]) -> dict[str, int]:
    """Claims are shown in the order of the vocabulary (氏名 first), not in disclosure order."""
    return {name: i for i, name in enumerate(labels)}


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
    order = _order(labels)
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


def _summary(out: Console, results: Sequence[Mapping[str, Any]], failures: Sequence[Mapping[str, str]],
             lang: str) -> None:
    table = Table(title="集計" if lang == "ja" else "Summary")
    table.add_column("verdict")
    table.add_column("count", justify="right")
    for verdict in ("VALID", "INVALID", "INDETERMINATE"):
        table.add_row(_VERDICT_TEXT[lang][verdict], str(sum(1 for r in results if r["verdict"] == verdict)))
    table.add_row("unreadable", str(len(failures)))
    out.print(table)
