#!/usr/bin/env python3
"""Compile contracts/CivicRegistry.sol with the pinned solcjs into the shipped artifact.

    .venv/bin/python scripts/compile_contracts.py            # (re)write the artifact
    .venv/bin/python scripts/compile_contracts.py --check    # exit 1 if the shipped artifact differs

The compiler is node_modules/solc (solcjs, pinned to 0.8.28 in package-lock.json), driven through its
Standard JSON interface with settings that make the output deterministic (metadata bytecodeHash "none").
The artifact is JSON with sorted keys and a trailing newline, so a rebuild is byte-identical.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "contracts" / "CivicRegistry.sol"
ARTIFACT = ROOT / "src" / "civiccert" / "chain" / "artifacts" / "CivicRegistry.json"
CONTRACT = "CivicRegistry"
SOLC_VERSION = "0.8.28"
SETTINGS: dict[str, Any] = {
    "evmVersion": "shanghai",
    "optimizer": {"enabled": True, "runs": 200},
    "metadata": {"bytecodeHash": "none"},
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
}

# Reads Standard JSON on stdin, writes solc's Standard JSON output on stdout.
_NODE_DRIVER = """
const solc = require(process.argv[1]);
let input = '';
process.stdin.on('data', (c) => { input += c; });
process.stdin.on('end', () => {
  process.stdout.write(JSON.stringify({version: solc.version(), output: JSON.parse(solc.compile(input))}));
});
"""


def compile_artifact() -> str:
    """Return the artifact text for the current source (raises SystemExit on compiler errors)."""
    node = shutil.which("node")
    if node is None:
        raise SystemExit("node not found on PATH")
    solc_dir = ROOT / "node_modules" / "solc"
    if not solc_dir.is_dir():
        raise SystemExit(f"{solc_dir} missing: run scripts/setup")
    source = SOURCE.read_text(encoding="utf-8")
    standard_input = {
        "language": "Solidity",
        "sources": {"CivicRegistry.sol": {"content": source}},
        "settings": SETTINGS,
    }
    proc = subprocess.run(
        [node, "-e", _NODE_DRIVER, str(solc_dir)],
        input=json.dumps(standard_input),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if proc.returncode != 0:
        raise SystemExit(f"solcjs failed:\n{proc.stderr[-4000:]}")
    result = json.loads(proc.stdout)
    version: str = result["version"]
    if not version.startswith(SOLC_VERSION + "+"):
        raise SystemExit(f"expected solc {SOLC_VERSION}, node_modules has {version}")
    output = result["output"]
    errors = [e for e in output.get("errors", []) if e["severity"] == "error"]
    warnings = [e for e in output.get("errors", []) if e["severity"] != "error"]
    for w in warnings:
        print(w["formattedMessage"], file=sys.stderr)
    if errors:
        raise SystemExit("\n".join(e["formattedMessage"] for e in errors))
    contract = output["contracts"]["CivicRegistry.sol"][CONTRACT]
    artifact = {
        "contractName": CONTRACT,
        "sourceName": "contracts/CivicRegistry.sol",
        "sourceSha256": hashlib.sha256(source.encode("utf-8")).hexdigest(),
        "compiler": {"name": "solc", "version": version, "settings": SETTINGS},
        "abi": contract["abi"],
        "bytecode": "0x" + contract["evm"]["bytecode"]["object"],
        "deployedBytecode": "0x" + contract["evm"]["deployedBytecode"]["object"],
    }
    return json.dumps(artifact, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the shipped artifact is stale")
    args = parser.parse_args(argv)
    text = compile_artifact()
    if args.check:
        shipped = ARTIFACT.read_text(encoding="utf-8") if ARTIFACT.exists() else ""
        if shipped != text:
            print(f"{ARTIFACT.relative_to(ROOT)} is stale: run scripts/compile_contracts.py", file=sys.stderr)
            return 1
        print(f"{ARTIFACT.relative_to(ROOT)} is up to date")
        return 0
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_text(text, encoding="utf-8")
    print(f"wrote {ARTIFACT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
