"""A business verifying an uploaded scan or photo of a printed copy (or a credential file).

    python examples/verify_scan.py UPLOAD [--trust matsudo.json] [--rpc URL --registry ADDR]

Offline with a municipality's trust file, online with the registry; prints one line per QR code found.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import civiccert as cc


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("upload", type=Path)
    parser.add_argument("--trust", type=Path, action="append", default=[])
    parser.add_argument("--rpc")
    parser.add_argument("--registry")
    args = parser.parse_args()

    trust = cc.TrustSnapshot.load_many(args.trust) if args.trust else None
    online = cc.OnlineRegistry.lazy(lambda: cc.connect(args.rpc), args.registry) if args.rpc else None
    verifier = cc.Verifier(trust=trust, registry=online)
    try:
        results = verifier.verify_path(args.upload)
    except cc.CivicCertError as exc:  # unreadable upload: tell the user, never crash
        print(f"cannot read {args.upload.name}: {exc.code}", file=sys.stderr)
        return 65
    for result in results:
        people = result.claims.get("members") or [result.claims.get("registrant") or {}]
        names = "、".join(str(p.get("name", "?")) for p in people)
        reasons = ",".join(r.value for r in result.reasons)
        print(f"{result.source}: {result.verdict.value} {reasons} {result.issuer.get('name')} {names}".rstrip())
    return 0 if all(r.verdict == cc.Verdict.VALID for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
