"""Where a verifier gets status lists: a directory (offline: a trust bundle or a cache) or the list URI.

Online fetching is bounded: https only (``http://127.0.0.1`` only when explicitly allowed, for tests), the
host must resolve to public addresses only (no loopback, private, link-local: SSRF), one total deadline,
a byte cap, no redirects. Fetched lists are cached for their ``ttl`` (capped by ``exp``).
"""

from __future__ import annotations

import ipaddress
import socket
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from civiccert.errors import CivicCertError, CredentialError, ReasonCode
from civiccert.status.publish import MANIFEST_NAME, Manifest, manifest_uri
from civiccert.status.token import MAX_TOKEN_BYTES, StatusListToken, parse_token

__all__ = ["StatusListSource"]

_DIR_SUFFIXES = ("", ".jwt", ".cwt")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args: object, **_kwargs: object) -> None:
        return None  # a redirect could lead to an internal host: refused (the caller sees an HTTP error)


@dataclass
class StatusListSource:
    """Status lists by URI, from ``directory`` and/or fetched (``fetch``), with their manifests."""

    directory: Path | None = None
    fetch: bool = False
    allow_loopback_http: bool = False  # tests only: http://127.0.0.1:<port>/…
    timeout: float = 5.0
    max_bytes: int = MAX_TOKEN_BYTES
    clock: Callable[[], float] = time.time
    _by_uri: dict[str, tuple[StatusListToken, Manifest | None]] | None = None
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
        self._check_uri(uri)
        deadline = time.monotonic() + self.timeout
        request = urllib.request.Request(uri, headers={"Accept": accept}, method="GET")  # noqa: S310 - checked
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            with opener.open(request, timeout=self.timeout) as response:
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
        except (OSError, ValueError) as exc:
            raise CredentialError(ReasonCode.STATUS_LIST_UNAVAILABLE, "status list could not be fetched") from exc
        return b"".join(chunks)

    def _check_uri(self, uri: str) -> None:
        parts = urllib.parse.urlsplit(uri)
        host = parts.hostname or ""
        if parts.scheme == "http" and self.allow_loopback_http and host == "127.0.0.1":
            return
        if parts.scheme != "https" or not host or parts.username or parts.password:
            raise CredentialError(ReasonCode.STATUS_FETCH_REFUSED, "status list uri must be https")
        try:
            infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
        except OSError as exc:
            raise CredentialError(ReasonCode.STATUS_LIST_UNAVAILABLE, "status list host does not resolve") from exc
        for info in infos:
            address = ipaddress.ip_address(info[4][0])
            if not address.is_global:
                raise CredentialError(ReasonCode.STATUS_FETCH_REFUSED, "status list host is not a public address")
