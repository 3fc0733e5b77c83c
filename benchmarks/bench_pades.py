"""Render, PAdES signing and PDF-signature validation of a printed copy, each timed on its own.

    .venv/bin/python benchmarks/bench_pades.py [--runs N]

A TEST CA certifies 松戸市's key (key file, ES256); the sample 4-member 住民票 and the sample 印鑑登録証明書 are
issued once, then each copy is rendered (fpdf2), signed (pyHanko, PAdES B-B) and validated (pyHanko with the
TEST root, as ``civiccert verify`` does, without the QR scan) ``--runs`` times. Wall-clock medians in ms.
Record the table in docs/paper.md ("The signed PDF").
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

import civiccert as cc
from civiccert.paper import payload as paper_payload
from civiccert.paper.pdf import render_pdf_bytes
from civiccert.paper.pdfsig import sign_pdf, validate_pdf
from civiccert.pki.home import home_chain, issue_test_leaf

PASSPHRASE = b"bench-pades-passphrase"


def _ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:7.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        ca = cc.TestCA.create(root / "ca", now=dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
        home = root / "home"
        cc.Issuer.init(home, municipality_code="122076", municipality_name="松戸市", passphrase=PASSPHRASE).close()
        issue_test_leaf(home, ca)
        issuer = cc.Issuer.open(home, passphrase=PASSPHRASE)
        chain = home_chain(home, issuer.config)
        assert chain is not None
        verifier = cc.Verifier(trust=issuer.trust_export())
        print("| copy | render ms | sign ms | validate ms | unsigned KiB | signed KiB |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        copies = (("住民票 (4 members)", "household-matsudo.json"), ("印鑑登録証明書", "seal-registrant.json"))
        for label, sample in copies:
            cred = issuer.issue(cc.load_record(cc.sample_record_path(sample)))
            claims = verifier.verify(cred).claims
            assert cred.paper_cose is not None
            text = paper_payload.qr_text(cred.paper_cose, None)
            render, sign, validate = [], [], []
            for _ in range(runs):
                t0 = time.perf_counter()
                unsigned = render_pdf_bytes(cred.vct, claims, text)
                t1 = time.perf_counter()
                signed = sign_pdf(unsigned, issuer.key, chain)
                t2 = time.perf_counter()
                found = validate_pdf(signed, roots=[ca.root])
                t3 = time.perf_counter()
                assert found.code is cc.ReasonCode.OK
                assert found.trusted
                render.append(t1 - t0)
                sign.append(t2 - t1)
                validate.append(t3 - t2)
            print(f"| {label} | {_ms(render)} | {_ms(sign)} | {_ms(validate)} | {len(unsigned) / 1024:6.0f} | "
                  f"{len(signed) / 1024:6.0f} |")
        issuer.close()


if __name__ == "__main__":
    main()
