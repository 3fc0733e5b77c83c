"""Hostile or broken JSON-RPC nodes: a verification ends within its deadline, in bounded memory, and a node
that lies with well-formed data never turns a genuine credential INVALID (but a forgery stays INVALID).

Each node is a small HTTP server on 127.0.0.1 in front of a real anvil: it forwards every request and
misbehaves only on ``eth_call`` (trickles, streams 200 MB, or answers zeros).
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from eth_abi.abi import encode as abi_encode

import civiccert as cc
from civiccert import ReasonCode, Verdict
from civiccert.chain.registry import _abi, _calldata
from civiccert.credentials.b64url import b64url_decode, b64url_encode
from civiccert.credentials.strictjson import json_dumps
from civiccert.paper.payload import qr_text

from worldkit import World, make_world

pytestmark = pytest.mark.anvil

Mode = Callable[[BaseHTTPRequestHandler, bytes, Any], bool]  # True when it answered the request itself


class _Proxy:
    """An HTTP JSON-RPC node that forwards to ``upstream`` unless ``mode`` handles the request."""

    def __init__(self, upstream: str, mode: Mode) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                try:
                    if not proxy.mode(self, body, json.loads(body)):
                        answer = _forward(upstream, body)
                        self._send(answer)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the verifier gave up on us: that is the point

            def _send(self, data: bytes) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: Any) -> None:
                pass

        self.mode = mode
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _forward(upstream: str, body: bytes) -> bytes:
    request = urllib.request.Request(upstream, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        data: bytes = response.read()
        return data


def _calls(message: Any) -> list[dict[str, Any]]:
    return message if isinstance(message, list) else [message]


def _has_eth_call(message: Any) -> bool:
    return any(m.get("method") == "eth_call" for m in _calls(message))


def trickle(handler: BaseHTTPRequestHandler, _body: bytes, message: Any) -> bool:
    """One byte every half second, forever: a per-read timeout never fires."""
    if not _has_eth_call(message):
        return False
    handler.send_response(200)
    handler.send_header("Content-Length", "100000")
    handler.end_headers()
    for _ in range(100_000):
        handler.wfile.write(b" ")
        handler.wfile.flush()
        time.sleep(0.5)
    return True


def huge(handler: BaseHTTPRequestHandler, _body: bytes, message: Any) -> bool:
    """200 MB of one JSON string, generated lazily, with no Content-Length (the cap must hold while reading)."""
    if not _has_eth_call(message):
        return False
    handler.protocol_version = "HTTP/1.0"
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.end_headers()
    handler.wfile.write(b'{"jsonrpc":"2.0","id":1,"result":"0x')
    piece = b"00" * 32768
    for _ in range(200 * 1024 * 1024 // len(piece)):
        handler.wfile.write(piece)
    handler.wfile.write(b'"}')
    return True


def zero_calls(selectors: tuple[bytes, ...] | None = None) -> Mode:
    """Forward, then replace the result of every eth_call (or only those to ``selectors``) with zeros."""

    def mode(handler: BaseHTTPRequestHandler, body: bytes, message: Any) -> bool:
        if not _has_eth_call(message):
            return False
        answer = json.loads(_forward(_UPSTREAM[0], body))
        replies = {r["id"]: r for r in _calls(answer)}
        for call in _calls(message):
            data = call["params"][0].get("data") or call["params"][0].get("input") or "0x"
            if call.get("method") == "eth_call" and (
                    selectors is None or bytes.fromhex(data[2:10]) in selectors):
                replies[call["id"]] = {"jsonrpc": "2.0", "id": call["id"], "result": _zero_answer(data)}
        out = [replies[c["id"]] for c in _calls(message)]
        data = json.dumps(out if isinstance(message, list) else out[0]).encode()
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
        return True

    return mode


_UPSTREAM: list[str] = []


def _zero_answer(calldata: str) -> str:
    """The registry function's outputs, each the zero of its type, ABI-encoded: well-formed, and a lie."""
    selector = bytes.fromhex(calldata[2:10])
    outputs = next(f.outputs for f in _abi().functions.values() if f.selector == selector)
    zero = {"bool": False, "address": "0x" + "00" * 20}
    values = [[] if t.endswith("[]") else b"" if t == "bytes" else "" if t == "string"
              else b"\0" * int(t[5:]) if t.startswith("bytes") else zero.get(t, 0) for t in outputs]
    return "0x" + abi_encode(list(outputs), values).hex()


def _selector(fn: str, *args: Any) -> bytes:
    return _calldata(fn, *args)[:4]


@pytest.fixture(scope="module")
def genuine(anvil: cc.AnvilNode, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, cc.CredentialFile]]:
    _UPSTREAM[:] = [anvil.url]
    world = make_world(tmp_path_factory.mktemp("hostile"), chain=cc.connect(anvil.url))
    cred = world.issue_anchored()
    yield world, cred
    world.issuer.close()


@pytest.fixture
def node(anvil: cc.AnvilNode) -> Iterator[Callable[[Mode], _Proxy]]:
    proxies: list[_Proxy] = []

    def start(mode: Mode) -> _Proxy:
        proxies.append(_Proxy(anvil.url, mode))
        return proxies[-1]

    yield start
    for proxy in proxies:
        proxy.close()


