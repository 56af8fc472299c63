"""`make bench`: a soak, 60 seconds at 64 connections over a mix of reads, writes and checks.

The service (one `rekisteri serve` process, as `make run` serves) holds a register seeded with COPY. 64
keep-alive connections send, at random: 50% GET /v1/customers/{id}, 20% GET .../marketing/{channel} (the
single check), 15% PATCH /v1/customers/{id} (a new city, without If-Match: last write wins, every write is
audited), 10% POST /v1/customers (half with an Idempotency-Key, a tenth of those a retry of an earlier one) and
5% POST /v1/customers/import (ten lines upserted by external id). An error is a 5xx, a dropped connection or
any status other than the one the call should get. Reported: throughput and p50/p99 overall and per kind,
errors by kind, the server's RSS every five seconds, and whether the audit chain still verifies. The rate limit
is off on the server: one key drives all the load. The client is a raw-socket HTTP/1.1 loop (bench/loadgen.py),
so that it costs the two shared cores as little as it can. The baseline, run first for ten seconds at the same
connections: `bench.run`'s bare endpoint (a constant JSON from the same uvicorn settings); the throughput is
reported as a ratio of it.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict

import orjson
import psutil

from bench.loadgen import _read_response, hammer
from bench.run import ROOT, _cli, _free_port, _seed, _serve, migrated, write_report

MIX = (("get", 50), ("check", 20), ("patch", 15), ("create", 10), ("import", 5))
EXPECTED = {"get": 200, "check": 200, "patch": 200, "create": 201, "import": 200}
CHANNELS = ("electronic", "direct_mail", "telemarketing")
BARE_PATHS = [f"/v1/customers/{uuid.UUID(int=n)}/marketing/electronic" for n in range(100)]


class Stats:
    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: Counter[str] = Counter()
        self.statuses: Counter[tuple[str, int]] = Counter()


def _request(method: str, path: str, auth: str, body: bytes | None = None, extra: str = "") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {auth}\r\n{extra}"
    if body is not None:
        kind = "application/x-ndjson" if path.endswith("/import") else "application/json"
        head += f"Content-Type: {kind}\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + (body or b"")


def _call(kind: str, rng: random.Random, ids: list[str], key: str, keys_used: list[str]) -> bytes:
    if kind == "get":
        return _request("GET", f"/v1/customers/{rng.choice(ids)}", key)
    if kind == "check":
        return _request("GET", f"/v1/customers/{rng.choice(ids)}/marketing/{rng.choice(CHANNELS)}", key)
    if kind == "patch":
        body = orjson.dumps({"city": f"Kaupunki {rng.randrange(1000)}"})
        return _request("PATCH", f"/v1/customers/{rng.choice(ids)}", key, body)
    if kind == "create":
        extra = ""
        if rng.random() < 0.5:
            retry = keys_used and rng.random() < 0.1
            idem = rng.choice(keys_used) if retry else uuid.uuid4().hex
            if not retry:
                keys_used.append(idem)
            extra = f"Idempotency-Key: {idem}\r\n"
            body = orjson.dumps({"last_name": f"Kuorma {idem}"})  # the same body for a retried key
        else:
            body = orjson.dumps({"last_name": "Kuorma", "email": f"{uuid.uuid4().hex[:10]}@soak.example.fi"})
        return _request("POST", "/v1/customers", key, body, extra)
    lines = b"".join(
        orjson.dumps({"external_id": f"soak-{rng.randrange(5000)}", "last_name": f"Tuonti {rng.randrange(9)}"}) + b"\n"
        for _ in range(10)
    )
    return _request("POST", "/v1/customers/import", key, lines)


async def _connection(port: int, key: str, ids: list[str], deadline: float, stats: Stats, keys_used: list[str]) -> None:
    rng = random.Random()
    kinds = [kind for kind, weight in MIX for _ in range(weight)]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline:
            kind = rng.choice(kinds)
            writer.write(_call(kind, rng, ids, key, keys_used))
            started = time.perf_counter()
            try:
                status = await _read_response(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                stats.errors[f"{kind}: connection"] += 1
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            stats.latencies[kind].append((time.perf_counter() - started) * 1000)
            stats.statuses[(kind, status)] += 1
            if status != EXPECTED[kind]:
                stats.errors[f"{kind}: {status}"] += 1
    finally:
        writer.close()


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))], 1) if ordered else float("nan")


def _mib(n: float) -> float:
    return round(n / 2**20, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--customers", type=int, default=5000, help="customers seeded")
    parser.add_argument("--baseline-seconds", type=float, default=10, help="the bare endpoint's run")
    args = parser.parse_args()

    with migrated(REKISTERI_RATE_LIMIT_PER_SECOND="0") as (url, env):
        controller_id = _cli(env, "controllers", "create", "--profile", str(ROOT / "examples" / "sonmark.toml"))
        key = _cli(env, "keys", "create", "--controller", controller_id, "--name", "soak", "--role", "admin")
        ids = _seed(url, controller_id, args.customers)
        baseline = _baseline(env, args)
        port = _free_port()
        app_server = _serve("app.main:create_app", port, env)
        process = psutil.Process(app_server.pid)
        rss: list[tuple[float, float]] = []
        stats = Stats()
        try:
            asyncio.run(_warm_up(port, key, ids))
            started = time.perf_counter()
            sampling = threading.Event()
            sampling.set()

            def sample() -> None:
                while sampling.is_set():
                    rss.append((round(time.perf_counter() - started, 1), _mib(process.memory_info().rss)))
                    time.sleep(5)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            print(f"soak: {args.seconds:g} s at {args.connections} connections ...", flush=True)
            asyncio.run(_soak(port, key, ids, started + args.seconds, args.connections, stats))
            elapsed = time.perf_counter() - started
            sampling.clear()
            rss.append((round(elapsed, 1), _mib(process.memory_info().rss)))
        finally:
            app_server.terminate()
            app_server.wait(timeout=30)
        verified = subprocess.run(
            [sys.executable, "-m", "app.cli", "audit", "verify"], env=env, cwd=ROOT, capture_output=True, text=True
        )
    _report(args, stats, elapsed, rss, verified.stdout.strip(), verified.returncode, baseline)


def _baseline(env: dict[str, str], args: argparse.Namespace) -> dict[str, float]:
    """The bare endpoint of `bench.run` (a constant JSON, the same uvicorn settings) at the same connections."""
    port = _free_port()
    bare = _serve("bench.bare:app", port, env)
    try:
        result = asyncio.run(
            hammer(
                "127.0.0.1", port, BARE_PATHS, headers={}, connections=args.connections, seconds=args.baseline_seconds
            )
        )
    finally:
        bare.terminate()
        bare.wait(timeout=30)
    return {"per_second": round(result.rps, 1), "p99_ms": round(result.percentile(99), 1)}


async def _warm_up(port: int, key: str, ids: list[str]) -> None:
    await _soak(port, key, ids, time.perf_counter() + 3, 8, Stats())


async def _soak(port: int, key: str, ids: list[str], deadline: float, connections: int, stats: Stats) -> None:
    keys_used: list[str] = []
    await asyncio.gather(*(_connection(port, key, ids, deadline, stats, keys_used) for _ in range(connections)))


def _report(
    args: argparse.Namespace,
    stats: Stats,
    elapsed: float,
    rss: list[tuple[float, float]],
    verify: str,
    code: int,
    baseline: dict[str, float],
) -> None:
    every = [v for values in stats.latencies.values() for v in values]
    kinds = {
        kind: {
            "requests": len(values),
            "per_second": round(len(values) / elapsed, 1),
            "p50_ms": _percentile(values, 50),
            "p99_ms": _percentile(values, 99),
        }
        for kind, values in stats.latencies.items()
    }
    report = {
        "seconds": round(elapsed, 1),
        "connections": args.connections,
        "requests": len(every),
        "per_second": round(len(every) / elapsed, 1),
        "p50_ms": _percentile(every, 50),
        "p99_ms": _percentile(every, 99),
        "bare_per_second": baseline["per_second"],
        "bare_p99_ms": baseline["p99_ms"],
        "ratio_to_bare": round(len(every) / elapsed / baseline["per_second"], 3),
        "errors": sum(stats.errors.values()),
        "errors_by_kind": dict(stats.errors),
        "statuses": {f"{kind} {status}": n for (kind, status), n in sorted(stats.statuses.items())},
        "kinds": kinds,
        "server_rss_mib": rss,
        "server_rss_start_mib": rss[0][1] if rss else None,
        "server_rss_end_mib": rss[-1][1] if rss else None,
        "audit_verify": verify,
        "audit_verify_ok": code == 0,
    }
    report = write_report("soak", "bench.bench_soak", report)
    print(
        f"soak: {report['requests']:,} requests in {report['seconds']} s = {report['per_second']}/s, "
        f"{report['ratio_to_bare']:.2f} of the bare endpoint ({report['bare_per_second']}/s), "
        f"p50 {report['p50_ms']} ms, p99 {report['p99_ms']} ms, errors {report['errors']}; server RSS "
        f"{report['server_rss_start_mib']} -> {report['server_rss_end_mib']} MiB; audit chain "
        f"{'verifies' if code == 0 else 'BROKEN'}"
    )


if __name__ == "__main__":
    main()
