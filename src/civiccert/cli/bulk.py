"""Bulk input for ``civiccert verify``: read, verify and render many files on every core, output in input order.

Each worker process builds its own Verifier once (from the same trust files and policy) and then reads,
verifies and renders chunks of paths: the text blocks of the report, or each result's JSON text already
indented for its place in the document, encoded as the parent's stdout encodes. The parent writes each chunk
to stdout as soon as it is next in input order (``map``) and adds what needs every result: the summary and the
exit code, from the verdict counts the workers send along. A result dict of 58 claims pickled to the parent
and rendered there made the parent the bottleneck (issue 15); so did joining, decoding and encoding all of
the output after the last chunk came back (~45 MB of ``--json`` for 10,000 files: 0.4–0.5 s of one core
while the other idled). Only offline verification is spread this way: an online verifier already sends each
chunk's lookups as one JSON-RPC batch.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import suppress
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
    """A chunk's rendered ``output`` (bytes in the parent's stdout encoding; text when that cannot encode it or
    stdout has no byte layer), and the counts a whole run needs for its summary and exit code."""

    output: bytes | str = ""
    counts: dict[str, int] = field(default_factory=dict)  # results by verdict
    any_verdict: bool = False  # some result is a verdict on a credential (verify_cmd._is_verdict)
    failures: list[dict[str, str]] = field(default_factory=list)  # unreadable inputs, in input order

    @property
    def results(self) -> int:
        return sum(self.counts.values())

    def add(self, part: BulkReport) -> None:
        """Count in the next chunk ``part`` (its output is the writer's)."""
        self.failures.extend(part.failures)
        self.any_verdict = self.any_verdict or part.any_verdict
        for verdict, count in part.counts.items():
            self.counts[verdict] = self.counts.get(verdict, 0) + count


class _Writer:
    """Writes the chunks to stdout in input order as they come back: the text blocks as they are, or the
    ``{"results": [...], "unreadable": [...]}`` document byte for byte as ``emit_json`` writes it. ``single``
    (one input named): one result alone, with nothing unreadable, is the document itself, so the first result
    is held back until a second one (or an unreadable input) shows it is not alone."""

    def __init__(self, as_json: bool, single: bool) -> None:
        self._json = as_json
        self._held: list[bytes | str] | None = [] if as_json and single else None
        self._opened = False  # JSON: '"results": [' written

    def chunk(self, output: bytes | str, total: BulkReport) -> None:
        """The next chunk's ``output``; ``total``: the counts so far, this chunk included."""
        if self._held is not None:
            if output:
                self._held.append(output)
            if total.results < 2 and not total.failures:
                return
            held, self._held = self._held, None
            for piece in held:
                self._result(piece)
        elif output and self._json:
            self._result(output)
        elif output:
            _write(output)

    def close(self, total: BulkReport) -> None:
        """The document's end (JSON): the unreadable inputs, or the single result alone."""
        from civiccert.cli.common import json_text

        if not self._json:
            return
        if self._held is not None and total.results == 1 and not total.failures:  # the document itself
            piece = self._held[0]
            _write(piece.replace(b"\n    ", b"\n") + b"\n" if isinstance(piece, bytes)
                   else piece.replace("\n    ", "\n") + "\n")
            return
        for piece in self._held or []:
            self._result(piece)
        results = "\n  ]" if self._opened else '{\n  "results": []'
        _write(f'{results},\n  "unreadable": {json_text(total.failures, 2)}\n}}\n')

    def _result(self, piece: bytes | str) -> None:
        _write(_SEPARATOR if self._opened else '{\n  "results": [\n    ')
        self._opened = True
        _write(piece)


def _write(data: bytes | str) -> None:
    """To stdout: text through its text layer, bytes (already encoded) past it. A reader that left (``| head``)
    sends the rest to /dev/null: the run goes on to its exit code."""
    from civiccert.cli.common import silence_stdout

    try:
        if isinstance(data, str):
            sys.stdout.write(data)
        else:
            sys.stdout.flush()
            sys.stdout.buffer.write(data)
    except BrokenPipeError:
        silence_stdout()


def _encoding() -> tuple[str, str] | None:
    """How stdout encodes text, when it has a byte layer the workers' bytes can go to."""
    if not hasattr(sys.stdout, "buffer"):
        return None
    return getattr(sys.stdout, "encoding", None) or "utf-8", getattr(sys.stdout, "errors", None) or "strict"


def workers() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _init(trust: Sequence[Path], policy: Any, lang: str, as_json: bool, colour: bool,
          encoding: tuple[str, str] | None = None) -> None:
    from civiccert.i18n import set_language
    from civiccert.verification.trust import TrustSnapshot
    from civiccert.verification.verifier import Verifier

    set_language(lang)  # the parent's --lang / LANG, whatever way the worker was started
    snapshot = TrustSnapshot.load_many(trust) if trust else None
    _WORKER.update(verifier=Verifier(trust=snapshot, policy=policy), lang=lang, json=as_json, colour=colour,
                   encoding=encoding)


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
    report.output = text = (_SEPARATOR if as_json else "").join(parts)
    if _WORKER.get("encoding") is not None:  # the parent's stdout takes bytes: encode here, on this core
        with suppress(UnicodeEncodeError):  # else the parent's text layer raises it, as with one core
            report.output = text.encode(*_WORKER["encoding"])
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
                 lang: str, as_json: bool, colour: bool, single: bool = False) -> BulkReport:
    """Verify and render ``(path, label)`` inputs on ``processes`` worker processes and write them to stdout
    in input order, each chunk as soon as it is next (``--json``: the whole document; text: the result blocks,
    the summary is the caller's); ``single``: one input was named (see ``_Writer``)."""
    report, writer = BulkReport(), _Writer(as_json, single)
    with ProcessPoolExecutor(processes, initializer=_init,
                             initargs=(list(trust), policy, lang, as_json, colour, _encoding())) as pool:
        for part in pool.map(_verify_chunk, _chunks(paths, processes)):
            report.add(part)
            writer.chunk(part.output, report)
    writer.close(report)
    return report
