"""`make bench`: the streamed exports against baselines measured in the same run on the same machine.

A customer with 100,000 orders is exported through a running server (`GET /v1/customers/{id}/export`): access
JSON, portability JSON and the portability zip. For each: the time, the bytes, and the server process's peak RSS
during the export against its RSS just before. Two baselines:

1. memory: the same exports of a customer with 1,000 orders. Constant memory means the growth is the same for
   100 times the rows;
2. throughput: the same rows, in the same order, read with `COPY (SELECT ...) TO STDOUT` through psycopg; the ratio
   is the service's rows per second over COPY's.

The orders are seeded with COPY as the database owner, the audit triggers switched off for the load (a fixture for
the benchmark, not a path the service has), so the access export's audit history holds only the disclosures.
"""

from __future__ import annotations

import argparse
import io
import json
import threading
import time
import uuid
import zipfile
from typing import Any

import httpx
import orjson
import psutil
import psycopg

from app.db import libpq_url
from app.services.exports import ORDER_COLUMNS, PORTABLE_ORDER_COLUMNS
from bench.run import ROOT, _cli, _free_port, _serve, migrated, write_report

# (name, query parameters, the columns a COPY baseline reads for the same rows)
EXPORTS: list[tuple[str, dict[str, str], tuple[str, ...]]] = [
    ("access_json", {"kind": "access"}, ORDER_COLUMNS),
    ("portability_json", {"kind": "portability"}, PORTABLE_ORDER_COLUMNS),
    ("portability_zip", {"kind": "portability", "format": "zip"}, PORTABLE_ORDER_COLUMNS),
]
LINES = [
    {"description": "Kaiutin, musta", "quantity": "2", "unit_price": "49.90", "sku": "SPK-1"},
    {"description": "Kaiutinkaapeli 2 m", "quantity": "1", "unit_price": "9.90", "sku": "CBL-2"},
]


def _seed(url: str, controller_id: str, orders: int) -> str:
    """COPY one customer with `orders` orders of two lines each; return the customer's id."""
    customer_id = str(uuid.uuid4())
    lines = json.dumps(LINES)
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute(
            "INSERT INTO customer (controller_id, id, kind, version, created_at, first_name, last_name, email, "
            "phone, street_address, postal_code, city, country, source) VALUES "
            "(%s, %s, 'private', 1, now(), 'Maija', 'Meikäläinen', %s, '+358401234567', 'Esimerkkikatu 1 A 2', "
            "'00100', 'Helsinki', 'FI', 'purchase')",
            (controller_id, customer_id, f"{customer_id[:8]}@example.fi"),
        )
        with conn.cursor().copy(
            "COPY customer_order (controller_id, id, customer_id, external_id, order_date, lines, total, currency, "
            "invoice_status, version, created_at) FROM STDIN"
        ) as copy:
            for n in range(orders):
                copy.write_row(
                    (
                        controller_id,
                        str(uuid.uuid4()),
                        customer_id,
                        f"{customer_id[:8]}-{n}",
                        f"{2000 + n % 26}-{1 + n % 12:02d}-{1 + n % 28:02d}",
                        lines,
                        "109.70",
                        "EUR",
                        "paid" if n % 10 else "open",
                        1,
                        "2026-01-01T00:00:00Z",
                    )
                )
        conn.execute("ANALYZE customer_order")
    return customer_id


def _export(port: int, pid: int, key: str, customer_id: str, params: dict[str, str], orders: int) -> dict[str, Any]:
    """One export, read to the end, with the server's RSS sampled every 10 ms."""
    process = psutil.Process(pid)
    rss_before = process.memory_info().rss
    peak = [rss_before]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], process.memory_info().rss)
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    parts: list[bytes] = []
    started = time.perf_counter()
    with httpx.stream(
        "GET",
        f"http://127.0.0.1:{port}/v1/customers/{customer_id}/export",
        params=params,
        headers={"Authorization": f"Bearer {key}"},
        timeout=300,
    ) as response:
        assert response.status_code == 200, response.read()
        parts.extend(response.iter_raw())
    seconds = time.perf_counter() - started
    stop.set()
    sampler.join()
    body = b"".join(parts)
    if params.get("format") == "zip":
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            exported = archive.read("orders.csv").count(b"\n") - 1
    else:
        exported = len(orjson.loads(body)["orders"])
    assert exported == orders, (exported, orders)
    return {
        "seconds": seconds,
        "bytes": len(body),
        "rss_before": rss_before,
        "rss_growth": peak[0] - rss_before,
    }


