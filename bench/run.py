"""`make bench`: the marketing check against baselines measured in the same run on the same machine.

1. Single check: requests per second of GET /v1/customers/{id}/marketing/{channel} under N concurrent
   keep-alive connections, against a bare FastAPI endpoint returning a constant JSON under the same uvicorn
   settings. Also p50/p99 latency.
2. Campaign check: a million identifiers through POST /v1/marketing/check (NDJSON streamed both ways), against
   the same lookup done as one raw SQL query with psycopg over the same data. Also the server's RSS.

The register is seeded with COPY as the database owner, the audit triggers switched off for the load (a fixture
for the benchmark, not a path the service has).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg

from app.db import ensure_database, libpq_url, normalise_url, start_embedded
from bench.loadgen import hammer

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _machine() -> dict[str, Any]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "system": platform.platform(),
    }


def _database(tmp: Path) -> tuple[str, str]:
    server = os.environ.get("REKISTERI_BENCH_DATABASE_URL")
    server = normalise_url(server) if server else start_embedded(tmp / "pg", "postgres", cleanup="delete")
    name = f"rekisteri_bench_{uuid.uuid4().hex[:8]}"
    ensure_database(server, name)
    from sqlalchemy.engine import make_url

    return server, make_url(server).set(database=name).render_as_string(hide_password=False)


@contextmanager
def migrated(**settings: str) -> Iterator[tuple[str, dict[str, str]]]:
    """A new database, migrated, and the environment of a service on it (plus `settings`); dropped afterwards."""
    with tempfile.TemporaryDirectory(prefix="rekisteri-bench-") as tmp:
        server, url = _database(Path(tmp))
        env = {
            **os.environ,
            "REKISTERI_DATABASE_URL": url,
            "REKISTERI_DATA_DIR": tmp,
            "REKISTERI_MASTER_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            **settings,
        }
        _cli(env, "db", "upgrade")
        try:
            yield url, env
        finally:
            with psycopg.connect(libpq_url(server), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE "{url.rsplit("/", 1)[-1].split("?")[0]}" WITH (FORCE)')


def write_report(name: str, script: str, report: dict[str, Any]) -> dict[str, Any]:
    """Keep the report in bench/results/`name`.json with how and where it was made, and print it."""
    report = {
        "command": f"make bench  (python -m {script} " + " ".join(sys.argv[1:]) + ")",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": _machine(),
        **report,
    }
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return report


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    return done.stdout.strip().splitlines()[-1]


def _seed(url: str, controller_id: str, count: int) -> list[str]:
    """COPY `count` customers, a third with an e-mail consent and a fifth with a direct-mail prohibition."""
    ids = [str(uuid.uuid4()) for _ in range(count)]
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        with conn.cursor().copy(
            "COPY customer (controller_id, id, kind, version, created_at, email, external_id) FROM STDIN"
        ) as copy:
            for n, cid in enumerate(ids):
                copy.write_row((controller_id, cid, "private", 1, "2026-01-01T00:00:00Z", f"c{n}@example.fi", f"e{n}"))
        with conn.cursor().copy(
            "COPY marketing_event (controller_id, id, customer_id, channel, action, occurred_at, recorded_by) "
            "FROM STDIN"
        ) as copy:
            for n, cid in enumerate(ids):
                if n % 3 == 0:
                    copy.write_row(
                        (
                            controller_id,
                            str(uuid.uuid4()),
                            cid,
                            "electronic",
                            "consent_granted",
                            "2026-01-02T00:00:00Z",
                            "bench",
                        )
                    )
                if n % 5 == 0:
                    copy.write_row(
                        (
                            controller_id,
                            str(uuid.uuid4()),
                            cid,
                            "direct_mail",
                            "prohibited",
                            "2026-01-02T00:00:00Z",
                            "bench",
                        )
                    )
        conn.execute("ANALYZE")
    return ids


def _serve(target: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        target,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    if target.startswith("app."):
        command.append("--factory")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/docs", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{target} did not start")


def _single(port_app: int, port_bare: int, key: str, ids: list[str], args: argparse.Namespace) -> dict[str, Any]:
    paths = [f"/v1/customers/{cid}/marketing/electronic" for cid in ids[: args.customers]]
    runs: dict[str, list[Any]] = {"bare": [], "service": []}
    for _ in range(args.rounds):  # alternate, so that a noisy neighbour hits both
        for name, port, headers in (("bare", port_bare, {}), ("service", port_app, {"Authorization": f"Bearer {key}"})):
            result = asyncio.run(
                hammer("127.0.0.1", port, paths, headers=headers, connections=args.connections, seconds=args.seconds)
            )
            runs[name].append(result)
    best = {name: max(results, key=lambda r: r.rps) for name, results in runs.items()}
    return {
        "connections": args.connections,
        "seconds_per_round": args.seconds,
        "rounds": args.rounds,
        "bare_rps": round(best["bare"].rps),
        "service_rps": round(best["service"].rps),
        "ratio": round(best["service"].rps / best["bare"].rps, 3),
        "service_p50_ms": round(best["service"].percentile(50), 2),
        "service_p99_ms": round(best["service"].percentile(99), 2),
        "bare_p99_ms": round(best["bare"].percentile(99), 2),
        "service_errors": sum(r.errors for r in runs["service"]),
    }


def _raw_lookup(url: str, controller_id: str, ids: list[str]) -> float:
    from app.models.profile import DEFAULT_SALE_WINDOW_MONTHS
    from app.services.marketing import _FACTS

    query = str(_FACTS).replace(":channels", "%(channels)s").replace(":controller_id", "%(controller_id)s")
    query = query.replace(":ids", "%(ids)s").replace(":default_months", "%(default_months)s")
    with psycopg.connect(libpq_url(url)) as conn:
        conn.execute("SELECT 1")
        started = time.perf_counter()
        rows = conn.execute(
            query,
            {
                "channels": ["electronic"],
                "controller_id": controller_id,
                "ids": [uuid.UUID(i) for i in ids],
                "default_months": DEFAULT_SALE_WINDOW_MONTHS,
            },
        ).fetchall()
        elapsed = time.perf_counter() - started
    assert len(rows) == len(ids)
    return elapsed


def _bulk(port: int, pid: int, key: str, url: str, controller_id: str, ids: list[str]) -> dict[str, Any]:
    process = psutil.Process(pid)
    rss_start = process.memory_info().rss
    peak = [rss_start]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], process.memory_info().rss)
            time.sleep(0.05)

    # The list is made before the clock starts, as the raw query's id list is, and sent and read over a plain
    # socket: the client's own cost should not count against the service.
    body = b"".join(b'{"customer_id": "' + cid.encode() + b'"}\n' for cid in ids)
    head = (
        f"POST /v1/marketing/check?channel=electronic HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {key}\r\nContent-Type: application/x-ndjson\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    answered = 0
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as sock, sock.makefile("rb") as answer:
        sock.sendall(head + body)
        status = answer.readline()
        assert b" 200 " in status, status
        while answer.readline() not in (b"\r\n", b""):
            pass  # headers
        while (size := int(answer.readline().strip() or b"0", 16)) > 0:  # chunked
            answered += answer.read(size).count(b"\n")
            answer.readline()
    service_seconds = time.perf_counter() - started
    stop.set()
    sampler.join()
    assert answered == len(ids), answered
    raw_seconds = _raw_lookup(url, controller_id, ids)
    return {
        "identifiers": len(ids),
        "service_seconds": round(service_seconds, 2),
        "service_ids_per_second": round(len(ids) / service_seconds),
        "raw_sql_seconds": round(raw_seconds, 2),
        "ratio": round(raw_seconds / service_seconds, 3),
        "server_rss_start_mib": round(rss_start / 2**20, 1),
        "server_rss_peak_mib": round(peak[0] / 2**20, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0, help="per round, after a 1 s warm-up")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--customers", type=int, default=20000, help="customers the single check picks from")
    parser.add_argument("--bulk", type=int, default=1_000_000, help="identifiers in the campaign check")
    parser.add_argument("--skip-single", action="store_true", help="only the campaign check")
    args = parser.parse_args()

    with migrated() as (url, env):
        controller_id = _cli(env, "controllers", "create", "--profile", str(ROOT / "examples" / "sonmark.toml"))
        key = _cli(env, "keys", "create", "--controller", controller_id, "--name", "bench", "--role", "integration")
        print(f"seeding {max(args.bulk, args.customers):,} customers ...", flush=True)
        ids = _seed(url, controller_id, max(args.bulk, args.customers))
        port_app, port_bare = _free_port(), _free_port()
        app_server = _serve("app.main:create_app", port_app, env)
        bare_server = _serve("bench.bare:app", port_bare, env)
        try:
            single: dict[str, Any] = {}
            if not args.skip_single:
                print("single check ...", flush=True)
                single = _single(port_app, port_bare, key, ids, args)
                print(json.dumps(single, indent=2), flush=True)
            print(f"campaign check of {args.bulk:,} identifiers ...", flush=True)
            bulk = _bulk(port_app, app_server.pid, key, url, controller_id, ids[: args.bulk])
            print(json.dumps(bulk, indent=2), flush=True)
        finally:
            for process in (app_server, bare_server):
                process.terminate()
                process.wait(timeout=30)
    write_report("latest", "bench.run", {"single_check": single, "campaign_check": bulk})
    if single:
        ratio, p99 = single["ratio"], single["service_p99_ms"]
        print(f"\nsingle check: {ratio:.2f} of the bare endpoint (target 0.5), p99 {p99} ms")
    print(f"campaign check: {bulk['ratio']:.2f} of raw SQL (target 0.5), peak RSS {bulk['server_rss_peak_mib']} MiB")


if __name__ == "__main__":
    main()
