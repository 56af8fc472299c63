"""Background work on procrastinate (a PostgreSQL job queue): webhook delivery with retries and backoff, the
daily retention sweep, the hourly expiry of Idempotency-Keys; and the worker's own life: it beats, runs again
the jobs of workers that died, waits for a database that went away, and exits non-zero when it gives up."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import signal
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import procrastinate
import psycopg
from procrastinate.app import WorkerOptions
from procrastinate.exceptions import ConnectorException
from procrastinate.jobs import Job
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import jobs
from app.config import Settings, get_settings
from app.db import libpq_url, make_engine, make_sessionmaker
from app.models.base import utcnow
from app.models.controllers import Controller
from app.services import deadlines, delivery, idempotency, retention

log = logging.getLogger(__name__)

# Every day at 03:30 UTC; however many workers run, procrastinate defers it once.
RETENTION_CRON = "30 3 * * *"
EXPIRY_CRON = "7 * * * *"  # hourly: Idempotency-Keys are kept 24 hours


@dataclass
class Resources:
    """What the tasks share while a worker runs."""

    maker: async_sessionmaker[AsyncSession]
    client: httpx.AsyncClient
    shares: delivery.Shares


class DeliveryRetry(procrastinate.BaseRetryStrategy):
    """A delivery job runs again when and as `delivery.retry_in` says: a failed attempt after its backoff, a
    job over its share a moment later, and the job is never dropped while its delivery is pending."""

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> procrastinate.RetryDecision:
        wait = dt.timedelta(seconds=delivery.retry_in(exception, job.attempts))
        return procrastinate.RetryDecision(retry_at=utcnow() + wait)


def every(seconds: float) -> str:
    """A cron line (procrastinate's, seconds in a sixth field) for every `seconds` or a little more often, at
    least twice a minute."""
    step = max((d for d in (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30) if d <= seconds), default=1)
    return f"* * * * * */{step}"


def _retry_stalled_jobs(queue: procrastinate.App, stalled_seconds: float) -> None:
    """Add the periodic task that puts the jobs of dead workers back in the queue."""

    # A worker killed in the middle of a job (or cut off from the database) leaves it `doing`, and its lock
    # then holds back every later job with that lock: every later event to that subscriber about that person,
    # an erasure included (GDPR Art. 19). Once the worker has been silent for `stalled_seconds`, its jobs go
    # back to the queue, ahead of the ones waiting behind them.
    @queue.periodic(cron=every(stalled_seconds / 2), periodic_id="stalled")
    @queue.task(name="retry_stalled_jobs", queue=jobs.MAINTENANCE, queueing_lock="retry_stalled_jobs")
    async def retry_stalled_jobs(timestamp: int) -> None:
        manager = queue.job_manager
        for job in await manager.get_stalled_jobs(seconds_since_heartbeat=stalled_seconds):
            try:
                await manager.retry_job(job)
            except ConnectorException:  # it ended meanwhile: its worker was slow, not dead
                continue
            log.warning("stalled_job_retried", extra={"job_id": job.id, "task": job.task_name})
        # Their jobs are back in the queue: the dead workers' rows go (readiness counts the living).
        await manager.prune_stalled_workers(stalled_seconds)


def build(database_url: str, resources: list[Resources], stalled_seconds: float = 60.0) -> procrastinate.App:
    """The job queue on the service's database, with its tasks (which use `resources[0]`)."""
    queue = jobs.make_app(libpq_url(database_url))
    _retry_stalled_jobs(queue, stalled_seconds)

    @queue.task(name="deliver", queue=jobs.WEBHOOKS, retry=DeliveryRetry())
    async def deliver(delivery_id: str, controller_id: str) -> None:
        shared = resources[0]
        # The attempt is committed first, then the queue hears of a failure and retries.
        await delivery.deliver(
            maker=shared.maker,
            client=shared.client,
            shares=shared.shares,
            delivery_id=delivery_id,
            controller_id=controller_id,
        )

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


class WorkerGaveUp(Exception):
    """The worker could not get going again within REKISTERI_WORKER_GIVE_UP_SECONDS."""


# What a database that went away (restarted, failed over, unreachable) looks like from the worker.
DATABASE_LOST = (psycopg.Error, ConnectorException, DBAPIError, OSError)
RECOVERED_AFTER = 30.0  # a run this long means the database came back: a later failure starts a new count
FIRST_WAIT, LONGEST_WAIT = 0.5, 30.0  # between tries, doubling


@dataclass
class Life:
    """Runs procrastinate's worker, and runs it again when it stops without being told to (its database
    went away): after a wait that doubles, until it runs again or `give_up_seconds` have passed."""

    queue: procrastinate.App
    conninfo: str
    options: WorkerOptions
    give_up_seconds: float
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    worker: asyncio.Task[None] | None = None

    def stop(self) -> None:
        """Stop for good: the jobs at hand are finished first (procrastinate's worker, cancelled, stops so)."""
        self.stopping.set()
        if self.worker is not None:
            self.worker.cancel()

    async def run(self) -> None:
        """Until stopped; raises WorkerGaveUp."""
        clock = asyncio.get_running_loop().time
        failing_since: float | None = None
        wait = FIRST_WAIT
        while not self.stopping.is_set():
            started = clock()
            try:
                await self._once()
            except DATABASE_LOST as exc:
                log.warning("worker_database_lost", extra={"error_type": type(exc).__name__})
            if self.stopping.is_set():
                return
            now = clock()
            if now - started >= RECOVERED_AFTER:
                failing_since, wait = None, FIRST_WAIT
            failing_since = now if failing_since is None else failing_since
            if now - failing_since >= self.give_up_seconds:
                log.error("worker_gave_up", extra={"seconds": round(now - failing_since, 1)})
                raise WorkerGaveUp(f"the worker could not run for {now - failing_since:.0f} s")
            log.warning("worker_restarting", extra={"in_seconds": wait})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), wait)
            wait = min(wait * 2, LONGEST_WAIT)

    async def _once(self) -> None:
        # Ask first, briefly: opening the queue's pool on a database that is away would wait 30 s.
        connection = await psycopg.AsyncConnection.connect(self.conninfo, connect_timeout=jobs.CONNECT_TIMEOUT)
        await connection.close()
        async with self.queue.open_async():
            if self.stopping.is_set():
                return
            self.worker = asyncio.create_task(self.queue.run_worker_async(**self.options))
            try:
                await self.worker
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if not self.stopping.is_set() or (current is not None and current.cancelling()):
                    raise
            finally:
                self.worker = None


