"""The VACUUM that follows a retention sweep, against the sweep itself, measured in the same run on the same machine.

A register of `--customers` people, `--expired` of whom ended their relationship eleven years ago (each with two
orders and three marketing events), is swept as the worker sweeps it: the erasures a batch of 100 per transaction,
then one VACUUM (INDEX_CLEANUP ON, ANALYZE) of the tables an erasure touches. Reported: the sweep's time, the
VACUUM's time and their ratio, and the dead row versions (each still holding an erased value in the table file,
and in the indexes' entries) before and after.

The register is seeded with COPY as the database owner, the audit triggers switched off for the load (a fixture
for the benchmark, not a path the service has). Run with `python -m bench.bench_vacuum`.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import time
import uuid
from typing import Any

import psycopg

from app import worker
from app.db import libpq_url, make_engine, make_sessionmaker
from app.services import deadlines, retention
from bench.run import ROOT, _cli, migrated, write_report


def _seed(url: str, controller_id: str, customers: int, expired: int) -> None:
    """COPY the register: the first `expired` customers ended their relationship eleven years ago."""
    ended = (deadlines.today() - dt.timedelta(days=11 * 366)).isoformat()
    ordered = (deadlines.today() - dt.timedelta(days=12 * 366)).isoformat()
    ids = [str(uuid.uuid4()) for _ in range(customers)]
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        with conn.cursor().copy(
            "COPY customer (controller_id, id, kind, version, created_at, first_name, last_name, email, phone, "
            "street_address, city, relationship_end_date) FROM STDIN"
        ) as copy:
            for n, cid in enumerate(ids):
                end = ended if n < expired else None
                row = (controller_id, cid, "private", 1, "2026-01-01T00:00:00Z", "Maija", f"Meikäläinen {n}")
                copy.write_row((*row, f"c{n}@example.fi", f"+35840{n:07d}", f"Katu {n}", "Oulu", end))
        with conn.cursor().copy(
            "COPY customer_order (controller_id, id, customer_id, order_date, lines, total, currency, "
            "invoice_status, version, created_at) FROM STDIN"
        ) as copy:
            for cid in ids[:expired]:
                for _ in range(2):
                    copy.write_row(
                        (controller_id, str(uuid.uuid4()), cid, ordered, "[]", "10.00", "EUR", "paid", 1, ordered)
                    )
        with conn.cursor().copy(
            "COPY marketing_event (controller_id, id, customer_id, channel, action, occurred_at, recorded_by) "
            "FROM STDIN"
        ) as copy:
            for cid in ids[:expired]:
                for channel in ("electronic", "direct_mail", "telemarketing"):
                    event = (controller_id, str(uuid.uuid4()), cid, channel, "consent_granted", ordered, "bench")
                    copy.write_row(event)
        conn.execute("VACUUM ANALYZE")


def _dead(url: str) -> dict[str, int]:
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT relname, n_dead_tup FROM pg_stat_user_tables WHERE relname = ANY(%s) ORDER BY relname",
            (list(retention.ERASED_FROM),),
        ).fetchall()
    return {str(name): int(count) for name, count in rows}


async def _sweep(url: str, controller_id: uuid.UUID) -> dict[str, Any]:
    """The worker's sweep, timed in two parts: the erasure batches, then the VACUUM."""
    engine = make_engine(url, pool_size=2, max_overflow=0)
    maker = make_sessionmaker(engine)
    try:
        today = deadlines.today()
        report = await worker.retention_expired(maker, controller_id, today)
        started = time.perf_counter()
        for start in range(0, len(report.expired), retention.BATCH):
            async with maker() as session, session.begin():
                report.anonymised += await retention.anonymise(
                    session=session,
                    controller_id=controller_id,
                    years=report.customer_years,
                    batch=report.expired[start : start + retention.BATCH],
                    today=today,
                )
        erasing = time.perf_counter() - started
        await asyncio.sleep(1)  # PostgreSQL's statistics of dead rows are flushed about once a second
        dead = _dead(url)
        started = time.perf_counter()
        async with maker() as session:
            vacuumed = await retention.vacuum(session=session)
        vacuuming = time.perf_counter() - started
    finally:
        await engine.dispose()
    return {
        "anonymised": report.anonymised,
        "erasing": erasing,
        "vacuuming": vacuuming,
        "dead": dead,
        "tables": vacuumed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000, help="people in the register")
    parser.add_argument("--expired", type=int, default=1_000, help="of them, whose retention period is over")
    args = parser.parse_args()

    with migrated() as (url, env):
        controller_id = _cli(env, "controllers", "create", "--profile", str(ROOT / "examples" / "sonmark.toml"))
        print(f"seeding {args.customers:,} customers, {args.expired:,} expired ...", flush=True)
        _seed(url, controller_id, args.customers, args.expired)
        result = asyncio.run(_sweep(url, uuid.UUID(controller_id)))
        time.sleep(1)
        after = _dead(url)
    assert result["anonymised"] == args.expired, result
    report = {
        "customers": args.customers,
        "anonymised": result["anonymised"],
        "erasure_batches_seconds": round(result["erasing"], 2),
        "vacuum_seconds": round(result["vacuuming"], 2),
        "vacuum_over_sweep": round(result["vacuuming"] / result["erasing"], 3),
        "dead_row_versions_before_vacuum": result["dead"],
        "dead_row_versions_after_vacuum": after,
        "tables_vacuumed": result["tables"],
    }
    print(json.dumps(report), flush=True)
    write_report("vacuum", "bench.bench_vacuum", report)


if __name__ == "__main__":
    main()
