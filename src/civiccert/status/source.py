"""Where a verifier gets status lists: a directory (offline: a trust bundle or a cache) or the list URI.

Online fetching is bounded: https only, the host must resolve to public addresses only (no loopback,
private, link-local: SSRF), one total deadline, a byte cap, no redirects. The name is resolved once and the
connection goes to that checked address (Host header and TLS SNI/certificate check still for the name), so a
DNS answer that changes between the check and the connection (rebinding) cannot reach an internal host.
``allow_loopback_http`` (off by default; ``--status-allow-http-loopback``, for development and tests) also
accepts a host that resolves to loopback only, over http or https. Fetched lists are cached for their
``ttl`` (capped by ``exp``).
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from civiccert.errors import CivicCertError, CredentialError, ReasonCode
from civiccert.status.publish import MANIFEST_NAME, Manifest, manifest_uri
from civiccert.status.token import MAX_TOKEN_BYTES, StatusListToken, parse_token

__all__ = ["StatusListSource"]

_DIR_SUFFIXES = ("", ".jwt", ".cwt")


@dataclass
class StatusListSource:
    """Status lists by URI, from ``directory`` and/or fetched (``fetch``), with their manifests."""

    directory: Path | None = None
    fetch: bool = False
    allow_loopback_http: bool = False  # development and tests only: a loopback host (http://127.0.0.1:<port>/…)
    timeout: float = 5.0
    max_bytes: int = MAX_TOKEN_BYTES
    clock: Callable[[], float] = time.time
    _by_uri: dict[str, tuple[StatusListToken, Manifest | None]] | None = None
    _every: dict[str, list[tuple[StatusListToken, Manifest | None]]] = field(default_factory=dict)
    # token SHA-256 -> the key objects its signature verified with (held here, compared by identity)
    verified: dict[bytes, list[object]] = field(default_factory=dict)
    _cache: dict[str, tuple[float, StatusListToken, Manifest | None]] = field(default_factory=dict)

    def get(self, uri: str) -> tuple[StatusListToken, Manifest | None, str]:
        """(token, manifest or None, where it came from); ``STATUS_LIST_UNAVAILABLE`` when there is none."""
        if self.directory is not None:
            found = self._load_directory().get(uri)
            if found is not None:
                return found[0], found[1], "file"
        if self.fetch:
            return self._fetched(uri)
        raise CredentialError(ReasonCode.STATUS_LIST_UNAVAILABLE, "no status list for this uri was given")

    def history(self, uri: str) -> list[tuple[StatusListToken, Manifest | None, str]]:
        """Every list for ``uri`` at hand (each publication kept in the directory, and the fetched one), for
        "was it valid then" (``--at``): the caller picks the publication that was current at that time."""
        found: list[tuple[StatusListToken, Manifest | None, str]] = []
        if self.directory is not None:
            self._load_directory()
            found.extend((token, manifest, "file") for token, manifest in self._every.get(uri, []))
        if self.fetch:
            found.append(self._fetched(uri))
        return found

    def _load_directory(self) -> dict[str, tuple[StatusListToken, Manifest | None]]:
        if self._by_uri is None:
            assert self.directory is not None
            manifests: dict[Path, Manifest] = {}
            for path in sorted(self.directory.rglob(MANIFEST_NAME)):
                manifests[path.parent] = Manifest.parse(path.read_bytes())
            found: dict[str, tuple[StatusListToken, Manifest | None]] = {}
            for path in sorted(self.directory.rglob("*")):
                if not path.is_file() or path.name == MANIFEST_NAME or path.stat().st_size > self.max_bytes:
                    continue
                try:
                    token = parse_token(path.read_bytes())
                except CivicCertError:
                    continue  # not a status list token: other files may share the directory
                self._every.setdefault(token.sub, []).append((token, manifests.get(path.parent)))
                previous = found.get(token.sub)
                if previous is None or token.iat > previous[0].iat or (
                        token.iat == previous[0].iat and token.form == "jwt"):
                    found[token.sub] = (token, manifests.get(path.parent))
            self._by_uri = found
        return self._by_uri

    def _fetched(self, uri: str) -> tuple[StatusListToken, Manifest | None, str]:
        now = self.clock()
        cached = self._cache.get(uri)
        if cached is not None and cached[0] > now:
            return cached[1], cached[2], "cache"
        token = parse_token(self._download(uri, "application/statuslist+jwt"))
        try:
            manifest: Manifest | None = Manifest.parse(self._download(manifest_uri(uri), "application/json"))
        except CivicCertError:
            manifest = None
        until = now + (token.ttl if token.ttl is not None else 0)
        if token.exp is not None:
            until = min(until, token.exp)
        self._cache[uri] = (until, token, manifest)
        return token, manifest, "fetched"

    def _download(self, uri: str, accept: str) -> bytes:
        parts = urllib.parse.urlsplit(uri)
        address = self._resolve(parts)  # resolved once: the connection goes to this checked address
        deadline = time.monotonic() + self.timeout
        host = parts.hostname or ""
        connection: http.client.HTTPConnection
        if parts.scheme == "https":
            connection = _PinnedHTTPS(host, parts.port or 443, address, self.timeout)
        else:
            connection = _PinnedHTTP(host, parts.port or 80, address, self.timeout)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            connection.request("GET", path, headers={"Accept": accept, "User-Agent": "civiccert-verifier"})
            response = connection.getresponse()
            if response.status != 200:  # redirects are not followed: they could lead to an internal host
                raise CredentialError(ReasonCode.STATUS_LIST_UNAVAILABLE, f"status list server answered "
                                      f"{response.status}")
            chunks: list[bytes] = []
            size = 0
            while True:
                if time.monotonic() > deadline:
                    raise CredentialError(ReasonCode.STATUS_LIST_UNAVAILABLE, "status list fetch timed out")
                chunk = response.read(65536)
                if not chunk:
                    break
                size += len(chunk)
                if size > self.max_bytes:
                    raise CredentialError(ReasonCode.STATUS_FETCH_REFUSED, "status list exceeds the size cap")
                chunks.append(chunk)
        except (OSError, ValueError, http.client.HTTPException) as exc:
            raise CredentialError(ReasonCode.STATUS_LIST_UNAVAILABLE, "status list could not be fetched") from exc
        finally:
            connection.close()
        return b"".join(chunks)

    def _resolve(self, parts: urllib.parse.SplitResult) -> str:
        """The one address to connect to: every address the name resolves to must be public (loopback too
        when ``allow_loopback_http``, and then only loopback over plain http)."""
        host = parts.hostname or ""
        if parts.scheme not in ("https", "http") or not host or parts.username or parts.password:
            raise CredentialError(ReasonCode.STATUS_FETCH_REFUSED, "status list uri must be https")
        if parts.scheme == "http" and not self.allow_loopback_http:
            raise CredentialError(ReasonCode.STATUS_FETCH_REFUSED, "status list uri must be https")
        try:
            infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError) as exc:
            raise CredentialError(ReasonCode.STATUS_LIST_UNAVAILABLE, "status list host does not resolve") from exc
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        if not addresses:
            raise CredentialError(ReasonCode.STATUS_LIST_UNAVAILABLE, "status list host does not resolve")
        for address in addresses:
            loopback = self.allow_loopback_http and address.is_loopback
            if parts.scheme == "http" and not loopback:
                raise CredentialError(ReasonCode.STATUS_FETCH_REFUSED, "plain http is for a loopback host only")
            if not (address.is_global or loopback):
                raise CredentialError(ReasonCode.STATUS_FETCH_REFUSED, "status list host is not a public address")
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
        self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)
