"""What the text report of ``civiccert verify`` costs against the verification it reports (issue 15: ≤ 10 %).

    .venv/bin/python benchmarks/bench_render.py [--n 2000] [--profile]

One 58-disclosure household credential is verified offline ``--n`` times and its result rendered ``--n``
times in each language (CPU time, best of 3), in the same run, so the ratio holds on a shared machine; then
again with the 和暦 date cache emptied before each rendering (a bulk run of different households).
``--profile`` prints the top of a cProfile of the Japanese rendering.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import cpu_rate, full_household_record

import civiccert as cc
from civiccert.cli import render as renderer
from civiccert.cli.render import render_one
from civiccert.i18n import set_language


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2_000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    issuer = cc.Issuer.init(Path(tempfile.mkdtemp(prefix="civiccert-bench-")) / "home", municipality_code="122076",
                            municipality_name="松戸市", passphrase=b"bench-passphrase")
    cred = next(iter(issuer.issue_many([full_household_record()], paper=False)))
    verifier = cc.Verifier(trust=issuer.trust_export())
    result = verifier.verify(cred).to_dict()
    issuer.close()
    print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; N = {args.n:,}")
    verify = cpu_rate(lambda: verifier.verify(cred).to_dict(), args.n)
    print(f"| full credential verify + to_dict | {1e3 / verify:.3f} ms | 1.00 |")
    for lang in ("ja", "en"):
        set_language(lang)
        render = cpu_rate(lambda lang=lang: render_one(result, lang), args.n)
        print(f"| render_one, {lang} | {1e3 / render:.3f} ms | {verify / render:.2f} of a verify (target <= 0.10) |")
        if not hasattr(renderer, "_date_text"):
            continue  # the renderer before the date cache (for before / after runs)
        # every household different: no date seen before (labels and check rows repeat in any bulk run)
        cold = cpu_rate(lambda lang=lang: (renderer._date_text.cache_clear(), render_one(result, lang)), args.n)
        print(f"| render_one, {lang}, every date new | {1e3 / cold:.3f} ms | {verify / cold:.2f} of a verify |")
    if args.profile:
        set_language("ja")
        profile = cProfile.Profile()
        profile.runcall(lambda: [render_one(result, "ja") for _ in range(args.n)])
        pstats.Stats(profile).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
