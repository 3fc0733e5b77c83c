"""JSON-RPC over HTTP with a total deadline and a size cap on every reply, so a hostile node cannot hold us.

A per-read timeout (what ``requests`` offers) lets a node that trickles one byte a second keep a call open for
hours, and a node that streams 200 MB costs a gigabyte of memory once decoded. ``BoundedHTTPProvider`` is
web3's ``HTTPProvider`` with its HTTP POST replaced by ``_post``: every socket read waits at most until the
call's deadline (status line and headers included), the body is read in pieces and dropped as soon as it
passes ``max_response_bytes``, and a reply nested deeper than the JSON parser can take safely is refused
(py-evm raises the recursion limit, so deep nesting would overflow the C stack in ``json``).

Errors are ChainError: CHAIN_TIMEOUT (deadline passed), CHAIN_RESPONSE_TOO_LARGE (size cap), NODE_UNRELIABLE
(reply nested too deeply), CHAIN_UNREACHABLE (refused, reset, or an HTTP status other than 2xx). Nothing is
retried except a request on a kept-alive connection that the node had closed meanwhile (before any reply).
Connections are kept alive and reused; HTTP proxies from the environment are not used.
"""

from __future__ import annotations

import http.client
import io
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from web3 import HTTPProvider
from web3.types import RPCEndpoint

from civiccert.credentials.strictjson import json_depth_ok
from civiccert.errors import ChainError, ReasonCode

__all__ = ["DEFAULT_DEADLINE", "DEFAULT_MAX_RESPONSE_BYTES", "BoundedHTTPProvider"]

DEFAULT_DEADLINE = 30.0  # seconds for one whole JSON-RPC call: connect, send, wait, read
DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024
_READ_PIECE = 64 * 1024
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class _DeadlineSocket:
    """The part of a socket http.client uses, with every wait cut to the time left before ``deadline``."""

    def __init__(self, sock: socket.socket, idle_timeout: float) -> None:
        self.sock = sock
        self.idle_timeout = idle_timeout
        self.deadline = time.monotonic() + idle_timeout
        self._readers = 0  # like socket.makefile: the socket closes when the connection and its readers have
        self._close_asked = False

    def _arm(self) -> None:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("deadline passed")
        self.sock.settimeout(min(left, self.idle_timeout))

    def sendall(self, data: bytes) -> None:
        self._arm()
        self.sock.sendall(data)

    def recv_into(self, buffer: Any) -> int:
        self._arm()
        return self.sock.recv_into(buffer)

    def makefile(self, mode: str, *_args: Any, **_kwargs: Any) -> io.BufferedReader:
        self._readers += 1
        return io.BufferedReader(_Reader(self))

    def release(self) -> None:
        self._readers -= 1
        if self._close_asked and self._readers <= 0:
            self.sock.close()

    def close(self) -> None:
        self._close_asked = True
        if self._readers <= 0:
            self.sock.close()


class _Reader(io.RawIOBase):
    def __init__(self, sock: _DeadlineSocket) -> None:
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self._sock.recv_into(buffer)

    def close(self) -> None:
        if not self.closed:
            self._sock.release()
        super().close()


