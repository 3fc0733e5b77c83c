"""Bulk input for ``civiccert verify``: read, verify and render many files on every core, output in input order.

Each worker process builds its own Verifier once (from the same trust files and policy) and then reads,
verifies and renders chunks of paths: the text blocks of the report, or each result's JSON text already
indented for its place in the document. The parent only joins the chunks in input order (``map``) and adds
what needs every result: the summary and the exit code, from the verdict counts the workers send along. A
result dict of 58 claims pickled to the parent and rendered there made the parent the bottleneck (issue 15).
Only offline verification is spread this way: an online verifier already sends each chunk's lookups as one
JSON-RPC batch.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from civiccert.errors import CivicCertError

__all__ = ["POOL_THRESHOLD", "BulkReport", "verify_paths", "workers"]

#: Below this many inputs a pool costs more to start than it saves.
POOL_THRESHOLD = 64
_CHUNK = 250
_LAST = 25  # the smallest chunk: about 15 ms of one worker
_RESULT_INDENT = 4  # a result's place in ``{"results": [...]}`` at indent 2
_SEPARATOR = ",\n" + " " * _RESULT_INDENT

_WORKER: dict[str, Any] = {}  # this worker process's Verifier and output settings, set once by _init


@dataclass
class BulkReport:
    """What the parent needs of a bulk run: the rendered output per chunk and the counts for the exit code."""

    chunks: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # results by verdict
    any_verdict: bool = False  # some result is a verdict on a credential (verify_cmd._is_verdict)
    failures: list[dict[str, str]] = field(default_factory=list)  # unreadable inputs, in input order

    @property
    def results(self) -> int:
        return sum(self.counts.values())

    def text(self) -> str:
        """The text report's result blocks (the summary and the unreadable inputs are the caller's)."""
        return "".join(self.chunks)

    def json_document(self, *, single: bool) -> str:
        """Byte for byte what ``emit_json`` writes of the same results; ``single``: one input named, so one
        result alone (with nothing unreadable) is the document itself."""
        from civiccert.cli.common import json_text

        if single and self.results == 1 and not self.failures:
            return self.text().replace("\n" + " " * _RESULT_INDENT, "\n") + "\n"
        body = _SEPARATOR.join(chunk for chunk in self.chunks if chunk)
        results = f"[\n    {body}\n  ]" if body else "[]"
        return f'{{\n  "results": {results},\n  "unreadable": {json_text(self.failures, 2)}\n}}\n'


def workers() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _init(trust: Sequence[Path], policy: Any, lang: str, as_json: bool, colour: bool) -> None:
    from civiccert.i18n import set_language
    from civiccert.verification.trust import TrustSnapshot
    from civiccert.verification.verifier import Verifier

    set_language(lang)  # the parent's --lang / LANG, whatever way the worker was started
    snapshot = TrustSnapshot.load_many(trust) if trust else None
    _WORKER.update(verifier=Verifier(trust=snapshot, policy=policy), lang=lang, json=as_json, colour=colour)


def _verify_chunk(chunk: Sequence[tuple[str, str]]) -> BulkReport:
    from civiccert.cli.common import json_text
    from civiccert.cli.render import render_one
    from civiccert.cli.verify_cmd import is_verdict
    from civiccert.inputs import read_inputs

    verifier, lang, as_json, colour = _WORKER["verifier"], _WORKER["lang"], _WORKER["json"], _WORKER["colour"]
    report = BulkReport()
    counts = report.counts
    parts: list[str] = []
    for path, label in chunk:
        try:
            items = read_inputs(Path(path))
        except CivicCertError as exc:
            report.failures.append({"source": label, "code": exc.code.value})
            continue
        for result in verifier.verify_items(items):
            data = result.to_dict()
            counts[data["verdict"]] = counts.get(data["verdict"], 0) + 1
            report.any_verdict = report.any_verdict or is_verdict(data)
            parts.append(json_text(data, _RESULT_INDENT) if as_json else render_one(data, lang, colour=colour))
    report.chunks.append((_SEPARATOR if as_json else "").join(parts))
    return report


def _chunks(paths: Sequence[tuple[str, str]], processes: int) -> list[Sequence[tuple[str, str]]]:
    """Shrinking chunks: up to ``_CHUNK`` inputs while much is left, then ever smaller (down to ``_LAST``), so
    the workers finish together instead of one waiting on the other's last big chunk (guided scheduling)."""
    chunks, start = [], 0
    last = max(1, min(_LAST, len(paths) // (processes * 4)))  # a few inputs: still several chunks per worker
    while start < len(paths):
        size = max(last, min(_CHUNK, (len(paths) - start) // (processes * 2)))
        chunks.append(paths[start:start + size])
        start += size
    return chunks


def verify_paths(paths: Sequence[tuple[str, str]], trust: Sequence[Path], policy: Any, processes: int, *,
                 lang: str, as_json: bool, colour: bool) -> BulkReport:
    """Verify and render ``(path, label)`` inputs on ``processes`` worker processes; output in input order."""
    report = BulkReport()
    with ProcessPoolExecutor(processes, initializer=_init,
                             initargs=(list(trust), policy, lang, as_json, colour)) as pool:
        for part in pool.map(_verify_chunk, _chunks(paths, processes)):
            report.chunks.extend(part.chunks)
            report.failures.extend(part.failures)
            report.any_verdict = report.any_verdict or part.any_verdict
            for verdict, count in part.counts.items():
                report.counts[verdict] = report.counts.get(verdict, 0) + count
    return report
