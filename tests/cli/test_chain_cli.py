"""`civiccert chain`: restarts keep the URL, lost anchors are found at start-up, joining an existing registry.

Driven through the CLI's real entry point; every test that starts anvil stops it in a ``finally``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from clikit import run

from civiccert.chain.nodes import find_anvil, stop_pid
from civiccert.demo import sample_record_path
from civiccert.errors import ConfigError

PASS = "chain-cli-passphrase"
MATSUDO = ("122076", "松戸市")
CHIYODA = ("131016", "千代田区")
HOUSEHOLD = sample_record_path("household-matsudo.json")


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVICCERT_KEY_PASSPHRASE", PASS)
    monkeypatch.setenv("LANG", "C.UTF-8")


@pytest.fixture
def homes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Iterator[list[Path]]:
    """Issuer homes made by the test; whatever anvil they started is stopped afterwards."""
    made: list[Path] = []
    yield made
    for home in made:
        run(capsys, "--home", home, "chain", "down")


@pytest.fixture
def anvil_installed() -> None:
    try:
        find_anvil()
    except ConfigError:
        pytest.skip("anvil binary not installed (run scripts/setup)")


def init_home(capsys: pytest.CaptureFixture[str], homes: list[Path], path: Path,
              city: tuple[str, str] = MATSUDO) -> Path:
    code, _, err = run(capsys, "init", path, "--municipality-code", city[0], "--municipality-name", city[1])
    assert code == 0, err
    homes.append(path)
    return path


def chain_up(capsys: pytest.CaptureFixture[str], home: Path, *args: str) -> tuple[dict[str, str], str]:
    code, out, err = run(capsys, "--home", home, "chain", "up", *args)
    assert code == 0, err
    return json.loads(out.strip().splitlines()[-1]), err


def status(capsys: pytest.CaptureFixture[str], home: Path) -> dict[str, int]:
    code, out, err = run(capsys, "--home", home, "status", "--json")
    assert code == 0, err
    counts: dict[str, int] = json.loads(out)
    return counts


def anvil_pid(home: Path) -> int:
    return int((home / "chain" / "anvil.pid").read_text())


@pytest.mark.anvil
@pytest.mark.usefixtures("anvil_installed")
def test_restart_keeps_the_url_and_registry_and_the_issuer_still_anchors(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, homes: list[Path]) -> None:
    home = init_home(capsys, homes, tmp_path / "city")
    first, _ = chain_up(capsys, home, "--port", "0")
    assert run(capsys, "--home", home, "chain", "down")[0] == 0
    again, _ = chain_up(capsys, home)  # no --port: the recorded one
    assert again == first
    code, _, err = run(capsys, "--home", home, "issue", "resident-record", HOUSEHOLD, "-o", tmp_path / "c.json",
                       "--anchor")
    assert code == 0, err
    assert status(capsys, home)["anchored"] == 2  # the credential and its paper twin
    assert run(capsys, "--home", home, "chain", "down")[0] == 0

    port = int(first["url"].rsplit(":", 1)[1])
    with socket.socket() as squatter:  # another process took the recorded port meanwhile
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past the old run's TIME_WAIT
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        started = time.monotonic()
        code, out, err = run(capsys, "--home", home, "chain", "up")
    assert code == 78, err
    assert "config_invalid" in err
    assert "(field: port)" in err
    assert time.monotonic() - started < 5  # refused at once, no wait for a node that cannot start
    assert out == ""


@pytest.mark.anvil
@pytest.mark.usefixtures("anvil_installed")
def test_anchors_lost_by_a_killed_node_are_found_at_chain_up_and_anchored_again(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, homes: list[Path]) -> None:
    home = init_home(capsys, homes, tmp_path / "city")
    record, _ = chain_up(capsys, home, "--port", "0")
    state = home / "chain" / "anvil-state.json"
    assert run(capsys, "--home", home, "chain", "down")[0] == 0  # SIGTERM: anvil saves its state
    saved = tmp_path / "state-before-anchor.json"
    shutil.copyfile(state, saved)
    chain_up(capsys, home)
    cred = tmp_path / "c.json"
    code, _, err = run(capsys, "--home", home, "issue", "resident-record", HOUSEHOLD, "-o", cred, "--anchor")
    assert code == 0, err
    assert status(capsys, home)["anchored"] == 2

    pid = anvil_pid(home)
    os.kill(pid, signal.SIGKILL)  # crash right after the anchor ...
    stop_pid(pid)  # (reap our child)
    # ... before anvil's once-a-second dump: the state on disk predates the anchor. Restoring the copy makes
    # that deterministic (whether a real kill lands before the dump is timing luck).
    shutil.copyfile(saved, state)

    again, err = chain_up(capsys, home)
    assert again == record
    assert "2 batch(es) (2 credentials)" in err  # digital and paper forms are batched apart
    assert "anchor" in err
    counts = status(capsys, home)
    assert (counts["anchored"], counts["sent"]) == (0, 2)  # no longer claimed as anchored

    assert run(capsys, "--home", home, "anchor")[0] == 0
    assert status(capsys, home)["anchored"] == 2
    assert run(capsys, "--home", home, "receipt", cred)[0] == 0
    code, out, _ = run(capsys, "verify", cred, "--rpc", record["url"], "--registry", record["registry"], "--json")
    assert code == 0, out  # the re-sent anchor is on the restarted chain

    _, err = chain_up(capsys, home)  # nothing lost this time: nothing reported
    assert "batch(es)" not in err


@pytest.mark.anvil
@pytest.mark.usefixtures("anvil_installed")
def test_a_second_city_joins_an_existing_registry_and_anchors(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, homes: list[Path]) -> None:
    admin_home = init_home(capsys, homes, tmp_path / "chiyoda", CHIYODA)
    record, _ = chain_up(capsys, admin_home, "--port", "0")  # deploys the registry
    online = ("--rpc", record["url"], "--registry", record["registry"])
    city = init_home(capsys, homes, tmp_path / "matsudo")

    code, out, err = run(capsys, "--home", city, "chain", "account")  # no chain yet: the address all the same
    assert code == 0, err
    account = out.strip()
    assert account.startswith("0x")
    assert len(account) == 42

    code, _, err = run(capsys, "--home", city, "chain", "attach", "--rpc", record["url"],
                       "--registry", "0x" + "11" * 20)
    assert code == 69
    assert "registry_not_deployed" in err
    code, out, err = run(capsys, "--home", city, "chain", "attach", *online, "--chain-id", "31337")
    assert code == 0, err
    assert json.loads(out)["account"] == account
    assert "add-municipality" in err  # what the admin must do next

    code, _, err = run(capsys, "--home", city, "chain", "register-key")  # before the admin acted
    assert code == 69
    assert "unauthorized" in err
    code, _, err = run(capsys, "chain", "add-municipality", *online, "--code", MATSUDO[0], "--operator", account)
    assert code == 0, err
    assert run(capsys, "chain", "add-municipality", *online, "--code", "122075", "--operator", account)[0] == 64
    code, _, err = run(capsys, "--home", city, "chain", "register-key")
    assert code == 0, err
    code, _, err = run(capsys, "--home", city, "chain", "attach", *online)
    assert code == 0, err
    assert "ready to issue and anchor" in err

    cred = tmp_path / "c.json"
    code, _, err = run(capsys, "--home", city, "issue", "resident-record", HOUSEHOLD, "-o", cred, "--anchor")
    assert code == 0, err
    code, out, _ = run(capsys, "verify", cred, *online, "--json")
    assert code == 0, out
    code, out, err = run(capsys, "--home", city, "chain", "account", "--json")
    assert code == 0, err
    shown = json.loads(out)
    assert shown["address"] == account
    assert 0 < shown["balance_wei"] < 10_000 * 10**18  # funded on the dev chain, and gas was paid


def test_missing_anvil_says_how_to_install_it(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                              homes: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    home = init_home(capsys, homes, tmp_path / "city")
    monkeypatch.setenv("CIVICCERT_ANVIL", str(tmp_path / "no-such-anvil"))
    code, out, err = run(capsys, "--home", home, "chain", "up", "--port", "0")
    assert code == 78
    assert out == ""
    assert err.count("\n") == 1  # one line, no generic next step appended
    assert "config_invalid" in err
    assert "npm i @foundry-rs/anvil" in err
    assert "CIVICCERT_ANVIL" in err


def test_a_torn_state_file_is_refused_and_the_last_good_copy_named(capsys: pytest.CaptureFixture[str],
                                                                   tmp_path: Path, homes: list[Path]) -> None:
    home = init_home(capsys, homes, tmp_path / "city")
    state = home / "chain" / "anvil-state.json"
    state.parent.mkdir()
    state.write_text('{"block": {"num', encoding="utf-8")  # what a kill during anvil's in-place save leaves
    code, out, err = run(capsys, "--home", home, "chain", "up", "--port", "0")
    assert code == 78
    assert out == ""
    assert "(field: state)" in err
    assert "anvil-state.json.prev" in err
    assert not (home / "chain" / "anvil.pid").exists()  # no node was started on it
