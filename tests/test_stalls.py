"""No NDJSON body stalls the event loop: hostile lines are read, scanned and parsed without holding it up.

The service runs here in the test's own event loop (its real app and lifespan, on the real database) while two
meters watch the loop: the CPU time of its longest step (one callback: what the loop itself spent, which a busy
machine does not inflate), and how late a task that sleeps a millisecond at a time is woken (what another client
of the same process would wait, worker threads included). The bounds are generous, far above what the reader
costs (a few ms) and far below what a body parsed on the loop costs (a second or more). The figures, measured by
`bench/bench_stall.py`, are in docs/reliability.md.

Then a real server takes a line of 64 MiB while another client keeps asking it for something.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import psutil
import pytest

from app.config import Settings
from app.main import create_app
from app.models.api_keys import Role
from tests.conftest import Tenant
from tests.ports import free_port
from tests.test_cli import ROOT
from tests.test_limits import wait_ready
from tests.waiting import wait_for

MiB = 1 << 20
CHUNK = 64 * 1024
TINY = 100_000  # lines of `{}`: a chunk holds 20,000 of them
LONGEST_STEP = 0.1  # seconds of the loop's CPU in one step: ten times the goal, a tenth of one parse on the loop
LONGEST_LAG = 1.0  # seconds late: a busy machine may add to a wall clock, never this much


def key_bomb(size: int) -> bytes:
    """One JSON object of `size` bytes made of tiny unknown keys: the most work per byte for a JSON parser."""
    keys, length, n = [], 2, 0
    while length < size - 16:
        key = b'"k%d":1' % n
        keys.append(key)
        length += len(key) + 1
        n += 1
    return b"{" + b",".join(keys) + b"}"


def hostile_import() -> list[bytes]:
    """Lines that each cost something: huge objects of tiny keys, long strings to scan, a flood of tiny lines."""
    return [
        *(key_bomb(MiB) + b"\n" for _ in range(3)),  # over the line limit: dropped unread
        *(key_bomb(120 * 1024) + b"\n" for _ in range(4)),  # under it: parsed, and refused
        *(b'{"external_id": "s", "last_name": "' + b"\\\\" * (MiB // 2) + b'"}\n' for _ in range(3)),
        b"{}\n" * TINY,
        b'{"external_id": "x", "city": "' + b"a" * (8 * MiB),  # a last line without its end
    ]


def hostile_campaign() -> list[bytes]:
    return [*(key_bomb(MiB) + b"\n" for _ in range(2)), b"{}\n" * TINY, b'{"email": "' + b"x" * (8 * MiB)]


def valid_import(count: int, tag: str) -> list[bytes]:
    return [
        b'{"external_id": "%s-%d", "last_name": "Virtanen", "email": "a%d@example.fi", "phone": "+358401234567"}\n'
        % (tag.encode(), n, n)
        for n in range(count)
    ]


async def chunked(parts: list[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        for start in range(0, len(part), CHUNK):
            yield part[start : start + CHUNK]


class StepMeter:
    """The longest step of the event loop: the CPU time its thread spent in one callback (a task's step)."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._run: Any = None

    def __enter__(self) -> StepMeter:
        meter, run = self, asyncio.events.Handle._run
        self._run = run

        def timed(handle: asyncio.events.Handle) -> None:
            before = time.thread_time()
            run(handle)
            meter.longest = max(meter.longest, time.thread_time() - before)

        asyncio.events.Handle._run = timed  # type: ignore[method-assign]
        return self

    def __exit__(self, *_: object) -> None:
        asyncio.events.Handle._run = self._run  # type: ignore[method-assign]


class LagMeter:
    """A task that sleeps a millisecond at a time and keeps the worst delay in waking up."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.001)
            self.worst = max(self.worst, time.perf_counter() - before - 0.001)

    async def __aenter__(self) -> LagMeter:
        self._task = asyncio.create_task(self._run())
        await asyncio.sleep(0.01)
        self.worst = 0.0  # from here on
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()


Send = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]


def measured(database_url: str, warm: Send, send: Send) -> tuple[float, float, httpx.Response]:
    """Run the service in this loop, `warm` it, then `send` under both meters: longest step, worst lag, answer."""
    app = create_app(Settings(max_body_bytes=MiB), database_url=database_url)  # the default JSON body limit

    async def run() -> tuple[float, float, httpx.Response]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://rekisteri", timeout=600) as client:
                await warm(client)  # statements compiled, pools filled: the first request of a process pays those
                async with LagMeter() as lag:
                    with StepMeter() as step:
                        response = await send(client)
                return step.longest, lag.worst, response

    return asyncio.run(run())


def posting(path: str, tenant: Tenant, parts: list[bytes], **params: str) -> Send:
    async def send(client: httpx.AsyncClient) -> httpx.Response:
        headers = tenant.headers(Role.integration, **{"Content-Type": "application/x-ndjson"})
        return await client.post(path, params=params, content=chunked(parts), headers=headers)

    return send


@pytest.mark.slow
def test_a_hostile_import_does_not_stall_the_loop(database_url: str, tenant: Tenant) -> None:
    warm = posting("/v1/customers/import", tenant, valid_import(30, "warm"))
    step, lag, response = measured(database_url, warm, posting("/v1/customers/import", tenant, hostile_import()))
    assert step < LONGEST_STEP, f"the event loop ran {step * 1000:.0f} ms in one step"
    assert lag < LONGEST_LAG, f"the event loop woke a task {lag * 1000:.0f} ms late"
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["created"] == 0
    assert report["failed"] == report["lines"] == 3 + 4 + 3 + TINY + 1
    first = report["errors"][0]
    assert first == {"line": 1, "errors": [{"loc": [], "msg": "longer than 131072 bytes", "type": "too_long"}]}
    parsed = report["errors"][3]  # a line of ten thousand unknown keys: a few are named
    assert parsed["line"] == 4
    assert [e["type"] for e in parsed["errors"] if e["type"] == "extra_forbidden"] == ["extra_forbidden"] * 10


@pytest.mark.slow
def test_a_large_valid_import_does_not_stall_the_loop(database_url: str, tenant: Tenant) -> None:
    warm = posting("/v1/customers/import", tenant, valid_import(30, "warm"))
    body = valid_import(3000, "big")
    step, lag, response = measured(database_url, warm, posting("/v1/customers/import", tenant, body))
    assert step < LONGEST_STEP, f"the event loop ran {step * 1000:.0f} ms in one step"
    assert lag < LONGEST_LAG, f"the event loop woke a task {lag * 1000:.0f} ms late"
    assert response.json()["created"] == 3000


@pytest.mark.slow
def test_a_hostile_campaign_list_does_not_stall_the_loop(database_url: str, tenant: Tenant) -> None:
    warm = posting("/v1/marketing/check", tenant, [b'{"email": "a@example.fi"}\n'] * 30, channel="direct_mail")
    send = posting("/v1/marketing/check", tenant, hostile_campaign(), channel="direct_mail")
    step, lag, response = measured(database_url, warm, send)
    assert step < LONGEST_STEP, f"the event loop ran {step * 1000:.0f} ms in one step"
    assert lag < LONGEST_LAG, f"the event loop woke a task {lag * 1000:.0f} ms late"
    assert response.status_code == 200, response.text
    answers = response.content.splitlines()
    assert len(answers) == 2 + TINY + 1
    assert b'"reason":"invalid_identifier"' in answers[0]


# --- a real server ----------------------------------------------------------------------------------------


def one_long_line(size: int, halfway: Callable[[], None]) -> Iterator[bytes]:
    yield b'{"external_id": "long", "last_name": "'
    for n in range(size // CHUNK):
        if n == size // CHUNK // 2:
            halfway()
        yield b"a" * CHUNK


@pytest.mark.slow
def test_a_line_of_64_mib_is_answered_while_others_are(database_url: str, tenant: Tenant) -> None:
    # The suite lets JSON bodies be 64 MiB (the contract run sends large ones); an import line is still bounded.
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "REKISTERI_DATABASE_URL": database_url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(port)
        rss = psutil.Process(server.pid)
        before = rss.memory_info().rss
        done = threading.Event()
        answered: list[int] = []
        peak = [before]

        def other_client() -> None:
            # A generous timeout: a request left waiting this long behind the import fails the test.
            with httpx.Client(base_url=base, timeout=5) as client:
                while not done.is_set():
                    answered.append(client.get("/v1/customers?limit=1", headers=tenant.headers()).status_code)
                    peak[0] = max(peak[0], rss.memory_info().rss)

        def others_answered() -> None:
            # Halfway through the line, the other client's next requests are answered before the line goes on.
            seen = len(answered)
            wait_for(lambda: len(answered) >= seen + 3, timeout=30, message="the other client got no answers")

        poller = threading.Thread(target=other_client)
        poller.start()
        try:
            headers = tenant.headers(Role.integration, **{"Content-Type": "application/x-ndjson"})
            body = one_long_line(64 * MiB, others_answered)
            response = httpx.post(f"{base}/v1/customers/import", content=body, headers=headers, timeout=120)
        finally:
            done.set()
            poller.join()
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["errors"] == [
        {"line": 1, "errors": [{"loc": [], "msg": "longer than 131072 bytes", "type": "too_long"}]}
    ]
    assert set(answered) == {200}, answered
    assert peak[0] - before < 32 * MiB  # the line was never held
