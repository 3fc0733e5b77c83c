"""SD-JWT throughput on one core: issue (household of 4, 58 Sd markers) and verify.

    .venv/bin/python benchmarks/bench_sdjwt.py [--quick]

Rates are per CPU-second of this process (time.process_time), pinned to one core, so other work on a
shared machine distorts them less (it still costs cache and, on a VM, steal time: the load average is
printed before and after). Targets: >= 5,000 issued/s and >= 4,000 verified/s (all disclosed).
Each operation runs for N = 1, 1,000 and 100,000; credentials are dropped as they are made, so memory
stays flat. ``--quick`` caps N at 2,000.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from typing import Any

from civiccert.credentials import sdjwt
from civiccert.credentials.keys import IssuerKey
from civiccert.credentials.sdjwt import Sd
from civiccert.credentials.signatures import verify_signature

NOW = 1_800_000_000
SIZES = (1, 1_000, 100_000)
QUICK_CAP = 2_000


def household(seed: int) -> dict[Any, Any]:
    """A 4-member household shaped like docs/DESIGN.md's resident record (58 Sd markers)."""
    members = [
        Sd(
            {
                Sd("name"): f"山田 太郎{seed}-{i}",
                Sd("name_kana"): "ヤマダ タロウ",
                Sd("birth_date"): f"19{70 + i}-0{i + 1}-1{i}",
                Sd("sex"): "男" if i % 2 == 0 else "女",
                Sd("relationship"): "世帯主" if i == 0 else "子",
                Sd("resident_since"): "2001-04-01",
                Sd("address_since"): "2001-04-01",
                Sd("notified_on"): "2001-04-05",
                Sd("previous_address"): "東京都千代田区千代田1番1号",
                Sd("honseki"): "千葉県松戸市根本387番地の5",
                Sd("hitto"): "山田 太郎",
                Sd("resident_code"): "12345678901",
                Sd("individual_number"): "123456789018",
            }
        )
        for i in range(4)
    ]
    return {
        "iss": "urn:civiccert:lg:122076",
        "iat": NOW,
        "nbf": NOW,
        "exp": NOW + 90 * 86400,
        "vct": "urn:civiccert:vct:juminhyo:1",
        "municipality": {"code": "122076", "name": "松戸市"},
        "certificate": {"serial": f"S{seed:08d}", "issued_at": "2026-11-26T10:00:00+09:00", "scope": "household"},
        "omitted": ["individual_number"],
        "household": {Sd("address"): "千葉県松戸市小根本7番地の8", Sd("householder"): "山田 太郎"},
        "members": members,
    }


def count_sd(obj: Any) -> int:
    if isinstance(obj, Sd):
        return 1 + count_sd(obj.value)
    if isinstance(obj, dict):
        return sum(count_sd(k) + count_sd(v) for k, v in obj.items())
    if isinstance(obj, list):
        return sum(count_sd(v) for v in obj)
    return 0


def cpu_rate(operation: Callable[[], object], n: int) -> float:
    """Operations per CPU-second of this process over ``n`` runs."""
    start = time.process_time()
    for _ in range(n):
        operation()
    return n / (time.process_time() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"cap N at {QUICK_CAP:,}")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    load_before = os.getloadavg()[0]
    key = IssuerKey.generate()
    claims = household(1)
    token = sdjwt.issue(claims, key)
    small = sdjwt.present(token, ["members[0].name", "household.address"])

    def resolve(_header: dict[str, Any], _payload: dict[str, Any]) -> Any:
        return key.public_key

    print(f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, pinned to one")
    print(
        f"claims: 4 members, {count_sd(claims)} Sd markers; credential {len(token):,} chars with "
        f"{len(token.split('~')) - 2} disclosures (+ decoys); presentation of 2 claims {len(small):,} chars"
    )
    operations: list[tuple[str, Callable[[], object]]] = [
        ("issue (household, ES256)", lambda: sdjwt.issue(claims, key)),
        ("verify (all 58 disclosed)", lambda: sdjwt.verify(token, resolve_key=resolve, now=NOW)),
        ("verify (2 claims presented)", lambda: sdjwt.verify(small, resolve_key=resolve, now=NOW)),
    ]
    print(f"{'operation':<30}{'N':>10}{'per CPU-second':>16}{'µs each':>10}")
    for label, operation in operations:
        for n in SIZES:
            n_run = min(n, QUICK_CAP) if args.quick else n
            rate = cpu_rate(operation, n_run)
            mark = " [quick]" if n_run != n else ""
            print(f"{label:<30}{n_run:>10,}{rate:>16,.0f}{1e6 / rate:>10.1f}{mark}")
    message = b"x" * 1_000
    signature = key.sign(message)
    raw_sign = cpu_rate(lambda: key.sign(message), 10_000)
    raw_verify = cpu_rate(lambda: verify_signature("ES256", key.public_key, message, signature), 10_000)
    print(f"{'raw ES256 sign (reference)':<30}{10_000:>10,}{raw_sign:>16,.0f}{1e6 / raw_sign:>10.1f}")
    print(f"{'raw ES256 verify (reference)':<30}{10_000:>10,}{raw_verify:>16,.0f}{1e6 / raw_verify:>10.1f}")
    print(f"load average (1 min): {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")


if __name__ == "__main__":
    main()
