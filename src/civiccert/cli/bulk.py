"""Bulk input for ``civiccert verify``: read and verify many files on every core, results in input order.

Each worker process builds its own Verifier once (from the same trust files and policy) and then reads and
verifies chunks of paths; ``ProcessPoolExecutor.map`` hands the chunks back in input order. Only offline
verification is spread this way: an online verifier already sends each chunk's lookups as one JSON-RPC batch.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from civiccert.errors import CivicCertError

__all__ = ["POOL_THRESHOLD", "Outcome", "verify_paths", "workers"]

#: Below this many inputs a pool costs more to start than it saves.
POOL_THRESHOLD = 64
_CHUNK = 250

#: Per input, in order: ("results", [result dicts]) or ("unreadable", {"source", "code"}).
Outcome = tuple[str, Any]

_WORKER: dict[str, Any] = {}  # this worker process's Verifier, built once by _init


def workers() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _init(trust: Sequence[Path], policy: Any) -> None:
    from civiccert.verification.trust import TrustSnapshot
    from civiccert.verification.verifier import Verifier

    snapshot = TrustSnapshot.load_many(trust) if trust else None
    _WORKER["verifier"] = Verifier(trust=snapshot, policy=policy)


def _verify_chunk(chunk: Sequence[tuple[str, str]]) -> list[Outcome]:
    from civiccert.inputs import read_inputs

    verifier = _WORKER["verifier"]
    out: list[Outcome] = []
    for path, label in chunk:
        try:
            items = read_inputs(Path(path))
        except CivicCertError as exc:
            out.append(("unreadable", {"source": label, "code": exc.code.value}))
            continue
        out.append(("results", [r.to_dict() for r in verifier.verify_items(items)]))
    return out


def verify_paths(paths: Sequence[tuple[str, str]], trust: Sequence[Path], policy: Any,
                 processes: int) -> Iterator[Outcome]:
    """Outcomes of ``(path, label)`` inputs in input order, from ``processes`` worker processes."""
    chunk = max(1, min(_CHUNK, -(-len(paths) // (processes * 4))))  # several chunks per worker: even load
    chunks = [paths[i:i + chunk] for i in range(0, len(paths), chunk)]
    with ProcessPoolExecutor(processes, initializer=_init, initargs=(list(trust), policy)) as pool:
        for outcomes in pool.map(_verify_chunk, chunks):
            yield from outcomes
