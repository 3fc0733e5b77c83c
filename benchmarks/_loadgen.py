"""A lean HTTP/1.1 load generator for ``bench_server.py``: asyncio, raw keep-alive sockets, pre-built requests.

The client shares the two cores with the server, so it must cost little: one event loop in one thread, every
request's bytes built once (only the Idempotency-Key differs: each request has its own), responses parsed by
their ``Content-Length`` only. An httpx client in threads cost the server a large share of the CPU it needed.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

__all__ = ["LoadResult", "post_many"]


@dataclass(frozen=True)
class LoadResult:
    latencies: list[float]  # seconds, one per request
    wall: float  # seconds from the first request to the last answer
    errors: int  # answers other than ``expect`` (and broken connections)
    client_cpu: float  # CPU seconds this process spent generating the load


async def _connection(  # noqa: PLR0917 - a private coroutine, one call site
    host: str, port: int, head: bytes, body: bytes, keys: list[bytes], expect: int, latencies: list[float],
    errors: list[int],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while keys:
            key = keys.pop()
            request = head + key + b"\r\n\r\n" + body
            start = time.perf_counter()
            writer.write(request)
            status_line = await reader.readuntil(b"\r\n")
            headers = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in headers.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            if int(status_line.split(b" ", 2)[1]) != expect:
                errors[0] += 1
    except (OSError, asyncio.IncompleteReadError):
        errors[0] += 1
    finally:
        writer.close()


def post_many(host: str, port: int, path: str, body: bytes, token: str, *, requests: int, concurrency: int,
              key_prefix: str, expect: int = 201) -> LoadResult:  # fmt: skip
    """POST ``body`` to ``path`` ``requests`` times over ``concurrency`` keep-alive connections."""
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nIdempotency-Key: ").encode()
    keys = [f"{key_prefix}-{i:08d}".encode() for i in range(requests)]
    latencies: list[float] = []
    errors = [0]

    async def main() -> float:
        start = time.perf_counter()
        await asyncio.gather(*(_connection(host, port, head, body, keys, expect, latencies, errors)
                               for _ in range(concurrency)))  # fmt: skip
        return time.perf_counter() - start

    cpu = time.process_time()
    wall = asyncio.run(main())
    errors[0] += len(keys)  # never sent: every connection broke
    return LoadResult(latencies, wall, errors[0], time.process_time() - cpu)
