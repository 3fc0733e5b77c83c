"""Merkle batch tree: build + every audit path, and proof verification, at 1k / 10k / 100k leaves.

    .venv/bin/python benchmarks/bench_merkle.py

Prints a table; nothing is asserted (speed targets live here, not in unit tests).
"""

from __future__ import annotations

import os
import time

from civiccert.chain.merkle import MerkleTree, verify_inclusion


def _best(fn: object, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    print(f"{'leaves':>8} {'build s':>9} {'all proofs s':>13} {'build+proofs s':>15} {'verify us/proof':>16}")
    for size in (1_000, 10_000, 100_000):
        hashes = [os.urandom(32) for _ in range(size)]
        build = _best(lambda h=hashes: MerkleTree(h))
        tree = MerkleTree(hashes)
        proofs_time = _best(tree.proofs)
        both = _best(lambda h=hashes: MerkleTree(h).proofs())
        proofs = tree.proofs()
        sample = range(0, size, max(1, size // 2_000))
        start = time.perf_counter()
        for i in sample:
            assert verify_inclusion(hashes[i], i, size, proofs[i], tree.root)
        verify = (time.perf_counter() - start) / len(sample) * 1e6
        print(f"{size:>8} {build:>9.3f} {proofs_time:>13.3f} {both:>15.3f} {verify:>16.1f}")


if __name__ == "__main__":
    main()
