"""``civiccert verify DIR`` with many offline inputs: a process pool, same results and order as one core."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import civiccert as cc
from civiccert.cli import main
from civiccert.cli.bulk import POOL_THRESHOLD
from civiccert.errors import ReasonCode


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


def _mixed_folder(tmp_path: Path) -> tuple[Path, Path]:
    """~100 inputs: genuine, one forged, one of an issuer outside the trust file (INDETERMINATE), one that
    is not a credential at all, and one that cannot be read (a PNG that is not one)."""
    record = cc.load_record(cc.sample_record_path("household-matsudo.json"))
    issuer = cc.Issuer.init(tmp_path / "home", municipality_code="122076", municipality_name="松戸市",
                            passphrase=b"bulk-test-passphrase")
    other = cc.Issuer.init(tmp_path / "other", municipality_code="122076", municipality_name="松戸市",
                           passphrase=b"bulk-test-passphrase")  # another key, not in the trust file
    folder = tmp_path / "in"
    folder.mkdir()
    for i, cred in enumerate(issuer.issue_many((record for _ in range(96)), paper=False)):
        text = cred.dumps()
        if i == 5:  # forged: one character of the signed part changed
            head, rest = text.split('"sd_jwt":', 1)
            cut = rest.index(".") - 3
            rest = rest[:cut] + ("A" if rest[cut] != "A" else "B") + rest[cut + 1:]
            text = head + '"sd_jwt":' + rest
        (folder / f"{i:03d}.json").write_text(text, encoding="utf-8")
    (folder / "050-other.json").write_text(other.issue(record, paper=False).dumps(), encoding="utf-8")
    (folder / "060-bad.json").write_text("{not json", encoding="utf-8")
    (folder / "070-broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    trust = tmp_path / "trust.json"
    issuer.trust_export().save(trust)
    return folder, trust


def test_every_core_writes_the_single_core_bytes(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers render, the parent joins: stdout, stderr and the exit code are those of ``--jobs 1``, in
    ja and en text and in --json (the trust file's age in seconds aside, which moves between the runs)."""
    import re

    from civiccert.cli import bulk

    folder, trust = _mixed_folder(tmp_path)
    monkeypatch.setattr(bulk, "workers", lambda: 2)  # a pool even on a one-core runner
    pooled: list[int] = []
    real = bulk.verify_paths
    monkeypatch.setattr(bulk, "verify_paths", lambda *a, **k: pooled.append(1) or real(*a, **k))
    age = re.compile(r"(?<=trust snapshot, )[^\n\"]*|(?<=信頼ファイル（)[^\n]*")
    for extra in (["--lang", "ja"], ["--lang", "en"], ["--json"]):
        runs = []
        for jobs in ("1", "0"):
            code = main(["verify", str(folder), "--offline", "--trust", str(trust), "--jobs", jobs, *extra])
            out, err = capsys.readouterr()
            runs.append((code, age.sub("AGE", out), err.strip()))  # --jobs 1: a progress bar's blank line
        assert runs[0] == runs[1], extra
        code, out, err = runs[1]
        assert code == 1  # the forged one
        assert out.count("AGE") >= 95  # every trusted result's issuer row, not an empty output matching itself
        if extra == ["--json"]:
            document = json.loads(out)
            verdicts = [r["verdict"] for r in document["results"]]
            assert verdicts.count("VALID") == 95
            assert verdicts.count("INVALID") == 2  # the forged one, the one that is not a credential
            assert verdicts.count("INDETERMINATE") == 1
            assert [f["source"] for f in document["unreadable"]] == ["070-broken.png"]
        else:
            assert "070-broken.png" in err
    assert len(pooled) == 3


def test_json_text_is_the_standard_encoders_text() -> None:
    """orjson where it writes the same bytes; json (default=repr) for floats, enums, bytes, odd keys..."""
    import enum

    from civiccert.cli.common import json_text

    class Colour(enum.Enum):
        RED = 1

    plain = {"a": [1, -2**63, 2**64 - 1, True, None, "x\b\f\n\r\t\"\\\x00\x1f\x7f\u2028あ🎉"], "e": {}, "l": [[]]}
    odd = [{"f": 1e-05}, {"f": 1.5e-07}, {"n": float("nan")}, {1: "int key"}, {"e": Colour.RED},
           {"b": b"\x00"}, {"t": (1, 2)}, {"big": 2**70}, {"s": "\ud800"}, {"r": ReasonCode.OK}]
    for value in [plain, *odd]:
        assert json_text(value) == json.dumps(value, ensure_ascii=False, indent=2, default=repr)
        assert json_text(value, 4) == json.dumps(value, ensure_ascii=False, indent=2, default=repr).replace(
            "\n", "\n    ")


