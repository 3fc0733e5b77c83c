"""ES256 signing on a SoftHSM2 token (PKCS#11) against a key file, raw and as a full SD-JWT issuance.

    .venv/bin/python benchmarks/bench_hsm.py [--n 5000]

Makes a throwaway SoftHSM2 token in a temporary directory (needs the Debian package softhsm2). Rates are
wall-clock (SoftHSM runs in this process, a network HSM would add its round trip per signature).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_sdjwt import NOW, household

from civiccert.credentials import sdjwt
from civiccert.credentials.keys import IssuerKey
from civiccert.credentials.pkcs11 import Pkcs11Uri, generate_key
from civiccert.credentials.signatures import SigningKey

MODULE = "/usr/lib/softhsm/libsofthsm2.so"


def rate(fn: Callable[[int], object], n: int) -> float:
    fn(0)  # warm-up
    t0 = time.perf_counter()
    for i in range(n):
        fn(i)
    return n / (time.perf_counter() - t0)


def measure(key: SigningKey, n: int) -> tuple[float, float]:
    claims = {"iss": "urn:civiccert:lg:122076", "iat": NOW, "vct": "urn:civiccert:vct:juminhyo:1",
              **household(0)}
    raw = rate(lambda i: key.sign(b"signing input %d" % i), n)
    issued = rate(lambda _i: sdjwt.issue(claims, key, header={"jwk": key.public_jwk()}), max(n // 5, 1))
    return raw, issued


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=5000)
    n = parser.parse_args().n
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "tokens").mkdir()
        conf = Path(tmp) / "softhsm2.conf"
        conf.write_text(f"directories.tokendir = {tmp}/tokens\nobjectstore.backend = file\nlog.level = ERROR\n")
        os.environ["SOFTHSM2_CONF"] = str(conf)
        subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "bench", "--pin", "1234",
                        "--so-pin", "5678"], check=True, capture_output=True)
        token = generate_key(Pkcs11Uri(MODULE, "bench", "issuer"), b"1234")
        file_key = IssuerKey.generate("ES256")
        results = {"key file (cryptography)": measure(file_key, n), "SoftHSM2 token (PKCS#11)": measure(token, n)}
        token.close()
    print(f"ES256, N = {n} raw signatures, {max(n // 5, 1)} SD-JWT issuances (58 disclosures), wall clock\n")
    print("| signer | raw signatures/s | SD-JWT issued/s |")
    print("|---|---:|---:|")
    for name, (raw, issued) in results.items():
        print(f"| {name} | {raw:,.0f} | {issued:,.0f} |")
    (file_raw, file_issued), (hsm_raw, hsm_issued) = results.values()
    print(f"| ratio token / file | {hsm_raw / file_raw:.2f} | {hsm_issued / file_issued:.2f} |")


if __name__ == "__main__":
    main()
