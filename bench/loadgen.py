"""A lean HTTP/1.1 load generator: keep-alive connections on asyncio streams, so that the client's own cost is
small and the same for the service and its baseline."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class Result:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))] if ordered else float("nan")


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status


async def _connection(
    host: str, port: int, paths: Sequence[str], headers: str, deadline: float, result: Result, warmup_until: float
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    rng = random.Random()
    try:
        while (now := time.perf_counter()) < deadline:
            path = paths[rng.randrange(len(paths))]
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{headers}\r\n".encode())
            started = time.perf_counter()
            status = await _read_response(reader)
            if now < warmup_until:
                continue
            result.latencies_ms.append((time.perf_counter() - started) * 1000)
            result.requests += 1
            if status >= 400:
                result.errors += 1
    finally:
        writer.close()


async def hammer(
    host: str, port: int, paths: Sequence[str], *, headers: dict[str, str], connections: int, seconds: float
) -> Result:
    """Send GETs over `connections` keep-alive connections for `seconds` (after a one-second warm-up)."""
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    start = time.perf_counter()
    warmup_until = start + 1.0
    result = Result(0, 0, seconds, [])
    await asyncio.gather(
        *(
            _connection(host, port, paths, head, warmup_until + seconds, result, warmup_until)
            for _ in range(connections)
        )
    )
    return result
