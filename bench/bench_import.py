"""`make bench`: the bulk import against a raw COPY of the same rows, in the same run on the same machine.

N customers (names, e-mail, phone in E.164, city, a unique external id) go through the running service as one
streamed `POST /v1/customers/import` by an `integration` key: validated line by line, upserted, every change an
audit event with its values encrypted under the person's own key. The baseline: the same rows COPYed into the
customer table of a fresh controller as the database owner, triggers off (no validation, no audit). The two
alternate, the best of each is kept; the ratio is the service's rows a second over COPY's. Then the same file
again (every line unchanged) and once more with every line changed (each an update and its audit event).
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil
import psycopg

from app.db import libpq_url
from bench.run import ROOT, _cli, _free_port, _serve, migrated, write_report

COLUMNS = ("external_id", "first_name", "last_name", "email", "phone", "city")
FIRST = ("Aino", "Eino", "Helmi", "Väinö", "Ella", "Onni", "Sofia", "Leo")
LAST = ("Virtanen", "Korhonen", "Mäkinen", "Nieminen", "Mäkelä", "Hämäläinen", "Laine", "Heikkinen")
CITIES = ("Helsinki", "Espoo", "Tampere", "Vantaa", "Oulu", "Turku", "Jyväskylä", "Kuopio")


def rows(count: int, tag: str, city_shift: int = 0) -> list[dict[str, str]]:
    """The customers of the benchmark; `city_shift` changes every row's city (an update of each)."""
    return [
        {
            "external_id": f"{tag}-{n}",
            "first_name": FIRST[n % len(FIRST)],
            "last_name": LAST[(n // 8) % len(LAST)],
            "email": f"asiakas{n}@{tag}.example.fi",
            "phone": f"+35840{n % 10_000_000:07d}",
            "city": CITIES[(n + city_shift) % len(CITIES)],
        }
        for n in range(count)
    ]


def ndjson(data: list[dict[str, str]]) -> bytes:
    return b"".join(orjson.dumps(row) + b"\n" for row in data)


def _chunks(body: bytes, size: int = 256 * 1024) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def _import(port: int, pid: int, key: str, body: bytes) -> dict[str, Any]:
    """One streamed import; its time, report and the server's peak RSS meanwhile."""
    process = psutil.Process(pid)
    before = process.memory_info().rss
    peak, running = [before], threading.Event()
    running.set()

    def sample() -> None:
        while running.is_set():
            peak[0] = max(peak[0], process.memory_info().rss)
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    response = httpx.post(
        f"http://127.0.0.1:{port}/v1/customers/import",
        content=_chunks(body),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/x-ndjson"},
        timeout=3600,
    )
    seconds = time.perf_counter() - started
    running.clear()
    sampler.join()
    response.raise_for_status()
    return {"seconds": seconds, "report": response.json(), "rss_before": before, "rss_peak": peak[0]}


def _copy(url: str, data: list[dict[str, str]]) -> float:
    """COPY the rows into a fresh controller's customer table, as fast as PostgreSQL takes them."""
    controller_id = uuid.uuid4()
    buffer = io.StringIO()
    for row in data:
        values = [str(controller_id), str(uuid.uuid4()), "private", "1", "2026-01-01T00:00:00Z"]
        buffer.write("\t".join(values + [row[c] for c in COLUMNS]) + "\n")
    text = buffer.getvalue()
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO controller (id, slug, name, register_name, country, default_language, profile) "
            "VALUES (%s, %s, 'COPY', 'COPY', 'FI', 'fi', '{}')",
            (controller_id, f"copy-{controller_id.hex[:12]}"),
        )
        started = time.perf_counter()
        with conn.transaction():
            conn.execute("SET LOCAL session_replication_role = replica")
            with conn.cursor().copy(
                "COPY customer (controller_id, id, kind, version, created_at, " + ", ".join(COLUMNS) + ") FROM STDIN"
            ) as copy:
                copy.write(text)
        return time.perf_counter() - started


def _mib(n: float) -> float:
    return round(n / 2**20, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000, help="customers in the import")
    parser.add_argument("--rounds", type=int, default=2, help="import and COPY this many times each; best kept")
    args = parser.parse_args()

    with migrated(REKISTERI_RATE_LIMIT_PER_SECOND="0") as (url, env):
        port = _free_port()
        app_server = _serve("app.main:create_app", port, env)
        try:
            results = _run(args, env, url, port, app_server.pid)
        finally:
            app_server.terminate()
            app_server.wait(timeout=30)
    _report(args, results)


def _run(args: argparse.Namespace, env: dict[str, str], url: str, port: int, pid: int) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    data = rows(args.rows, tag)
    body = ndjson(data)
    warm = ndjson(rows(1000, f"warm{tag}"))
    imports, copies, keys = [], [], []
    for n in range(args.rounds):  # alternate, so that a noisy neighbour hits both; a controller a round
        profile = Path(env["REKISTERI_DATA_DIR"]) / f"p{n}.toml"
        profile.write_text((ROOT / "examples" / "sonmark.toml").read_text().replace('"sonmark"', f'"bench-{n}"', 1))
        controller = _cli(env, "controllers", "create", "--profile", str(profile))
        key = _cli(env, "keys", "create", "--controller", controller, "--name", "bench", "--role", "integration")
        keys.append(key)
        _import(port, pid, key, warm)  # warm-up: imports, pools, caches
        print(f"round {n + 1}: importing {args.rows:,} customers ...", flush=True)
        imports.append(_import(port, pid, key, body))
        copies.append(_copy(url, data))
    best = min(imports, key=lambda r: r["seconds"])
    copy_seconds = min(copies)
    assert best["report"]["created"] == args.rows, best["report"]
    # As autovacuum would within the minute: statistics of the rows just imported (without them the planner
    # takes any index for a table it thinks is nearly empty, and each UPDATE scans the controller's rows).
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("ANALYZE customer")
    print("the same file again, and every line changed ...", flush=True)
    unchanged = _import(port, pid, keys[0], body)
    assert unchanged["report"]["unchanged"] == args.rows, unchanged["report"]
    changed = _import(port, pid, keys[0], ndjson(rows(args.rows, tag, city_shift=1)))
    assert changed["report"]["updated"] == args.rows, changed["report"]
    verified = subprocess.run(
        [sys.executable, "-m", "app.cli", "audit", "verify"], env=env, cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return {
        "rows": args.rows,
        "body_mib": _mib(len(body)),
        "create": _entry(best, args.rows, copy_seconds),
        "unchanged": _entry(unchanged, args.rows, copy_seconds),
        "update": _entry(changed, args.rows, copy_seconds),
        "copy_seconds": round(copy_seconds, 3),
        "copy_rows_per_second": round(args.rows / copy_seconds),
        "audit_verify": verified,
    }


def _entry(run: dict[str, Any], count: int, copy_seconds: float) -> dict[str, Any]:
    return {
        "seconds": round(run["seconds"], 3),
        "rows_per_second": round(count / run["seconds"]),
        "ratio": round(copy_seconds / run["seconds"], 3),
        "server_rss_before_mib": _mib(run["rss_before"]),
        "server_rss_peak_mib": _mib(run["rss_peak"]),
    }


def _report(args: argparse.Namespace, results: dict[str, Any]) -> None:
    write_report("import", "bench.bench_import", {"rounds": args.rounds, **results})
    for name in ("create", "unchanged", "update"):
        entry = results[name]
        print(
            f"import ({name}): {results['rows']:,} rows in {entry['seconds']} s ({entry['rows_per_second']:,}/s), "
            f"{entry['ratio']:.2f} of COPY ({results['copy_rows_per_second']:,}/s); server RSS "
            f"{entry['server_rss_before_mib']} -> {entry['server_rss_peak_mib']} MiB at peak"
        )


if __name__ == "__main__":
    main()
