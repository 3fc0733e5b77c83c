"""A missing optional part is one ConfigError(EXTRA_MISSING) naming the pip extra, never an ImportError.

The extras are hidden by putting None in ``sys.modules`` (how Python marks a module as unimportable);
tests/packaging/test_wheel.py checks the same against a real plain install.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

import civiccert as cc
from civiccert.cli import main


def _hide(monkeypatch: pytest.MonkeyPatch, *packages: str, reload: tuple[str, ...] = ()) -> None:
    for name in list(sys.modules):
        if name.split(".")[0] in packages:
            monkeypatch.setitem(sys.modules, name, None)
    for package in packages:
        monkeypatch.setitem(sys.modules, package, None)
    for name in reload:  # our modules that import the hidden package: imported afresh on next use
        monkeypatch.delitem(sys.modules, name, raising=False)


def test_embedded_chain_without_its_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    _hide(monkeypatch, "eth_tester")
    with pytest.raises(cc.ConfigError) as caught:
        cc.connect("embedded")
    assert caught.value.code is cc.ReasonCode.EXTRA_MISSING


def test_demo_command_without_the_embedded_chain_exits_78(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    _hide(monkeypatch, "eth_tester")
    assert main(["demo", "--out", str(tmp_path / "demo")]) == 78
    err = capsys.readouterr().err
    assert err.startswith("error: extra_missing")
    assert len(err.strip().splitlines()) == 1


def test_printing_without_the_issuer_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    issuer = cc.Issuer.init(tmp_path / "home", municipality_code="122076", municipality_name="松戸市",
                            passphrase=b"extras-test")
    try:
        cred = issuer.issue(cc.load_record(cc.sample_record_path("seal-registrant.json")))
        _hide(monkeypatch, "fpdf", reload=("civiccert.paper.pdf", "civiccert.paper._glyphs"))
        with pytest.raises(cc.ConfigError) as caught:
            issuer.print_pdf(cred, tmp_path / "copy.pdf")
        assert caught.value.code is cc.ReasonCode.EXTRA_MISSING
        assert not (tmp_path / "copy.pdf").exists()
    finally:
        issuer.close()


def test_reading_records_without_the_issuer_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    _hide(monkeypatch, "jsonschema", reload=("civiccert.records.loader",))
    with pytest.raises(cc.ConfigError) as caught:
        importlib.import_module("civiccert.records.loader")
    assert caught.value.code is cc.ReasonCode.EXTRA_MISSING
