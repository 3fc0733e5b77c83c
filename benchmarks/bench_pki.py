"""Verification with X.509 chain validation against today's full offline verify, printed as a ratio.

    .venv/bin/python benchmarks/bench_pki.py [--quick]

Same 4-member 住民票, same machine, CPU seconds of this process. "today" is an uncertified home's credentials
verified with its trust file; "x5c" is a certified home's (TEST CA) verified with its trust file AND the root
and CRL (every chain validated, cached per distinct x5c and day); "cold" validates a new chain each time.
Target: x5c no more than 10% slower than today. Record the table in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import civiccert as cc
from civiccert.pki.home import issue_test_leaf
from civiccert.pki.validate import encode_x5c


def measure(verifier: cc.Verifier, creds: list[cc.CredentialFile]) -> float:
    t0 = time.process_time()
    results = verifier.verify_many(creds)
    seconds = time.process_time() - t0
    assert all(r.verdict is cc.Verdict.VALID for r in results), results[0].to_dict()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    n = 500 if parser.parse_args().quick else 3_000
    work = Path(tempfile.mkdtemp(prefix="civiccert-bench-pki-"))
    record = cc.load_record(cc.sample_record_path("household-matsudo.json"))
    ca = cc.TestCA.create(work / "ca")
    plain = cc.Issuer.init(work / "plain", municipality_code="122076", municipality_name="松戸市", passphrase=b"b")
    certified = cc.Issuer.init(work / "cert", municipality_code="122076", municipality_name="松戸市", passphrase=b"b")
    issue_test_leaf(certified.home, ca)
    certified.close()
    certified = cc.Issuer.open(work / "cert", passphrase=b"b")
    today_creds = list(plain.issue_many((record for _ in range(n)), paper=False))
    x5c_creds = list(certified.issue_many((record for _ in range(n)), paper=False))
    anchors = cc.TrustAnchors.from_files(ca.directory / "root.pem", [ca.crl_path])

    today = measure(cc.Verifier(trust=plain.trust_export()), today_creds)
    signed = cc.TrustSnapshot.parse(certified.signed_trust_export())  # anchors require a signed export
    x5c = measure(cc.Verifier(trust=signed, trust_anchors=anchors), x5c_creds)
    chain = [certified.key.public_key]
    t0 = time.process_time()
    cold_n = max(n // 10, 50)
    for _ in range(cold_n):  # a fresh TrustAnchors per call: nothing cached
        leaf = ca.issue_leaf(chain[0], code="122076", name="松戸市", issuer_url="https://122076.civiccert.example")
        cc.TrustAnchors([ca.root]).validate(encode_x5c([leaf, ca.intermediate]), int(time.time()))
    cold = time.process_time() - t0

    print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; N = {n}")
    print("| verify (offline, CPU) | rate | per item |")
    print("|---|---:|---:|")
    print(f"| today: trust file | {n / today:,.0f} /s | {today * 1e3 / n:.3f} ms |")
    print(f"| x5c: trust file + root + CRL, chain cached | {n / x5c:,.0f} /s | {x5c * 1e3 / n:.3f} ms |")
    print(f"| chain validation alone, uncached (incl. issuing the leaf) | {cold_n / cold:,.0f} /s | "
          f"{cold * 1e3 / cold_n:.3f} ms |")
    print(f"\nx5c / today time ratio: {x5c / today:.3f} ({(x5c / today - 1) * 100:+.1f}%; target <= +10%)")
    plain.close()
    certified.close()


if __name__ == "__main__":
    main()
