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
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import es256_limits, full_household_record

import civiccert as cc
from civiccert.credentials.keys import IssuerKey
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


LIMITS: dict[str, float] = {}  # ES256 sign / verify per CPU-second, measured at the start of this run


def rate(label: str, count: int, seconds: float, *, limit: str = "", target: float = 0.0) -> None:
    """One row; ``limit`` names the ES256 rate (sign, sign/2, verify, verify/2) the rate is a fraction of."""
    per_second = count / seconds
    share = ""
    if limit:
        base = LIMITS[limit.split("/", maxsplit=1)[0]] / (2 if limit.endswith("/2") else 1)
        share = f" {per_second / base:.2f} of ES256 {limit}" + (f" (target {target:.2f})" if target else "")
    print(f"| {label:<58} | {count:>8,} | {per_second:>12,.0f} /s | {seconds * 1e3 / count:>8.3f} ms |{share}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n = 1_000 if args.quick else 5_000
    record = full_household_record()  # 4 members, every optional item: 58 disclosures
    workdir = Path(tempfile.mkdtemp(prefix="civiccert-bench-"))
    print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    LIMITS["sign"], LIMITS["verify"] = es256_limits()
    print(f"ES256 with cryptography, this run: {LIMITS['sign']:,.0f} signs/s, {LIMITS['verify']:,.0f} verifies/s")
    from civiccert.credentials._native import sdissue, sdverify
    print("issue path: " + ("compiled builder (credentials/_sdissue_c)" if sdissue is not None else "pure Python"))
    print("verify loop: " + ("compiled (credentials/_sdverify_c)" if sdverify is not None else "pure Python"))
    print("| operation | N | rate | per item |")
    print("|---|---:|---:|---:|")

    with cc.AnvilNode() as node:
        chain = cc.connect(node.url)
        issuer = setup(chain, workdir)
        vct, body = cc.credentials.claims.record_claims(record)
        claims = {"iss": "urn:civiccert:lg:122076", "iat": 1_800_000_000, "nbf": 1_800_000_000,
                  "exp": 1_800_086_400, "vct": vct, **body}
        t0 = time.process_time()
        creds = list(issuer.issue_many(record for _ in range(n)))
        rate("issue 4-member 住民票: SD-JWT + paper twin + journal (CPU)", n, time.process_time() - t0,
             limit="sign/2", target=0.30)
        t0 = time.process_time()
        list(issuer.issue_many((record for _ in range(n)), paper=False))
        rate("issue 4-member 住民票: SD-JWT + journal (CPU)", n, time.process_time() - t0, limit="sign")
        t0 = time.process_time()
        for _ in range(n):
            cc.credentials.sdjwt.issue(claims, issuer.key)
        rate("issue 4-member 住民票: SD-JWT alone (sdjwt.issue, CPU)", n, time.process_time() - t0,
             limit="sign", target=0.40)
        t0 = time.perf_counter()
        issuer.anchor()
        rate("anchor everything pending: credential hashes (wall)", 3 * n, time.perf_counter() - t0)
        creds = [issuer.with_receipts(c) for c in creds]
        trust = issuer.trust_export()
        registry_address = issuer.config.chain.registry if issuer.config.chain else ""

        offline = cc.Verifier(trust=trust)
        shown = [cc.present(c, ["members[0].name", "household.address"]) for c in creds]
        for label, items, limit, target in (
                ("offline: full credential, 58 disclosed (CPU)", creds, "verify", 0.40),
                ("offline: presentation of 2 claims (CPU)", shown, "verify", 0.60)):
            t0 = time.process_time()
            results = offline.verify_many(items)
            rate(label, len(items), time.process_time() - t0, limit=limit, target=target)
            assert all(r.verdict == cc.Verdict.VALID for r in results)
        holder = IssuerKey.generate()
        kb_policy = cc.Policy(require_holder_binding=True, aud="https://bank.example", nonce="n-1")
        bound_creds = [cc.CredentialFile(id=c.id, vct=c.vct, sd_jwt=cc.credentials.sdjwt.issue(
            {"iss": "urn:civiccert:lg:122076", "iat": int(time.time()), "exp": int(time.time()) + 86400,
             "vct": c.vct, **body}, issuer.key, holder_jwk=holder.public_jwk(),
            header={"jwk": issuer.key.public_jwk()}))
            for c in creds[:min(n, 2_000)]]
        kb_shown = [cc.present(c, ["members[0].name", "household.address"], holder_key=holder,
                               aud="https://bank.example", nonce="n-1") for c in bound_creds]
        bound = cc.Verifier(trust=trust, policy=kb_policy)
        t0 = time.process_time()
        results = bound.verify_many(kb_shown)
        rate("offline: presentation of 2 claims with KB-JWT (CPU)", len(kb_shown), time.process_time() - t0,
             limit="verify/2", target=0.60)
        assert all(r.verdict == cc.Verdict.VALID for r in results), {r.verdict for r in results}
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
