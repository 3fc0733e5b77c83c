"""One bounded HTTP GET for what a verifier may fetch (status lists, CRLs): never a door into the network.

https only (plain http to loopback only when ``allow_loopback_http``, for development and tests); the host must
resolve to public addresses only (no loopback, private, link-local: SSRF); the name is resolved once and the
connection goes to that checked address (Host header and TLS SNI/certificate check still for the name), so a DNS
answer that changes between the check and the connection (rebinding) cannot reach an internal host; one total
deadline; a byte cap; no redirects. Failures raise CredentialError with the caller's reason codes.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
import urllib.parse
from dataclasses import dataclass

from civiccert.errors import CredentialError, ReasonCode

__all__ = ["FetchCodes", "bounded_get"]


@dataclass(frozen=True)
class FetchCodes:
    """The reason codes a caller reports: the resource could not be had, or the fetch was refused (SSRF)."""

    unavailable: ReasonCode
    refused: ReasonCode
    what: str = "resource"


def bounded_get(uri: str, *, accept: str, codes: FetchCodes, timeout: float, max_bytes: int,
                allow_loopback_http: bool = False) -> bytes:
    """The body of ``uri`` within ``timeout`` seconds in all and ``max_bytes``; see the module docstring."""
    parts = urllib.parse.urlsplit(uri)
    address = _resolve(parts, codes, allow_loopback_http)
    deadline = time.monotonic() + timeout
    host = parts.hostname or ""
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = _PinnedHTTPS(host, parts.port or 443, address, timeout)
    else:
        connection = _PinnedHTTP(host, parts.port or 80, address, timeout)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    response: http.client.HTTPResponse | None = None
    try:
        connection.request("GET", path, headers={"Accept": accept, "User-Agent": "civiccert-verifier"})
        response = connection.getresponse()
        if response.status != 200:  # redirects are not followed: they could lead to an internal host
            raise CredentialError(codes.unavailable, f"{codes.what} server answered {response.status}")
        chunks: list[bytes] = []
        size = 0
        while True:
            if time.monotonic() > deadline:
                raise CredentialError(codes.unavailable, f"{codes.what} fetch timed out")
            chunk = response.read(65536)
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:
                raise CredentialError(codes.refused, f"{codes.what} exceeds the size cap")
            chunks.append(chunk)
    except (OSError, ValueError, http.client.HTTPException) as exc:
        raise CredentialError(codes.unavailable, f"{codes.what} could not be fetched") from exc
    finally:
        if response is not None:  # an abandoned body must not keep the socket open
            response.close()
        connection.close()
    return b"".join(chunks)


def _resolve(parts: urllib.parse.SplitResult, codes: FetchCodes, allow_loopback_http: bool) -> str:
    """The one address to connect to: every address the name resolves to must be public (loopback too when
    ``allow_loopback_http``, and then only loopback over plain http)."""
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host or parts.username or parts.password:
        raise CredentialError(codes.refused, f"{codes.what} uri must be https")
    if parts.scheme == "http" and not allow_loopback_http:
        raise CredentialError(codes.refused, f"{codes.what} uri must be https")
    try:
        infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise CredentialError(codes.unavailable, f"{codes.what} host does not resolve") from exc
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not addresses:
        raise CredentialError(codes.unavailable, f"{codes.what} host does not resolve")
    for address in addresses:
        loopback = allow_loopback_http and address.is_loopback
        if parts.scheme == "http" and not loopback:
            raise CredentialError(codes.refused, "plain http is for a loopback host only")
        if not (address.is_global or loopback):
            raise CredentialError(codes.refused, f"{codes.what} host is not a public address")
    return str(addresses[0])


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to ``address`` (already checked) while the Host header names the URI's host."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """TLS to ``address`` (already checked), with SNI and certificate checks for the URI's host name."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        self._tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self._tls)
        self._address = address

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        try:
            self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)
        except BaseException:  # a failed handshake must not leak the connection
            raw.close()
            raise
