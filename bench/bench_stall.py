"""`make bench`: what hostile bodies cost the event loop, and what keyless or mis-keyed clients cost the others.

1. The event loop (the service's app in this process, on a fresh database): its longest step (CPU time of one
   callback) and its worst lag (how late a task sleeping 1 ms is woken), while it takes each body below, against
   the same measure over ordinary keyed reads. Bodies: a hostile import (objects of 100,000 tiny keys, long
   strings of backslashes, 100,000 empty objects, an unended 8 MiB line), a hostile campaign list, a valid import
   of 5,000 customers, and one import line of 64 MiB.
2. A real server: how soon a 1 MiB body without a key is answered, and the median of a keyed GET while eight
   clients send such bodies without pause, against the same GET with nobody else; then unknown keys sent from
   one address for 5 s, counted by answer (401, 429).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import socket
import statistics
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from bench.run import ROOT, _cli, _free_port, _serve, migrated, write_report

MiB = 1 << 20
CHUNK = 64 * 1024


def key_bomb(size: int) -> bytes:
    keys = [b'"k%d":1' % n for n in range(size // 9)]
    return b"{" + b",".join(keys)[: size - 2].rsplit(b",", 1)[0] + b"}"


def bodies() -> dict[str, tuple[str, list[bytes]]]:
    hostile = [
        *(key_bomb(MiB) + b"\n" for _ in range(3)),
        *(key_bomb(120 * 1024) + b"\n" for _ in range(4)),
        *(b'{"external_id": "s", "last_name": "' + b"\\\\" * (MiB // 2) + b'"}\n' for _ in range(3)),
        b"{}\n" * 100_000,
        b'{"external_id": "x", "city": "' + b"a" * (8 * MiB),
    ]
    campaign = [*(key_bomb(MiB) + b"\n" for _ in range(2)), b"{}\n" * 100_000, b'{"email": "' + b"x" * (8 * MiB)]
    valid = [
        b'{"external_id": "v-%d", "last_name": "Virtanen", "email": "a%d@example.fi", "phone": "+358401234567"}\n'
        % (n, n)
        for n in range(5000)
    ]
    huge = [b'{"external_id": "long", "last_name": "' + b"a" * (64 * MiB)]
    return {
        "hostile import": ("/v1/customers/import", hostile),
        "hostile campaign list": ("/v1/marketing/check?channel=direct_mail", campaign),
        "valid import, 5,000 customers": ("/v1/customers/import", valid),
        "one import line of 64 MiB": ("/v1/customers/import", huge),
    }


async def _chunked(parts: list[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        for start in range(0, len(part), CHUNK):
            yield part[start : start + CHUNK]


class _Meters:
    """The loop's longest step (CPU time of one callback) and worst lag (a 1 ms sleeper woken late)."""

    def __init__(self) -> None:
        self.step = self.lag = 0.0

    async def watch(self, work: Any) -> Any:
        run = asyncio.events.Handle._run

        def timed(handle: asyncio.events.Handle) -> None:
            before = time.thread_time()
            run(handle)
            self.step = max(self.step, time.thread_time() - before)

        async def sleeper() -> None:
            while True:
                before = time.perf_counter()
                await asyncio.sleep(0.001)
                self.lag = max(self.lag, time.perf_counter() - before - 0.001)

        task = asyncio.create_task(sleeper())
        await asyncio.sleep(0.01)
        asyncio.events.Handle._run = timed  # type: ignore[method-assign]
        try:
            return await work
        finally:
            asyncio.events.Handle._run = run  # type: ignore[method-assign]
            task.cancel()


def event_loop(url: str, key: str) -> dict[str, Any]:
    from app.config import Settings
    from app.main import create_app

    app = create_app(Settings(max_body_bytes=MiB), database_url=url)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/x-ndjson"}

    scenarios = bodies()  # made before, not while, the loop is watched

    async def run() -> dict[str, Any]:
        results: dict[str, Any] = {}
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://b", timeout=600) as client:
                await client.post(
                    "/v1/customers/import", content=b'{"external_id": "w", "last_name": "W"}\n', headers=headers
                )

                async def reads() -> None:
                    for _ in range(200):
                        await client.get("/v1/customers?limit=20", headers=headers)

                meters = _Meters()
                await meters.watch(reads())
                results["baseline: 200 keyed reads"] = {"step_ms": meters.step * 1000, "lag_ms": meters.lag * 1000}
                for name, (path, parts) in scenarios.items():
                    meters = _Meters()
                    started = time.perf_counter()
                    answer = await meters.watch(client.post(path, content=_chunked(parts), headers=headers))
                    results[name] = {
                        "status": answer.status_code,
                        "seconds": round(time.perf_counter() - started, 2),
                        "step_ms": round(meters.step * 1000, 1),
                        "lag_ms": round(meters.lag * 1000, 1),
                    }
        return results

    return asyncio.run(run())


def _keyless_body(port: int, stop: threading.Event | None = None) -> float:
    """Send POST /v1/customers with a 1 MiB body and no key; seconds until the answer's first byte."""
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(
            b"POST /v1/customers HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n" % MiB
        )
        try:
            for _ in range(MiB // CHUNK):
                conn.sendall(b"x" * CHUNK)
        except OSError:
            pass  # answered and closed before the body was all sent
        conn.recv(1)
    return time.perf_counter() - started


def _keyed_gets(port: int, key: str, seconds: float) -> list[float]:
    times = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"}) as client:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            started = time.perf_counter()
            answer = client.get("/v1/customers?limit=1")
            times.append(time.perf_counter() - started)
            assert answer.status_code == 200, answer.status_code  # a refusal is no measure of a read
    return times


def server(env: dict[str, str], key: str) -> dict[str, Any]:
    port = _free_port()
    process = _serve("app.main:create_app", port, env)
    try:
        first = statistics.median(_keyless_body(port) for _ in range(20))
        alone = statistics.median(_keyed_gets(port, key, 5))
        stop = threading.Event()

        def sender() -> None:
            while not stop.is_set():
                _keyless_body(port)

        senders = [threading.Thread(target=sender) for _ in range(8)]
        for thread in senders:
            thread.start()
        crowded = statistics.median(_keyed_gets(port, key, 5))
        stop.set()
        for thread in senders:
            thread.join()
        codes: Counter[int] = Counter()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                guess = {"Authorization": f"Bearer rk_{secrets.token_urlsafe(32)}"}
                codes[client.get("/v1/customers", headers=guess).status_code] += 1
    finally:
        process.terminate()
        process.wait(timeout=30)
    return {
        "1 MiB body without a key, answered after (median ms)": round(first * 1000, 1),
        "keyed GET median ms, alone": round(alone * 1000, 1),
        "keyed GET median ms, 8 keyless 1 MiB senders": round(crowded * 1000, 1),
        "ratio": round(crowded / alone, 2),
        "unknown keys from one address in 5 s, by answer": dict(codes),
    }


def main() -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    with migrated(REKISTERI_RATE_LIMIT_PER_SECOND="0") as (url, env):
        profile = ROOT / "examples" / "sonmark.toml"
        controller = _cli(env, "controllers", "create", "--profile", str(Path(profile)))
        # Admin: it imports, checks a campaign and lists customers (an integration key may not list: docs/roles.md).
        key = _cli(env, "keys", "create", "--controller", controller, "--name", "bench", "--role", "admin")
        os.environ.update(env)
        results = {"event loop": event_loop(url, key), "server": server(env, key)}
    write_report("stall", "bench.bench_stall", results)


if __name__ == "__main__":
    main()
