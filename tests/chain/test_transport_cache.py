"""The JSON-RPC transport caches only immutable answers (chain id, client version, network id).

web3's block-based caching asks the node again (``eth_getBlockByNumber``) before caching a transaction or a
block; a node that went away in between made web3 log a traceback on stderr (found by
tests/service/test_load_fault.py when anvil restarted under load), and every such call cost two requests.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import civiccert as cc

TX_HASH = "0x" + "ab" * 32
ANSWERS: dict[str, Any] = {
    "eth_chainId": "0x7a69",
    "web3_clientVersion": "anvil/v1.0.0",
    "eth_getTransactionByHash": {"hash": TX_HASH, "blockNumber": "0x1", "blockHash": "0x" + "cd" * 32},
}


class _Node:
    """Answers the methods in ANSWERS; hangs up on anything else (a node going away mid-conversation)."""

    def __init__(self) -> None:
        node = self
        self.methods: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                node.methods.append(request["method"])
                if request["method"] not in ANSWERS:
                    self.close_connection = True
                    return  # no response at all
                data = json.dumps({"jsonrpc": "2.0", "id": request["id"],
                                   "result": ANSWERS[request["method"]]}).encode()  # fmt: skip
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def node() -> Iterator[_Node]:
    stub = _Node()
    yield stub
    stub.server.shutdown()
    stub.server.server_close()


def test_a_transaction_lookup_is_one_request_and_logs_nothing(node: _Node, caplog: pytest.LogCaptureFixture) -> None:
    chain = cc.connect(node.url)
    node.methods.clear()
    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            response = chain.w3.provider.make_request("eth_getTransactionByHash", [TX_HASH])  # type: ignore[arg-type]
            assert response["result"]["blockNumber"] == "0x1"
    assert node.methods == ["eth_getTransactionByHash"] * 2  # never cached, never validated by a second call
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_the_chain_id_is_still_asked_once(node: _Node) -> None:
    chain = cc.connect(node.url)
    for _ in range(3):
        assert chain.w3.eth.chain_id == 31337
    assert node.methods.count("eth_chainId") == 1
