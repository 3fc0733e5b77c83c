"""Gas used by the registry's hot paths, from real transaction receipts on a managed anvil.

    .venv/bin/python benchmarks/bench_gas.py

Prints a Markdown table (copied into docs/gas.md) and writes nothing. Random 32-byte hashes, so calldata
cost varies by a few gas between runs (a zero byte costs 4 gas, a non-zero byte 16).
"""

from __future__ import annotations

import os
import time

from civiccert.chain.nodes import AnvilNode, connect, dev_account
from civiccert.chain.registry import Registry
from civiccert.credentials.keys import IssuerKey

CITY = 122076
OPEN_ATTESTATION = {"anchor one batch": 47_886, "revoke one": 47_980, "revokeMany, per credential": 24_453}
TARGETS = {"anchor one batch": 48_000, "revoke one": 48_000, "revokeMany, per credential": 24_000}


def main() -> None:
    with AnvilNode() as node:
        chain = connect(node.url)
        admin, operator = dev_account(chain), dev_account(chain)
        registry = Registry.deploy(chain, admin)
        setup = registry.register_municipality(CITY, operator.address)
        city = Registry(chain, registry.address, operator)
        issuer_key = IssuerKey.generate()
        start = int(chain.w3.eth.get_block("latest")["timestamp"]) - 30 * 86_400  # issued before going on chain
        key = city.register_key(issuer_key.thumbprint, start, public_jwk=issuer_key.public_jwk(),
                                cert_hash=os.urandom(32))
        bare_key = IssuerKey.generate()
        bare = city.register_key(bare_key.thumbprint, start, public_jwk=bare_key.public_jwk())
        renewed = city.record_certificate(issuer_key.thumbprint, os.urandom(32))
        second = city.add_operator(dev_account(chain).address)
        rows: list[tuple[str, float, str]] = [
            ("registerMunicipality (+ first operator)", setup.gas_used, "1 tx"),
            ("registerKey (P-256 JWK, 126 bytes, certificate recorded)", key.gas_used, "1 tx"),
            ("registerKey (P-256 JWK, 126 bytes, no certificate)", bare.gas_used, "1 tx"),
            ("recordCertificate (renewed leaf)", renewed.gas_used, "1 tx"),
            ("addOperator (by an operator)", second.gas_used, "1 tx"),
        ]
        anchors = [city.anchor(os.urandom(32), 100).gas_used for _ in range(5)]
        rows.append(("anchor one batch", sum(anchors) / len(anchors), "mean of 5"))
        revokes = [city.revoke([os.urandom(32)], 1).gas_used for _ in range(5)]
        rows.append(("revoke one", sum(revokes) / len(revokes), "mean of 5"))
        for n in (10, 100):
            outcome = city.revoke([os.urandom(32) for _ in range(n)], 1)
            label = "revokeMany, per credential" if n == 100 else f"revokeMany, per credential (n={n})"
            rows.append((label, outcome.gas_used / n, f"n={n}, total {outcome.gas_used:,}"))
        root = os.urandom(32)
        city.anchor(root, 1)
        triples = [(CITY, root, os.urandom(32)) for _ in range(10_000)]
        started = time.perf_counter()
        city.statuses(triples)
        rate = len(triples) / (time.perf_counter() - started)
    print(f"anvil {chain.w3.client_version}, chain id {chain.chain_id}\n")
    print("| operation | gas | target | OpenAttestation | note |")
    print("|---|---:|---:|---:|---|")
    for label, gas, note in rows:
        target = TARGETS.get(label)
        oa = OPEN_ATTESTATION.get(label)
        print(f"| {label} | {gas:,.0f} | {f'≤ {target:,}' if target else ''} | {f'{oa:,}' if oa else ''} | {note} |")
    print(f"\nstatuses(): {rate:,.0f} status calls/s (10,000 triples, JSON-RPC batches of 1,000)")


if __name__ == "__main__":
    main()