def _copy(url: str, controller_id: str, customer_id: str, columns: tuple[str, ...]) -> tuple[float, int]:
    """The baseline: the same rows in the same order, as COPY text through psycopg."""
    query = (
        f"COPY (SELECT {', '.join(columns)} FROM customer_order WHERE controller_id = %s AND customer_id = %s "
        "ORDER BY order_date, id) TO STDOUT"
    )
    size = 0
    with psycopg.connect(libpq_url(url)) as conn:
        conn.execute("SELECT 1")
        started = time.perf_counter()
        with conn.cursor().copy(query, (controller_id, customer_id)) as copy:
            for data in copy:
                size += len(data)
        seconds = time.perf_counter() - started
    return seconds, size


def _mib(n: float) -> float:
    return round(n / 2**20, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=100_000, help="orders of the big customer")
    parser.add_argument("--baseline-orders", type=int, default=1_000, help="orders of the small customer")
    parser.add_argument("--rounds", type=int, default=2, help="each export this many times; the best time is kept")
    args = parser.parse_args()

    with migrated() as (url, env):
        controller_id = _cli(env, "controllers", "create", "--profile", str(ROOT / "examples" / "sonmark.toml"))
        key = _cli(env, "keys", "create", "--controller", controller_id, "--name", "bench", "--role", "agent")
        print(f"seeding customers with {args.baseline_orders:,} and {args.orders:,} orders ...", flush=True)
        sizes = {
            "small": (args.baseline_orders, _seed(url, controller_id, args.baseline_orders)),
            "big": (args.orders, _seed(url, controller_id, args.orders)),
        }
        port = _free_port()
        app_server = _serve("app.main:create_app", port, env)
        results: dict[str, Any] = {}
        try:
            small_orders, small_id = sizes["small"]
            for _, params, _ in EXPORTS:  # warm-up: imports, pools and caches, not counted
                _export(port, app_server.pid, key, small_id, params, small_orders)
            rss_start = psutil.Process(app_server.pid).memory_info().rss
            for name, params, columns in EXPORTS:
                entry: dict[str, Any] = {}
                for size, (orders, customer_id) in sizes.items():
                    runs = []
                    copies = []
                    for _ in range(args.rounds):  # alternate with the baseline, so that a noisy neighbour hits both
                        runs.append(_export(port, app_server.pid, key, customer_id, params, orders))
                        copies.append(_copy(url, controller_id, customer_id, columns))
                    best = min(runs, key=lambda r: r["seconds"])
                    copy_seconds, copy_bytes = min(copies)
                    entry[size] = {
                        "orders": orders,
                        "seconds": round(best["seconds"], 3),
                        "orders_per_second": round(orders / best["seconds"]),
                        "mib": _mib(best["bytes"]),
                        "mib_per_second": round(best["bytes"] / best["seconds"] / 2**20, 1),
                        "server_rss_before_mib": _mib(min(r["rss_before"] for r in runs)),
                        "server_rss_growth_mib": _mib(max(r["rss_growth"] for r in runs)),
                        "copy_seconds": round(copy_seconds, 3),
                        "copy_mib": _mib(copy_bytes),
                        "ratio": round(copy_seconds / best["seconds"], 3),
                    }
                    print(name, size, json.dumps(entry[size]), flush=True)
                results[name] = entry
            rss_end = psutil.Process(app_server.pid).memory_info().rss
        finally:
            app_server.terminate()
            app_server.wait(timeout=30)
    report = {
        "rounds": args.rounds,
        "server_rss_after_warm_up_mib": _mib(rss_start),
        "server_rss_at_end_mib": _mib(rss_end),
        "exports": results,
    }
    write_report("export", "bench.bench_export", report)
    for name, entry in results.items():
        big, small = entry["big"], entry["small"]
        print(
            f"{name}: {big['orders']:,} orders in {big['seconds']} s ({big['mib']} MiB), "
            f"{big['ratio']:.2f} of COPY; RSS growth {big['server_rss_growth_mib']} MiB "
            f"against {small['server_rss_growth_mib']} MiB for {small['orders']:,} orders"
        )


if __name__ == "__main__":
    main()