class _Pool:
    """Idle kept-alive connections to one endpoint (thread-safe; a connection serves one call at a time)."""

    def __init__(self, url: str, idle_timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("endpoint must be an http(s) URL")
        self.https = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.https else 80)
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.idle_timeout = idle_timeout
        self._idle: list[tuple[http.client.HTTPConnection, _DeadlineSocket]] = []
        self._lock = threading.Lock()
        self._tls = ssl.create_default_context() if self.https else None

    def take(self) -> tuple[http.client.HTTPConnection, _DeadlineSocket] | None:
        with self._lock:
            return self._idle.pop() if self._idle else None

    def give_back(self, conn: http.client.HTTPConnection, sock: _DeadlineSocket) -> None:
        with self._lock:
            self._idle.append((conn, sock))

    def close(self) -> None:
        """Close every idle connection (a provider that goes away must not leak sockets)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn, _sock in idle:
            conn.close()

    def __del__(self) -> None:
        self.close()

    def open(self, deadline: float) -> tuple[http.client.HTTPConnection, _DeadlineSocket]:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("deadline passed")
        raw = socket.create_connection((self.host, self.port), timeout=min(left, self.idle_timeout))
        try:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._tls is not None:
                raw.settimeout(max(0.001, min(deadline - time.monotonic(), self.idle_timeout)))
                raw = self._tls.wrap_socket(raw, server_hostname=self.host)
        except BaseException:
            raw.close()
            raise
        wrapped = _DeadlineSocket(raw, self.idle_timeout)
        conn = http.client.HTTPConnection(self.host, self.port)
        conn.sock = wrapped  # http.client uses sendall, makefile and close only
        return conn, wrapped


def _post(pool: _Pool, body: bytes, headers: Mapping[str, str], *, deadline: float, max_bytes: int) -> bytes:
    """POST ``body`` and return the reply body; ChainError when the deadline or the size cap is passed."""
    end = time.monotonic() + deadline
    try:
        reused = pool.take()
        if reused is not None:
            try:
                return _exchange(pool, reused, body, headers, end=end, max_bytes=max_bytes)
            except _STALE:  # the node closed the idle connection: one fresh try, nothing was answered
                pass
        return _exchange(pool, pool.open(end), body, headers, end=end, max_bytes=max_bytes)
    except TimeoutError as exc:  # socket.timeout is TimeoutError
        raise ChainError(ReasonCode.CHAIN_TIMEOUT, f"the node did not answer within {deadline:g} s") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise ChainError(ReasonCode.CHAIN_UNREACHABLE, "the node did not answer") from exc


def _exchange(pool: _Pool, link: tuple[http.client.HTTPConnection, _DeadlineSocket], body: bytes,
              headers: Mapping[str, str], *, end: float, max_bytes: int) -> bytes:
    conn, sock = link
    sock.deadline = end
    keep = False
    response: http.client.HTTPResponse | None = None
    try:
        conn.request("POST", pool.path, body=body, headers=dict(headers))
        response = conn.getresponse()
        if not 200 <= response.status < 300:
            raise ChainError(ReasonCode.CHAIN_UNREACHABLE, f"the node answered HTTP {response.status}")
        declared = response.getheader("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            raise _too_large(max_bytes)
        pieces: list[bytes] = []
        size = 0
        while piece := response.read1(_READ_PIECE):
            size += len(piece)
            if size > max_bytes:
                raise _too_large(max_bytes)
            pieces.append(piece)
        data = b"".join(pieces)
        keep = not response.will_close
    finally:
        if response is not None:
            response.close()  # read to the end, or given up on; http.client sends the next request only after this
        if keep:
            pool.give_back(conn, sock)
        else:
            conn.close()
    if not json_depth_ok(data.decode("utf-8", "replace")):
        raise ChainError(ReasonCode.NODE_UNRELIABLE, "the node's reply nests too deeply")
    return data


# Answers that never change for a node (cached per thread). web3 would also cache blocks and transactions, but
# validates each by asking the node again: a second request per call, and a node gone in between made web3 log
# a traceback. Nothing here reads the same block twice in a way worth caching.
_IMMUTABLE = {RPCEndpoint("eth_chainId"), RPCEndpoint("web3_clientVersion"), RPCEndpoint("net_version")}


def _too_large(max_bytes: int) -> ChainError:
    return ChainError(ReasonCode.CHAIN_RESPONSE_TOO_LARGE, f"the node's reply exceeds {max_bytes} bytes")


class _BoundedPoster:
    """Stands in for web3's HTTP session manager: the one place ``make_request`` and ``make_batch_request``
    send their POST."""

    def __init__(self, pool: _Pool, deadline: float, max_bytes: int) -> None:
        self.pool, self.deadline, self.max_bytes = pool, deadline, max_bytes

    def make_post_request(self, endpoint_uri: str, data: bytes | str, **kwargs: Any) -> bytes:
        body = data.encode("utf-8") if isinstance(data, str) else data
        headers = kwargs.get("headers") or {"Content-Type": "application/json"}
        return _post(self.pool, body, headers, deadline=self.deadline, max_bytes=self.max_bytes)


class BoundedHTTPProvider(HTTPProvider):
    """web3's HTTPProvider whose every call ends within ``deadline`` seconds and reads at most
    ``max_response_bytes`` (ChainError otherwise); ``idle_timeout`` bounds connecting and each silence."""

    def __init__(self, url: str, *, deadline: float = DEFAULT_DEADLINE,
                 max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES, idle_timeout: float = 10.0) -> None:
        if deadline <= 0 or max_response_bytes <= 0 or idle_timeout <= 0:
            raise ValueError("deadline, max_response_bytes and idle_timeout must be positive")
        super().__init__(url, exception_retry_configuration=None, cache_allowed_requests=True,
                         cacheable_requests=_IMMUTABLE, request_cache_validation_threshold=None)
        self.deadline = deadline
        self.max_response_bytes = max_response_bytes
        self._request_session_manager = _BoundedPoster(  # type: ignore[assignment]
            _Pool(url, idle_timeout), deadline, max_response_bytes)
