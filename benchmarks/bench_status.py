"""Token Status Lists at municipal scale: 1,000,000-entry lists, their size, publish-and-sign time, lookup time
and the gas of one anchored publication.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_status.py

Prints Markdown tables (copied into docs/benchmarks.md and docs/gas.md) and writes only a temporary SQLite
file. The draft's table (draft-ietf-oauth-status-list, "Size comparison", 1,000,000 entries, 1 bit) is shown
beside ours; our lists are 2 bits (VALID / INVALID / SUSPENDED / superseded), so both widths are measured.
"""

from __future__ import annotations

import random
import secrets
import sqlite3
import tempfile
import time
from pathlib import Path

import civiccert as cc
from civiccert.chain.registry import Registry
from civiccert.credentials.keys import IssuerKey
from civiccert.status import StatusList, StatusListSource, parse_token
from civiccert.status.check import evaluate_status
from civiccert.status.publish import sign_publication
from civiccert.status.store import StatusStore

N = 1_000_000
DRAFT_1BIT = {0.0001: "442 B", 0.001: "2.2 KB", 0.01: "13.7 KB"}
URI = "https://status.civiccert.example/122076/1"


def _list(bits: int, fraction: float, rng: random.Random, size: int = N) -> StatusList:
    statuses = StatusList(size, bits)
    for idx in rng.sample(range(size), int(size * fraction)):
        statuses[idx] = 1
    return statuses


def sizes() -> None:
    rng = random.Random(7)
    print("| revoked | draft (1 bit) | ours, 1 bit | ours, 2 bits | 2-bit statuslist+jwt |")
    print("|---:|---:|---:|---:|---:|")
    key = IssuerKey.generate()
    for fraction, draft in DRAFT_1BIT.items():
        one = len(_list(1, fraction, rng).compress())
        two_list = _list(2, fraction, rng)
        jwt = cc.status.sign_jwt(two_list, key, sub=URI, iat=0, exp=86400, ttl=3600)
        print(f"| {fraction:.2%} | {draft} | {one:,} B | {len(two_list.compress()):,} B | {len(jwt):,} B |")


def publish_time() -> None:
    rng = random.Random(8)
    key = IssuerKey.generate()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "journal.sqlite3"
        store = StatusStore(path, list_size=1 << 20)
        revoked = rng.sample(range(1 << 20), (1 << 20) // 100)  # 1 % revoked
        with sqlite3.connect(path) as conn:
            conn.executemany("INSERT INTO status_entries (credential_id, list_uri, idx, status, changed_at)"
                             " VALUES (?, ?, ?, 1, 0)", [(secrets.token_hex(8), URI, i) for i in revoked])
        best_build, best_sign = float("inf"), float("inf")
        for _ in range(3):
            start = time.perf_counter()
            statuses = store.build(URI)
            built = time.perf_counter()
            sign_publication([(URI, statuses)], key, municipality="122076", iss="urn:civiccert:lg:122076", seq=1,
                             now=int(time.time()), valid_seconds=86400, ttl=3600)
            best_build = min(best_build, built - start)
            best_sign = min(best_sign, time.perf_counter() - built)
        store.close()
    print(f"| 2^20 entries, 1 % revoked (10,485 rows) | {best_build * 1000:.0f} ms | {best_sign * 1000:.0f} ms | "
          f"{(best_build + best_sign) * 1000:.0f} ms | ≤ 1,000 ms |")


def lookups() -> None:
    rng = random.Random(9)
    key = IssuerKey.generate()
    statuses = _list(2, 0.001, rng, 1 << 20)
    now = int(time.time())
    jwt = cc.status.sign_jwt(statuses, key, sub=URI, iat=now, exp=now + 86400, ttl=3600,
                             iss="urn:civiccert:lg:122076")
    token = parse_token(jwt)
    indexes = [rng.randrange(1 << 20) for _ in range(100_000)]
    start = time.perf_counter()
    for idx in indexes:
        token.status(idx)
    per_lookup = (time.perf_counter() - start) / len(indexes)
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "1").write_text(jwt)
        source = StatusListSource(directory=Path(folder))
        source.get(URI)  # loaded and decompressed once, like a verifier's cache
        public = key.public_key
        ref = {"status_list": {"idx": 0, "uri": URI}}
        n = 2_000
        start = time.perf_counter()
        for idx in indexes[:n]:
            ref["status_list"]["idx"] = idx
            evaluate_status(ref, source, issuer_code="122076", public_key=lambda _kid, _code: public, now=now,
                            skew=60)
        per_check = (time.perf_counter() - start) / n
    print(f"| bit lookup in a parsed, cached list (`token.status(idx)`) | {per_lookup * 1e6:.2f} µs | ≤ 20 µs |")
    print(f"| full REVOCATION decision from a cached list (its signature verified once) | "
          f"{per_check * 1e6:.0f} µs | ≤ 20 µs |")


def gas() -> None:
    chain = cc.connect("embedded")
    admin, operator = cc.dev_account(chain), cc.dev_account(chain)
    registry = Registry.deploy(chain, admin)
    registry.register_municipality(122076, operator.address)
    city = Registry(chain, registry.address, operator)
    used = [city.publish_status_lists(secrets.token_bytes(32)).gas_used for _ in range(5)]
    print(f"| publishStatusLists (one publication, any number of changes) | first {used[0]:,}, then "
          f"{sum(used[1:]) // 4:,} (mean of 4) | ≤ 50,000 |")


def main() -> None:
    print("### Size of 1,000,000-entry lists (zlib level 9, DEFLATE as the draft)\n")
    sizes()
    print("\n### Publish and sign (build from the journal + JWT + CWT + manifest), best of 3\n")
    print("| list | build | sign both forms | total | target |")
    print("|---|---:|---:|---:|---:|")
    publish_time()
    print("\n### Status lookup per credential\n")
    print("| what | time | target |")
    print("|---|---:|---:|")
    lookups()
    print("\n### Gas (embedded EVM)\n")
    print("| transaction | gas | target |")
    print("|---|---:|---:|")
    gas()


if __name__ == "__main__":
    main()
