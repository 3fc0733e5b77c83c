"""CPU per ``POST /v1/credentials`` before signing: the body's strict JSON parse and the record load.

Prints µs per call (CPU time, best of several runs) and each as a ratio to one raw ES256 sign measured in the
same run (the VM's speed moves; the ratio much less). Run: ``PYTHONPATH=src python benchmarks/bench_record_load.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import cpu_rate, es256_limits

import civiccert as cc
from civiccert.credentials.strictjson import json_parse
from civiccert.records import loader


def main() -> None:
    sample = json.loads(cc.sample_record_path("household-matsudo.json").read_text(encoding="utf-8"))
    body = json.dumps({"record": sample}).encode()  # what a client sends: not orjson's canonical bytes
    pretty = json.dumps({"record": sample}, indent=2, ensure_ascii=False).encode()
    cc.load_record(sample)
    checks = {
        "json_parse(body)": lambda: json_parse(body, field="body"),
        "json_parse(pretty body)": lambda: json_parse(pretty, field="body"),
        "load_record(sample)": lambda: cc.load_record(sample),
        "schema check (sample)": lambda: loader._check_schema(sample),
    }
    sign = es256_limits(n=2_000)[0]
    print(f"ES256 sign: {1e6 / sign:.1f} µs")
    for name, operation in checks.items():
        micros = 1e6 / cpu_rate(operation, 2_000, repeats=5)
        print(f"{name:28s} {micros:7.1f} µs  = {micros * sign / 1e6:5.2f} signs")


if __name__ == "__main__":
    main()
