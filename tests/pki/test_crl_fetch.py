"""CRLs fetched from a URL: the same answer as the file, within the bounded fetch's rules (https and public hosts
only, a size cap), and a CLI that refuses what it cannot fetch with exit 78."""

from __future__ import annotations

import datetime as dt
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

import civiccert as cc
from civiccert.cli import main
from conftest import Certified


class _Handler(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/pkix-crl")
        self.end_headers()
        self.wfile.write(type(self).body)

    def log_message(self, format: str, *args: object) -> None:  # quiet test server
        return


@pytest.fixture
def crl_server() -> Iterator[tuple[str, type[_Handler]]]:
    handler = type("Handler", (_Handler,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/intermediate.crl", handler
    finally:
        server.shutdown()
        server.server_close()


def _issuer_check(result: cc.VerificationResult) -> tuple[cc.Outcome, cc.ReasonCode]:
    check = result.check(cc.CheckName.ISSUER)
    assert check is not None
    return check.outcome, check.code


def test_a_fetched_crl_revokes_like_the_file(certified: Certified, household: cc.ResidentRecord,
                                             crl_server: tuple[str, type[_Handler]]) -> None:
    url, handler = crl_server
    now = dt.datetime.now(dt.UTC)
    leaf = certified.leaf(not_before=now - dt.timedelta(days=1))
    certified.ca.revoke(leaf, at=now - dt.timedelta(minutes=1), reason=x509.ReasonFlags.superseded)
    cred = certified.issuer.issue(household)
    handler.body = Path(certified.ca.crl_path).read_bytes()
    anchors = cc.TrustAnchors.from_files(certified.ca.directory / "root.pem", [url], allow_loopback_http=True)
    result = cc.Verifier(trust_anchors=anchors).verify(cred)
    assert _issuer_check(result) == (cc.Outcome.FAILED, cc.ReasonCode.CERT_REVOKED)


def test_a_crl_url_must_be_https_on_a_public_host(certified: Certified, crl_server: tuple[str, type[_Handler]],
                                                  tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url, handler = crl_server
    handler.body = Path(certified.ca.crl_path).read_bytes()
    root = certified.ca.directory / "root.pem"
    for refused in (url, url.replace("http://", "https://"), "https://10.0.0.1/crl", "file:///etc/passwd"):
        with pytest.raises(cc.ConfigError) as caught:
            cc.TrustAnchors.from_files(root, [refused])
        assert caught.value.code in (cc.ReasonCode.CRL_UNAVAILABLE, cc.ReasonCode.CRL_INVALID)
    # and through the CLI: one line, exit 78, before anything is verified
    cred = tmp_path / "cred.json"
    cred.write_text("{}")
    code = main(["verify", str(cred), "--trust-anchors", str(root), "--crl", url])
    err = capsys.readouterr().err
    assert code == 78
    assert err.startswith("error: crl_unavailable")


def test_an_oversized_crl_is_refused(certified: Certified, crl_server: tuple[str, type[_Handler]],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from civiccert.pki import validate

    url, handler = crl_server
    handler.body = b"0" * 4096
    monkeypatch.setattr(validate, "_CRL_MAX_BYTES", 1024)
    with pytest.raises(cc.ConfigError) as caught:
        cc.TrustAnchors.from_files(certified.ca.directory / "root.pem", [url], allow_loopback_http=True)
    assert caught.value.code is cc.ReasonCode.CRL_UNAVAILABLE
