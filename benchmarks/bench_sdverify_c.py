"""The compiled SD-JWT verify loop against the pure-Python path, in one process, interleaved.

    .venv/bin/python benchmarks/bench_sdverify_c.py [--rounds 4]

The same 1,000 credentials (58 disclosures), 2-claim presentations and KB-JWT presentations are verified
offline with ``sdjwt._c`` (the C module) and with it set to None (what ``CIVICCERT_PURE_PYTHON=1`` does),
round after round with one ES256 verify measured in each round; best CPU time per item of each. On a busy
machine this is steadier than comparing two runs of bench_verify.py.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import es256_limits, full_household_record

import civiccert as cc
from civiccert.credentials import sdjwt
from civiccert.credentials.keys import IssuerKey

SHOWN = ["members[0].name", "household.address"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--n", type=int, default=1_000)
    args = parser.parse_args()
    compiled = getattr(sdjwt, "_c", None)
    issuer = cc.Issuer.init(Path(tempfile.mkdtemp(prefix="civiccert-bench-")) / "home", municipality_code="122076",
                            municipality_name="松戸市", passphrase=b"bench-passphrase")
    record = full_household_record()
    creds = list(issuer.issue_many((record for _ in range(args.n)), paper=False))
    vct, body = cc.credentials.claims.record_claims(record)
    holder = IssuerKey.generate()
    now = int(time.time())
    bound = [cc.CredentialFile(id=f"c{i}", vct=vct, sd_jwt=sdjwt.issue(
        {"iss": "urn:civiccert:lg:122076", "iat": now, "exp": now + 86400, "vct": vct, **body}, issuer.key,
        holder_jwk=holder.public_jwk())) for i in range(args.n)]
    rows = {
        "full credential, of one ES256 verify": (cc.Verifier(trust=issuer.trust_export()), creds, 1),
        "2-claim presentation, of one ES256 verify": (
            cc.Verifier(trust=issuer.trust_export()), [cc.present(c, SHOWN) for c in creds], 1),
        "2-claim presentation with KB-JWT, of verify ÷ 2": (
            cc.Verifier(trust=issuer.trust_export(), policy=cc.Policy(
                require_holder_binding=True, aud="https://bank.example", nonce="n-1")),
            [cc.present(c, SHOWN, holder_key=holder, aud="https://bank.example", nonce="n-1") for c in bound], 2),
    }
    modes = {"compiled": compiled, "pure Python": None} if compiled is not None else {"pure Python": None}
    best: dict[tuple[str, str], float] = {}
    es256 = float("inf")
    for _ in range(args.rounds):
        es256 = min(es256, 1 / es256_limits(1_000, 1)[1])
        for mode, module in modes.items():
            sdjwt._c = module
            for label, (verifier, items, _) in rows.items():
                start = time.process_time()
                results = verifier.verify_many(items)
                per_item = (time.process_time() - start) / len(items)
                assert all(r.verdict == cc.Verdict.VALID for r in results)
                best[label, mode] = min(best.get((label, mode), float("inf")), per_item)
    sdjwt._c = compiled
    print(f"load average {os.getloadavg()[0]:.1f}; one ES256 verify {es256 * 1e6:.0f} µs (best of {args.rounds})")
    for label, (_, _, share) in rows.items():
        cells = [f"{mode} {best[label, mode] * 1e6:.0f} µs = {es256 * share / best[label, mode]:.2f}" for mode in modes]
        print(f"{label}: " + "; ".join(cells))
    issuer.close()


if __name__ == "__main__":
    main()
