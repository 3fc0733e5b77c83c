"""Where a verifier gets status lists: a directory (offline: a trust bundle or a cache) or the list URI.

Online fetching is bounded (:mod:`civiccert.fetch`: https only, public addresses only, resolved once, one
total deadline, a byte cap, no redirects). ``allow_loopback_http`` (off by default;
``--status-allow-http-loopback``, for development and tests) also accepts a host that resolves to loopback
only, over http or https. Fetched lists are cached for their ``ttl`` (capped by ``exp``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from civiccert.errors import CivicCertError, CredentialError, ReasonCode
from civiccert.fetch import FetchCodes, bounded_get
from civiccert.status.publish import MANIFEST_NAME, Manifest, manifest_uri
from civiccert.status.token import MAX_TOKEN_BYTES, StatusListToken, parse_token

__all__ = ["StatusListSource"]

_DIR_SUFFIXES = ("", ".jwt", ".cwt")
_CODES = FetchCodes(ReasonCode.STATUS_LIST_UNAVAILABLE, ReasonCode.STATUS_FETCH_REFUSED, "status list")


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
        return bounded_get(uri, accept=accept, codes=_CODES, timeout=self.timeout, max_bytes=self.max_bytes,
                           allow_loopback_http=self.allow_loopback_http)
