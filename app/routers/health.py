"""Liveness, readiness and Prometheus metrics; no authentication."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text

from app.errors import problem_responses

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


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    description="Request counts and latencies per route template, in the Prometheus text format.",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
