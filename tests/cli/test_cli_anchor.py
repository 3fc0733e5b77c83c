"""`civiccert anchor` against a real anvil: a readable summary, a JSON object, and exit 69 while work is left."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from clikit import run

from civiccert.demo import sample_record_path

PASS = "cli-anchor-passphrase"


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVICCERT_KEY_PASSPHRASE", PASS)
    monkeypatch.setenv("LANG", "C.UTF-8")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.anvil
@pytest.mark.slow
def test_anchor_exits_69_while_the_node_is_down_and_0_once_all_is_anchored(capsys: pytest.CaptureFixture[str],
                                                                           tmp_path: Path) -> None:
    from civiccert.chain.nodes import find_anvil
    from civiccert.errors import ConfigError

    try:
        find_anvil()
    except ConfigError:
        pytest.skip("anvil binary not installed (run scripts/setup)")
    home = tmp_path / "home"
    assert run(capsys, "init", home, "--municipality-code", "122076", "--municipality-name", "松戸市")[0] == 0
    port = str(_free_port())
    code, _, err = run(capsys, "--home", home, "chain", "up", "--port", port)
    assert code == 0, err
    try:
        for name in ("a.json", "b.json"):  # each with its paper twin: 4 credentials
            code, _, err = run(capsys, "--home", home, "issue", "resident-record",
                               sample_record_path("household-matsudo.json"), "-o", tmp_path / name)
            assert code == 0, err
        assert run(capsys, "--home", home, "chain", "down")[0] == 0

        code, out, err = run(capsys, "--home", home, "anchor")
        assert code == 69
        summary, left = err.splitlines()
        # whether the node was found down on opening or mid-run, the 4 credentials are left
        assert summary.startswith("anchored 0 batches (0 credentials); left 4, failed ")
        assert left.startswith("error: chain_unreachable: 4 credentials not anchored yet")
        assert "civiccert anchor" in left
        code, out, _ = run(capsys, "--home", home, "anchor", "--json")
        assert code == 69
        report = json.loads(out)
        assert (report["complete"], report["left"], report["error"]) == (False, 4, "chain_unreachable")
        code, out, err = run(capsys, "--home", home, "status", "--json")  # the journal still answers
        assert code == 0, err
        assert json.loads(out)["pending"] == 4

        code, _, err = run(capsys, "--home", home, "chain", "up", "--port", port)
        assert code == 0, err
        code, out, err = run(capsys, "--home", home, "anchor", "--json")
        assert code == 0, err
        report = json.loads(out)
        assert (report["complete"], report["left"], report["anchored_credentials"]) == (True, 0, 4)
        assert report["transactions"]
        assert all(tx.startswith("0x") for tx in report["transactions"])
        assert report["status"]["anchored"] == 4
        code, _, err = run(capsys, "--home", home, "anchor")  # nothing left: a quiet success
        assert code == 0
        assert err.splitlines() == ["anchored 0 batches (0 credentials); left 0, failed 0, revocations open 0"]
    finally:
        run(capsys, "--home", home, "chain", "down")
