"""The issue path against one ES256 signature, interleaved best-of rounds (issue 15's issue targets).

    .venv/bin/python benchmarks/bench_issue.py [--rounds 8] [--n 200]
    CIVICCERT_PURE_PYTHON=1 .venv/bin/python benchmarks/bench_issue.py   # the pure-Python fallback

Each round times, one after the other, N raw ES256 signatures, N ``sdjwt.issue`` of the 58-disclosure
household and N ``Issuer.issue_many`` with and without the paper twin (one chunk, journaled); the best
round of each (CPU time of this process) is printed as a fraction of the best signature, so that a busy
shared machine moves the ratios less than the rates. No chain: nothing here is anchored.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import full_household_record
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

import civiccert as cc
from civiccert.credentials._native import sdissue


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    n = args.n
    record = full_household_record()
    issuer = cc.Issuer.init(Path(tempfile.mkdtemp(prefix="civiccert-bench-")) / "home", municipality_code="122076",
                            municipality_name="松戸市", passphrase=b"bench-passphrase")
    vct, body = cc.credentials.claims.record_claims(record)
    claims = {"iss": "urn:civiccert:lg:122076", "iat": 1_800_000_000, "nbf": 1_800_000_000,
              "exp": 1_800_086_400, "vct": vct, **body}
    private = ec.generate_private_key(ec.SECP256R1())
    algorithm, message = ec.ECDSA(hashes.SHA256()), b"x" * 600
    best: dict[str, float] = {}

    def timed(name: str, operation: Callable[[], object]) -> None:
        start = time.process_time()
        operation()
        best[name] = min(best.get(name, float("inf")), (time.process_time() - start) / n)

    list(issuer.issue_many(record for _ in range(50)))  # warm-up
    for _ in range(args.rounds):
        timed("sign", lambda: [private.sign(message, algorithm) for _ in range(n)])
        timed("sd", lambda: [cc.credentials.sdjwt.issue(claims, issuer.key) for _ in range(n)])
        timed("full", lambda: list(issuer.issue_many((record for _ in range(n)), chunk=n)))
        timed("no paper", lambda: list(issuer.issue_many((record for _ in range(n)), chunk=n, paper=False)))
    issuer.close()
    sign = best["sign"]
    print("issue path: " + ("compiled builder" if sdissue is not None else "pure Python"))
    print(f"| what (58 disclosures, best of {args.rounds} × {n}, CPU) | per item | fraction | target |")
    print("|---|---:|---:|---:|")
    print(f"| ES256 sign (cryptography) | {sign * 1e6:.1f} µs | | |")
    print(f"| full issue path: SD-JWT + paper twin + journal | {best['full'] * 1e6:.0f} µs "
          f"| {2 * sign / best['full']:.3f} of sign ÷ 2 | 0.30 |")
    print(f"| SD-JWT + journal (no paper) | {best['no paper'] * 1e6:.0f} µs "
          f"| {sign / best['no paper']:.3f} of sign | |")
    print(f"| SD-JWT alone (sdjwt.issue) | {best['sd'] * 1e6:.1f} µs | {sign / best['sd']:.3f} of sign | 0.40 |")


if __name__ == "__main__":
    main()