def worker_options(settings: Settings, *, wait: bool) -> WorkerOptions:
    """How procrastinate's worker runs here."""
    return WorkerOptions(
        queues=[jobs.WEBHOOKS, jobs.MAINTENANCE],
        wait=wait,
        install_signal_handlers=False,  # the Life (or the API server) owns the signals
        delete_jobs="successful",
        # Above any one controller's share (settings): the others always find a slot.
        concurrency=settings.worker_concurrency,
        update_heartbeat_interval=settings.worker_heartbeat_seconds,
        stalled_worker_timeout=settings.worker_stalled_seconds,
    )


async def run(database_url: str, *, wait: bool = True, own_signals: bool = False) -> None:
    """Work the queue: until stopped, or (wait=False) until no job is due; raises WorkerGaveUp.

    With `own_signals`, SIGTERM and SIGINT stop it gracefully (the job at hand is finished first); inside
    the API process the server owns the signals and cancels the worker as it shuts down.
    """
    settings = get_settings()
    # A delivery holds a connection only to claim and to record it, never while the receiver answers.
    # Pre-ping: after a restart of the database the pool holds dead connections, and a job given one fails.
    engine = make_engine(
        database_url,
        pool_size=4,
        max_overflow=4,
        pool_pre_ping=True,
        connect_args={"connect_timeout": jobs.CONNECT_TIMEOUT},
    )
    resources: list[Resources] = []
    queue = build(database_url, resources, settings.worker_stalled_seconds)
    async with delivery.receiver_client(settings) as client:
        resources.append(Resources(make_sessionmaker(engine), client, delivery.shares(settings)))
        try:
            if not wait:  # one pass over what is due (the tests, a cron job): no retries
                async with queue.open_async():
                    await queue.run_worker_async(**worker_options(settings, wait=False))
                return
            life = Life(
                queue, libpq_url(database_url), worker_options(settings, wait=True), settings.worker_give_up_seconds
            )
            loop = asyncio.get_running_loop()
            signals = (signal.SIGTERM, signal.SIGINT) if own_signals else ()
            for each in signals:
                loop.add_signal_handler(each, life.stop)
            try:
                await life.run()
            finally:
                for each in signals:
                    loop.remove_signal_handler(each)
        finally:
            await engine.dispose()


_gave_up = False


def exit_status() -> int:
    """The status for `rekisteri serve` to exit with: 1 once its in-process worker gave up."""
    return 1 if _gave_up else 0


async def run_in_server(database_url: str) -> None:
    """The worker inside the API process (`serve --with-worker`): if it gives up, the server stops with it
    rather than go on taking changes whose webhooks nobody sends."""
    global _gave_up
    try:
        await run(database_url)
    except WorkerGaveUp:
        pass
    except Exception as exc:
        log.error("worker_failed", extra={"error_type": type(exc).__name__})
    _gave_up = True
    log.error("worker_stopped_stopping_server")
    os.kill(os.getpid(), signal.SIGTERM)  # uvicorn shuts down gracefully, then `serve` exits with 1
