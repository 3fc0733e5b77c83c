"""``civiccert verify DIR`` with many offline inputs: a process pool, same results and order as one core."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import civiccert as cc
from civiccert.cli import main
from civiccert.cli.bulk import POOL_THRESHOLD


def test_pool_gives_the_single_core_results_in_input_order(capsys: pytest.CaptureFixture[str],
                                                           tmp_path: Path) -> None:
    issuer = cc.Issuer.init(tmp_path / "home", municipality_code="122076", municipality_name="松戸市",
                            passphrase=b"bulk-test-passphrase")
    record = cc.load_record(cc.sample_record_path("household-matsudo.json"))
    folder = tmp_path / "in"
    folder.mkdir()
    for i, cred in enumerate(issuer.issue_many((record for _ in range(POOL_THRESHOLD)), paper=False)):
        text = cred.dumps()
        if i == 7:  # one tampered credential: its verdict must stay at its place
            _jwt, rest = text.split('"sd_jwt": "', 1) if '"sd_jwt": "' in text else text.split('"sd_jwt":"', 1)
            text = text.replace(rest[:40], rest[:39] + ("A" if rest[39] != "A" else "B"), 1)
        (folder / f"{i:03d}.json").write_text(text, encoding="utf-8")
    (folder / "zz-bad.json").write_text("{not json", encoding="utf-8")
    trust = tmp_path / "trust.json"
    issuer.trust_export().save(trust)
    outputs = []
    for jobs in ("1", "2"):
        code = main(["verify", str(folder), "--offline", "--trust", str(trust), "--json", "--jobs", jobs])
        out, _ = capsys.readouterr()
        assert code in (1, 2)  # the tampered one is not VALID
        outputs.append(json.loads(out))
    for output in outputs:  # a check's note may name the trust file's age in seconds, which moves between runs
        for result in output["results"]:
            for check in result["checks"]:
                check.pop("detail", None)
    assert outputs[0] == outputs[1]
    verdicts = [r["verdict"] for r in outputs[1]["results"]]
    assert verdicts[7] != "VALID"
    assert verdicts.count("VALID") == POOL_THRESHOLD - 1
    assert [r["source"] for r in outputs[1]["results"]][:3] == ["000.json", "001.json", "002.json"]
    code = main(["verify", str(folder), "--offline", "--trust", str(trust), "--lang", "en"])
    out, _ = capsys.readouterr()
    assert code in (1, 2)
    assert out.count("\nVALID  (") + out.startswith("VALID  (") == POOL_THRESHOLD - 1
    assert "(007.json)" in out
    assert "Summary" in out