def _verifier(url: str, address: str, **limits: Any) -> cc.Verifier:
    return cc.Verifier(registry=cc.OnlineRegistry.lazy(lambda: cc.connect(url, **limits), address))


def _codes(result: cc.VerificationResult) -> dict[str, str]:
    return {c.name.value: c.code.value for c in result.checks}


def _paper(cred: cc.CredentialFile) -> str:
    assert cred.paper_cose is not None
    return qr_text(cred.paper_cose, cred.paper_receipt)


def _tampered(cred: cc.CredentialFile) -> cc.CredentialFile:
    """The same credential with its expiry moved by a second: well-formed, signature broken."""
    payload = cred.sd_jwt.split("~", 1)[0].split(".")[1]
    claims = json.loads(b64url_decode(payload))
    claims["exp"] += 1
    return dataclasses.replace(cred, sd_jwt=cred.sd_jwt.replace(payload, b64url_encode(json_dumps(claims)), 1))


def test_an_honest_proxy_changes_nothing(genuine: tuple[World, cc.CredentialFile], node: Any) -> None:
    world, cred = genuine
    verifier = _verifier(node(lambda *_: False).url, world.registry.address)
    assert [verifier.verify(x).verdict for x in (cred, _paper(cred))] == [Verdict.VALID] * 2
    tampered = verifier.verify(_tampered(cred))
    assert tampered.verdict is Verdict.INVALID


def test_a_trickling_node_is_indeterminate_within_the_deadline(genuine: tuple[World, cc.CredentialFile],
                                                               node: Any) -> None:
    world, cred = genuine
    url = node(trickle).url
    for item, deadline in ((cred, 2.0), (_paper(cred), 1.0)):  # the paper asks twice: its key, then its status
        started = time.monotonic()
        result = _verifier(url, world.registry.address, deadline=deadline).verify(item)
        elapsed = time.monotonic() - started
        assert result.verdict is Verdict.INDETERMINATE, _codes(result)
        assert ReasonCode.CHAIN_TIMEOUT in result.reasons
        assert elapsed < 5, elapsed


_MEMORY_PROBE = """
import json, resource, sys, time
import civiccert as cc
import civiccert.chain.registry, civiccert.chain.transport, web3
import civiccert.verification.online, civiccert.verification.verifier
url, address, path = sys.argv[1:4]
cred = cc.CredentialFile.loads(open(path, encoding="utf-8").read())
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # one verification from here on, nothing before
started = time.monotonic()
result = cc.Verifier(registry=cc.OnlineRegistry.lazy(lambda: cc.connect(url), address)).verify(cred)
print(json.dumps({"verdict": result.verdict.value, "reasons": [r.value for r in result.reasons],
                  "seconds": time.monotonic() - started,
                  "grown_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before}))
"""


def test_a_huge_reply_is_indeterminate_quickly_in_bounded_memory(genuine: tuple[World, cc.CredentialFile],
                                                                 node: Any, tmp_path: Path) -> None:
    world, cred = genuine
    path = tmp_path / "cred.json"
    path.write_text(cred.dumps(), encoding="utf-8")
    url = node(huge).url
    src = Path(cc.__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", _MEMORY_PROBE, url, world.registry.address, str(path)],
                          capture_output=True, text=True, timeout=120, check=True,
                          env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"})
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["verdict"] == "INDETERMINATE"
    assert "chain_response_too_large" in report["reasons"]
    assert report["grown_kib"] < 100 * 1024, report  # a 200 MB reply used to cost over a gigabyte
    assert report["seconds"] < 10, report


def test_a_node_answering_zeros_cannot_make_a_genuine_copy_invalid(genuine: tuple[World, cc.CredentialFile],
                                                                   node: Any) -> None:
    world, cred = genuine
    verifier = _verifier(node(zero_calls()).url, world.registry.address)
    for item in (cred, _paper(cred), cc.present(cred, ["members[0].name"])):
        result = verifier.verify(item)
        assert result.verdict is Verdict.INDETERMINATE, _codes(result)
        assert ReasonCode.NODE_UNRELIABLE in result.reasons
    tampered = verifier.verify(_tampered(cred))  # its signature fails whatever the node says
    assert tampered.verdict is Verdict.INVALID
    assert _codes(tampered)["signature"] == "signature_invalid"


def test_a_node_denying_one_fact_contradicts_its_own_logs(genuine: tuple[World, cc.CredentialFile],
                                                          node: Any) -> None:
    world, cred = genuine
    status = _selector("status", 1, b"\0" * 32, b"\0" * 32)
    key = _selector("keyInfo", 1, b"\0" * 32)
    address = world.registry.address
    denies_anchor = _verifier(node(zero_calls((status,))).url, address).verify(cred)
    assert denies_anchor.verdict is Verdict.INDETERMINATE, _codes(denies_anchor)
    assert _codes(denies_anchor)["anchor"] == "node_unreliable"  # it shows the receipt's anchoring transaction
    denies_key = _verifier(node(zero_calls((key,))).url, address)
    for item in (cred, _paper(cred)):
        result = denies_key.verify(item)
        assert result.verdict is Verdict.INDETERMINATE, _codes(result)
        assert ReasonCode.NODE_UNRELIABLE in result.reasons
