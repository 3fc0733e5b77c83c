"""Shared pieces of the benchmarks: the 58-disclosure sample and the ES256 limit measured in the same run.

Targets are fractions of what one ES256 signature / verification costs with ``cryptography`` on the same
machine in the same run: on a shared VM the absolute rates move by tens of percent between runs, the ratio
much less.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

import civiccert as cc
from civiccert.records.juminhyo import OptionalItem


def full_household_record() -> Any:
    """The sample 住民票 (4-member household) with every optional item requested: 58 disclosures.

    The shipped sample asks for 世帯主との続柄 only (42 disclosures); 本籍・筆頭者, 個人番号 and 住民票コード add
    four per member.
    """
    path = cc.sample_record_path("household-matsudo.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    data["request"]["include"] = [item.value for item in OptionalItem]
    return cc.load_record(data)


def cpu_rate(operation: Callable[[], object], n: int, repeats: int = 3) -> float:
    """Best of ``repeats`` runs of ``n`` operations, per CPU-second of this process."""
    best = 0.0
    for _ in range(repeats):
        start = time.process_time()
        for _ in range(n):
            operation()
        best = max(best, n / max(time.process_time() - start, 1e-9))
    return best


def es256_limits(n: int = 3_000, repeats: int = 3) -> tuple[float, float]:
    """(signs/s, verifies/s) of one raw ES256 operation with ``cryptography`` (DER, no JOSE): the limit."""
    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key()
    algorithm = ec.ECDSA(hashes.SHA256())
    message = b"x" * 600  # about the size of a JWS signing input
    signature = private.sign(message, algorithm)
    sign = cpu_rate(lambda: private.sign(message, algorithm), n, repeats)
    verify = cpu_rate(lambda: public.verify(signature, message, algorithm), n, repeats)
    return sign, verify


def median(values: list[float]) -> float:
    return statistics.median(values)
