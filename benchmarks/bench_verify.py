"""Issuer and Verifier end to end: issue rate (signing + paper twin + journal), offline and online verification.

    .venv/bin/python benchmarks/bench_verify.py [--quick]

Online figures run against a real anvil started here (127.0.0.1, stopped at the end). Rates are per CPU
second of this process (time.process_time) where marked, wall clock otherwise; record the printed table in
docs/benchmarks.md together with the machine load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import civiccert as cc
from civiccert.paper.payload import qr_text


def setup(chain: cc.Chain, workdir: Path) -> cc.Issuer:
    registry = cc.Registry.deploy(chain, cc.dev_account(chain))
    issuer = cc.Issuer.init(workdir / f"home-{chain.kind}", municipality_code="122076",
                            municipality_name="松戸市", passphrase=b"bench-passphrase")
    assert issuer.account is not None
    cc.fund_dev_account(chain, issuer.account.address)
    issuer.use_chain(chain, registry.address)
    issuer.register_on_chain(registry)
    return issuer


def rate(label: str, count: int, seconds: float, unit: str = "/s") -> None:
    print(f"| {label:<58} | {count:>8,} | {count / seconds:>12,.0f} {unit} | {seconds * 1e3 / count:>8.3f} ms |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n = 1_000 if args.quick else 5_000
    record = cc.load_record(cc.sample_record_path("household-matsudo.json"))
    workdir = Path(tempfile.mkdtemp(prefix="civiccert-bench-"))
    print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print("| operation | N | rate | per item |")
    print("|---|---:|---:|---:|")

    with cc.AnvilNode() as node:
        chain = cc.connect(node.url)
        issuer = setup(chain, workdir)
        t0 = time.process_time()
        creds = list(issuer.issue_many(record for _ in range(n)))
        rate("issue 4-member 住民票: SD-JWT + paper twin + journal (CPU)", n, time.process_time() - t0)
        t0 = time.process_time()
        list(issuer.issue_many((record for _ in range(n)), paper=False))
        rate("issue 4-member 住民票: SD-JWT + journal (CPU)", n, time.process_time() - t0)
        t0 = time.perf_counter()
        issuer.anchor()
        rate("anchor everything pending: credential hashes (wall)", 3 * n, time.perf_counter() - t0)
        creds = [issuer.with_receipts(c) for c in creds]
        trust = issuer.trust_export()
        registry_address = issuer.config.chain.registry if issuer.config.chain else ""

        offline = cc.Verifier(trust=trust)
        shown = [cc.present(c, ["members[0].name", "household.address"]) for c in creds]
        for label, items in (("offline: full credential, everything disclosed (CPU)", creds),
                             ("offline: presentation of 2 claims (CPU)", shown)):
            t0 = time.process_time()
            results = offline.verify_many(items)
            rate(label, len(items), time.process_time() - t0)
            assert all(r.verdict == cc.Verdict.VALID for r in results)
        papers = [qr_text(c.paper_cose, c.paper_receipt) for c in creds if c.paper_cose]
        t0 = time.process_time()
        results = offline.verify_many(papers)
        rate("offline: printed copy from its QR text (CPU)", len(papers), time.process_time() - t0)
        assert all(r.verdict == cc.Verdict.VALID for r in results)

        online = cc.Verifier(trust=trust, registry=cc.OnlineRegistry.of(chain, registry_address))
        online.verify(shown[0])  # warm the key and municipality cache, as a long-running verifier has it
        t0 = time.perf_counter()
        results = online.verify_many(shown)
        rate("online bulk against anvil: presentations (wall)", len(shown), time.perf_counter() - t0)
        assert all(r.verdict == cc.Verdict.VALID for r in results)
        latencies = []
        for item in shown[:200]:
            t0 = time.perf_counter()
            online.verify(item)
            latencies.append(time.perf_counter() - t0)
        print(f"| {'online single verification latency (wall), median / p95':<58} | {len(latencies):>8,} | "
              f"{statistics.median(latencies) * 1e3:>11.2f} ms | "
              f"{sorted(latencies)[int(len(latencies) * 0.95)] * 1e3:>8.3f} ms |")
        cold = []
        for item in shown[:50]:  # a new verifier each time: keys, municipality and anchor tx read afresh
            fresh = cc.Verifier(registry=cc.OnlineRegistry.of(chain, registry_address))
            t0 = time.perf_counter()
            fresh.verify(item)
            cold.append(time.perf_counter() - t0)
        print(f"| {'online single verification, cold verifier (wall), median / p95':<58} | {len(cold):>8,} | "
              f"{statistics.median(cold) * 1e3:>11.2f} ms | {sorted(cold)[int(len(cold) * 0.95)] * 1e3:>8.3f} ms |")
        issuer.close()


if __name__ == "__main__":
    main()
