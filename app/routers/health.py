"""Liveness, readiness and Prometheus metrics; no API key (metrics take a key of their own in production)."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text

from app.config import Settings
from app.errors import Forbidden, Unauthorized, problem_responses

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


@router.get("/health/live", summary="Is the process up", description="Answers while the process runs.")
async def live() -> Health:
    return Health(status="ok")


@router.get(
    "/health/ready",
    summary="Can it serve",
    description="Answers 200 when the database answers, 503 otherwise; for load balancers.",
    responses=problem_responses(503),
)
async def ready(request: Request) -> Health:
    async with request.app.state.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    return Health(status="ok")


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
    description="Request counts and latencies per route template, in the Prometheus text format. With "
    "`REKISTERI_METRICS_KEY` set, send it as `Authorization: Bearer <key>` (not an API key); in production "
    "without it, metrics are off (403).",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}, **problem_responses(401, 403)},
)
async def metrics(request: Request) -> Response:
    _may_scrape(request)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