@pytest.mark.parametrize("as_bytes", [False, True])
def test_the_writer_streams_emit_jsons_document(capsys: pytest.CaptureFixture[str], as_bytes: bool) -> None:
    """Chunk by chunk, as text or as bytes past the text layer: the same document ``emit_json`` writes,
    including a single result alone (held back until a second one or an unreadable input shows up)."""
    from civiccert.cli.bulk import BulkReport, _Writer
    from civiccert.cli.common import emit_json, json_text

    plain = {"a": [1, True, None, "x\n\"\\\u2028あ🎉"], "e": {}, "l": [[]]}
    piece = json_text(plain, 4)
    out = piece.encode() if as_bytes else piece
    failure = {"source": "a", "code": "b"}
    cases = [  # (single, [(output, results, failures) per chunk], the document)
        (True, [(out, 1, 0)], plain),
        (True, [(out, 1, 0), ("", 0, 0)], plain),
        (False, [(out, 1, 0)], {"results": [plain], "unreadable": []}),
        (True, [(out, 1, 0), ("", 0, 1)], {"results": [plain], "unreadable": [failure]}),
        (True, [("", 0, 1), (out, 1, 0)], {"results": [plain], "unreadable": [failure]}),
        (True, [(out, 1, 0), ("", 0, 0), (out, 1, 1)], {"results": [plain, plain], "unreadable": [failure]}),
        (True, [], {"results": [], "unreadable": []}),
        (False, [("", 0, 1)], {"results": [], "unreadable": [failure]}),
    ]
    for single, chunks, document in cases:
        total, writer = BulkReport(), _Writer(True, single)
        for output, results, failures in chunks:
            total.add(BulkReport(counts={"VALID": results}, failures=[failure] * failures))
            writer.chunk(output, total)
        writer.close(total)
        streamed, _ = capsys.readouterr()
        emit_json(document)
        assert streamed == capsys.readouterr()[0], (single, chunks)


def test_a_worker_renders_in_the_parents_language(tmp_path: Path) -> None:
    """The initializer applies the parent's --lang/LANG itself (a spawned worker inherits no module state)."""
    from civiccert.cli import bulk
    from civiccert.i18n import language, set_language
    from civiccert.verification.verifier import Policy

    issuer = cc.Issuer.init(tmp_path / "home", municipality_code="122076", municipality_name="松戸市",
                            passphrase=b"bulk-test-passphrase")
    path = tmp_path / "one.json"
    path.write_text(issuer.issue(cc.load_record(cc.sample_record_path("household-matsudo.json")),
                                 paper=False).dumps(), encoding="utf-8")
    trust = tmp_path / "trust.json"
    issuer.trust_export().save(trust)
    set_language("en")
    try:
        bulk._init([trust], Policy(), "ja", False, False)
        assert language() == "ja"
        report = bulk._verify_chunk([(str(path), "one.json")])
    finally:
        set_language("en")
        bulk._WORKER.clear()
    assert isinstance(report.output, str)  # no encoding given: text for the parent's text layer
    assert report.output.startswith("有効  (one.json)")
    assert report.counts == {"VALID": 1}
    assert report.any_verdict


def test_a_reader_that_leaves_early_keeps_the_pools_exit_code(tmp_path: Path) -> None:
    """The pool writes each chunk as it comes back: a reader gone before the first one ('| head -0') still
    gets the verdict as exit code, the unreadable input on stderr, and no traceback."""
    import os
    import subprocess
    import sys

    folder, trust = _mixed_folder(tmp_path)
    src = Path(__file__).resolve().parents[2] / "src"
    env = {**os.environ, "PYTHONPATH": str(src), "LANG": "C.UTF-8"}
    for extra in ([], ["--json"]):
        read_end, write_end = os.pipe()
        os.close(read_end)
        try:
            done = subprocess.run([sys.executable, "-m", "civiccert", "verify", str(folder), "--offline", "--trust",
                                   str(trust), "--jobs", "2", "--lang", "en", *extra], stdout=write_end,
                                  stderr=subprocess.PIPE, text=True, env=env, timeout=120, check=False)
        finally:
            os.close(write_end)
        assert done.returncode == 1, done.stderr  # the forged one
        assert "Traceback" not in done.stderr
        assert ("070-broken.png" in done.stderr) == (not extra)  # --json names it in the document


def test_a_worker_that_dies_ends_the_run_with_an_internal_error(capsys: pytest.CaptureFixture[str],
                                                                 tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker killed mid-run (out of memory, a signal) is no verdict: exit 70, a one-line message, no
    traceback, never a VALID exit code for inputs nobody verified."""
    import os

    from civiccert.cli import bulk

    folder, trust = _mixed_folder(tmp_path)
    monkeypatch.setattr(bulk, "workers", lambda: 2)
    real = bulk._verify_chunk

    def dying(chunk: list[tuple[str, str]]) -> bulk.BulkReport:
        if any(label == "050-other.json" for _path, label in chunk):
            os._exit(9)
        return real(chunk)

    dying.__module__, dying.__qualname__ = bulk.__name__, "_verify_chunk"  # the forked worker looks it up by name
    monkeypatch.setattr(bulk, "_verify_chunk", dying)
    code = main(["verify", str(folder), "--offline", "--trust", str(trust), "--json", "--jobs", "2"])
    _out, err = capsys.readouterr()
    assert code == 70
    assert "Traceback" not in err
    assert "BrokenProcessPool" in err  # the pool saw its worker die (not some other failure)
