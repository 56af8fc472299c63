"""Liveness, readiness and Prometheus metrics; no API key (metrics take a key of their own in production)."""

from __future__ import annotations

import math
import secrets

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError

from app.config import Settings
from app.errors import Forbidden, Unauthorized, problem_responses
from app.models.health import Ready
from app.services.health import QueueHealth, queue_health

router = APIRouter(tags=["health"])

# Read from the database at each scrape, so every API process reports the same figures.
WORKERS_ALIVE = Gauge("rekisteri_workers_alive", "Workers that beat within REKISTERI_WORKER_STALLED_SECONDS")
HEARTBEAT_AGE = Gauge(
    "rekisteri_worker_heartbeat_age_seconds", "Seconds since the latest heartbeat of any worker (NaN: no worker)"
)
PENDING = Gauge("rekisteri_webhook_deliveries_pending", "Webhook deliveries waiting to be delivered or retried")
OLDEST_PENDING = Gauge(
    "rekisteri_webhook_oldest_pending_delivery_seconds", "Age of the oldest pending webhook delivery (0: none)"
)


class Health(BaseModel):
    status: str


@router.get("/health/live", summary="Is the process up", description="Answers while the process runs.")
async def live() -> Health:
    return Health(status="ok")


@router.get(
    "/health/ready",
    summary="Can it serve",
    description="Answers 200 when the database answers, 503 otherwise; for load balancers. It also tells how the "
    "background workers are doing (their latest heartbeat), without requiring one: an API-only deployment runs "
    "its workers elsewhere, and webhooks wait in the outbox until a worker runs. Alert on `worker.status` or on "
    "the metrics `rekisteri_workers_alive` and `rekisteri_webhook_oldest_pending_delivery_seconds`.",
    responses=problem_responses(503),
)
async def ready(request: Request) -> Ready:
    health = await _queue_health(request)
    return Ready(status="ok", worker=health.worker())


def _may_scrape(request: Request) -> None:
    """Metrics tell how the service is used: with `REKISTERI_METRICS_KEY` set only its holder may read them, and
    in production nobody without one (docs/operator.md)."""
    settings: Settings = request.app.state.settings
    if settings.metrics_key is None:
        if settings.environment == "production":
            raise Forbidden("Metrics are off: set REKISTERI_METRICS_KEY and scrape with it as a bearer token.")
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    expected = settings.metrics_key.get_secret_value()
    if scheme.lower() != "bearer" or not secrets.compare_digest(given.strip().encode(), expected.encode()):
        raise Unauthorized("Scrape with REKISTERI_METRICS_KEY as a bearer token.")


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    description="Request counts and latencies per route template, the workers alive and the age of their latest "
    "heartbeat, and the webhook deliveries pending and the age of the oldest, in the Prometheus text format. With "
    "`REKISTERI_METRICS_KEY` set, send it as `Authorization: Bearer <key>` (not an API key); in production "
    "without it, metrics are off (403).",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}, **problem_responses(401, 403)},
)
async def metrics(request: Request) -> Response:
    _may_scrape(request)
    try:
        health: QueueHealth | None = await _queue_health(request)
    except (DBAPIError, OSError):
        health = None  # the request metrics still matter while the database is away
    _set_gauges(health)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


async def _queue_health(request: Request) -> QueueHealth:
    async with request.app.state.sessionmaker() as session, session.begin():
        return await queue_health(session=session, stalled_seconds=request.app.state.settings.worker_stalled_seconds)


def _set_gauges(health: QueueHealth | None) -> None:
    if health is None:
        for gauge in (WORKERS_ALIVE, HEARTBEAT_AGE, PENDING, OLDEST_PENDING):
            gauge.set(math.nan)
        return
    worker = health.worker()
    WORKERS_ALIVE.set(worker.alive)
    HEARTBEAT_AGE.set(math.nan if worker.seconds_since_heartbeat is None else worker.seconds_since_heartbeat)
    PENDING.set(health.pending)
    OLDEST_PENDING.set(health.oldest_pending_seconds())
