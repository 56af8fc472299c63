"""Background work on procrastinate (a PostgreSQL job queue): webhook delivery with retries and backoff, the
daily retention sweep, and the hourly expiry of Idempotency-Keys."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import procrastinate
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import jobs
from app.db import libpq_url, make_engine, make_sessionmaker
from app.models.base import utcnow
from app.models.controllers import Controller
from app.services import deadlines, idempotency, retention, webhooks

log = logging.getLogger(__name__)

# Every day at 03:30 UTC; however many workers run, procrastinate defers it once.
RETENTION_CRON = "30 3 * * *"
EXPIRY_CRON = "7 * * * *"  # hourly: Idempotency-Keys are kept 24 hours


@dataclass
class Resources:
    """What the tasks share while a worker runs."""

    maker: async_sessionmaker[AsyncSession]
    client: httpx.AsyncClient


def build(database_url: str, resources: list[Resources]) -> procrastinate.App:
    """The job queue on the service's database, with its tasks (which use `resources[0]`)."""
    queue = jobs.make_app(libpq_url(database_url))

    @queue.task(
        name="deliver",
        queue=jobs.WEBHOOKS,
        # Every failure is retried (a database hiccup as much as a refusing receiver), waiting 4**n seconds.
        retry=procrastinate.RetryStrategy(max_attempts=webhooks.MAX_ATTEMPTS - 1, exponential_wait=4),
    )
    async def deliver(delivery_id: str, controller_id: str) -> None:
        shared = resources[0]
        # The attempt is committed first, then the queue hears of a failure and retries.
        async with shared.maker() as session, session.begin():
            retry = await webhooks.deliver(
                session=session, client=shared.client, delivery_id=delivery_id, controller_id=controller_id
            )
        if retry is not None:
            raise webhooks.DeliveryFailed(retry)

    @queue.periodic(cron=RETENTION_CRON, periodic_id="daily")
    @queue.task(name="retention_sweep", queue=jobs.MAINTENANCE, queueing_lock="retention_sweep")
    async def retention_sweep(timestamp: int) -> None:
        maker = resources[0].maker
        for controller in await retention_controllers(maker, None):
            # One controller's trouble does not stop the others' sweep; tomorrow's tries it again.
            try:
                today = deadlines.today()
                report = await retention_expired(maker, controller.id, today)
                await retention_anonymise(maker, report, controller.id, today)
            except Exception as exc:
                log.error(
                    "retention_sweep_failed", extra={"controller": controller.slug, "error_type": type(exc).__name__}
                )
                continue
            log.info(
                "retention_sweep",
                extra={"controller": controller.slug, "expired": len(report.expired), "anonymised": report.anonymised},
            )

    @queue.periodic(cron=EXPIRY_CRON, periodic_id="hourly")
    @queue.task(name="expire_idempotency_keys", queue=jobs.MAINTENANCE, queueing_lock="expire_idempotency_keys")
    async def expire_idempotency_keys(timestamp: int) -> None:
        async with resources[0].maker() as session, session.begin():
            dropped = await idempotency.expire(session=session, now=utcnow())
        log.info("idempotency_keys_expired", extra={"count": dropped})

    return queue


async def retention_controllers(maker: async_sessionmaker[AsyncSession], slug_or_id: str | None) -> list[Controller]:
    """The controllers a sweep goes through: one (by id or slug), or all."""
    async with maker() as session, session.begin():
        return await retention.controllers(session=session, slug_or_id=slug_or_id)


async def retention_expired(
    maker: async_sessionmaker[AsyncSession], controller_id: uuid.UUID, today: dt.date
) -> retention.Report:
    """What has expired by `today` for one controller, read in one transaction; nothing is changed."""
    async with maker() as session, session.begin():
        return await retention.expired(session=session, controller_id=controller_id, today=today)


async def retention_anonymise(
    maker: async_sessionmaker[AsyncSession],
    report: retention.Report,
    controller_id: uuid.UUID,
    today: dt.date,
    progress: Callable[[int], None] | None = None,
) -> retention.Report:
    """Anonymise what `report` found, a batch per transaction; `progress` hears how many each batch took. Then,
    if anyone was anonymised, vacuum the tables the erasures touched (outside any transaction)."""
    for start in range(0, len(report.expired), retention.BATCH):
        batch = report.expired[start : start + retention.BATCH]
        async with maker() as session, session.begin():
            report.anonymised += await retention.anonymise(
                session=session, controller_id=controller_id, years=report.customer_years, batch=batch, today=today
            )
        if progress is not None:
            progress(len(batch))
    if report.anonymised:
        async with maker() as session:
            await retention.vacuum(session=session)
    return report


async def run(database_url: str, *, wait: bool = True, own_signals: bool = False) -> None:
    """Work the queue: until stopped, or (wait=False) until no job is due.

    With `own_signals`, SIGTERM and SIGINT stop it gracefully (the job at hand is finished first); inside
    the API process the server owns the signals and cancels the worker as it shuts down.
    """
    engine = make_engine(database_url, pool_size=4, max_overflow=0)
    resources: list[Resources] = []
    queue = build(database_url, resources)
    async with httpx.AsyncClient(timeout=webhooks.TIMEOUT, follow_redirects=False) as client:
        resources.append(Resources(make_sessionmaker(engine), client))
        try:
            async with queue.open_async():
                await queue.run_worker_async(
                    queues=[jobs.WEBHOOKS, jobs.MAINTENANCE],
                    wait=wait,
                    install_signal_handlers=own_signals,
                    delete_jobs="successful",
                    concurrency=4,
                )
        finally:
            await engine.dispose()
