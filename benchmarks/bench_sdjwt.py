"""SD-JWT throughput on one core: issue (household of 4, ~60 SD claims) and verify.

    .venv/bin/python benchmarks/bench_sdjwt.py [--quick]

Rates are per CPU-second of this process (time.process_time), pinned to one core, so other work on a
shared machine distorts them less. Targets: >= 5,000 issued/s and >= 4,000 verified/s. N = 100,000 is
streamed (each credential is dropped after its length is counted); ``--quick`` caps N at 2,000.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from civiccert.credentials import sdjwt
from civiccert.credentials.keys import IssuerKey
from civiccert.credentials.sdjwt import Sd

NOW = 1_800_000_000


def household(seed: int) -> dict[Any, Any]:
    """A 4-member household shaped like docs/DESIGN.md's resident record (~60 Sd markers)."""
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


def bench_issue(key: IssuerKey, claims: dict[Any, Any], n: int) -> tuple[float, int]:
    size = 0
    start = time.process_time()
    for _ in range(n):
        size += len(sdjwt.issue(claims, key))
    return n / (time.process_time() - start), size // n


def bench_verify(key: IssuerKey, token: str, n: int) -> float:
    resolve = lambda _h, _p: key.public_key  # noqa: E731
    start = time.process_time()
    for _ in range(n):
        sdjwt.verify(token, resolve_key=resolve, now=NOW)
    return n / (time.process_time() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="cap N at 2,000")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    key = IssuerKey.generate()
    claims = household(1)
    token = sdjwt.issue(claims, key)
    print(
        f"claims: 4 members, {count_sd(claims)} Sd markers, credential {len(token):,} chars, "
        f"{len(token.split('~')) - 2} disclosures (+ decoys in the payload)"
    )
    print(f"{'operation':<34}{'N':>10}{'per second':>14}{'µs each':>10}")
    for n in (1, 1_000, 100_000):
        n_run = min(n, 2_000) if args.quick else n
        rate, _ = bench_issue(key, claims, n_run)
        label = f"issue (household, ES256){'' if n_run == n else ' [quick]'}"
        print(f"{label:<34}{n_run:>10,}{rate:>14,.0f}{1e6 / rate:>10.1f}")
    for n in (1_000, 10_000):
        n_run = min(n, 2_000) if args.quick else n
        rate = bench_verify(key, token, n_run)
        print(f"{'verify (all disclosed, ES256)':<34}{n_run:>10,}{rate:>14,.0f}{1e6 / rate:>10.1f}")
    small = sdjwt.present(token, ["members[0].name", "household.address"])
    rate = bench_verify(key, small, 2_000)
    print(f"{'verify (2 claims presented)':<34}{2_000:>10,}{rate:>14,.0f}{1e6 / rate:>10.1f}")
    start = time.process_time()
    for _ in range(10_000):
        key.sign(b"x" * 100)
    print(f"{'raw ES256 sign (reference)':<34}{10_000:>10,}{10_000 / (time.process_time() - start):>14,.0f}")
    print(f"(CPU time of this process on one pinned core; load average now {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
