"""create_app(): routers, middleware, exception handlers; nothing else."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app import errors, openapi
from app.config import Settings, get_settings
from app.db import make_engine, make_sessionmaker, resolve_database_url
from app.logging import configure as configure_logging
from app.middleware import RequestMiddleware
from app.routers import (
    api_keys,
    audit,
    authorities,
    controllers,
    customers,
    docs,
    exports,
    health,
    marketing,
    notices,
    orders,
    records,
    requests,
    restriction,
    suppression,
    webhooks,
)
from app.subject_keys import check_master_key
from app.worker import run_in_server

log = logging.getLogger(__name__)

DESCRIPTION = """
Rekisteri keeps a business's customer register and makes the GDPR rights of the people in it real.

**Authentication.** Every `/v1` call takes `Authorization: Bearer <key>`. An operator makes the first admin key
with `rekisteri keys create --controller ID --name NAME --role admin`; admins issue the rest with
`POST /v1/api-keys`. Roles: `admin` (everything), `agent` (customer service), `integration` (e-commerce
systems), `auditor` (the audit log only). A key sees only its own controller's data.

**Errors** are RFC 9457 `application/problem+json` with `type`, `title`, `status`, `detail` and, for
validation, `errors`. **Concurrency:** reads return an `ETag`; send it in `If-Match` and a write that would
overwrite someone else's change is refused with 412. **Lists** are cursor-paginated: follow `next`.

**Audit.** Every change of register data is an event in an append-only, hash-chained log, with old and new
values encrypted per data subject.
"""

TAGS = [
    {"name": "customers", "description": "The register: people and business contacts, every data category."},
    {"name": "orders", "description": "Orders and their invoice status."},
    {
        "name": "marketing",
        "description": "Prohibitions and consents per channel, and the check to run before every send.",
    },
    {
        "name": "requests",
        "description": "Data subject requests (GDPR Art. 15-21): intake in any form, identity, deadlines "
        "counted by Regulation 1182/71 with Finnish holidays, completion that does the work, refusal with "
        "remedies, answer letters, exports.",
    },
    {
        "name": "privacy notice",
        "description": "The controller's privacy notice (tietosuojaseloste), versioned, as JSON, HTML or Markdown, "
        "in Finnish, Swedish and English; public at /public/{controller}/privacy-notice.",
    },
    {
        "name": "complaint authorities",
        "description": "The 30 EU/EEA data protection supervisory authorities (GDPR Art. 77), public.",
    },
    {"name": "controller", "description": "The controller's profile: what its privacy notice says."},
    {"name": "record of processing", "description": "The record of processing activities (GDPR Art. 30)."},
    {"name": "audit", "description": "The tamper-evident log of every change."},
    {"name": "api-keys", "description": "Personal keys, one role each."},
    {"name": "webhooks", "description": "Signed event deliveries to the systems that hold copies of the data."},
    {"name": "health", "description": "Liveness, readiness, metrics."},
]


# Every keyed route may answer these two: past the key's rate, and a body over the size limit.
_COMMON = errors.problem_responses(413, 429)


def _worker_stopped(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("worker_stopped", extra={"error_type": type(task.exception()).__name__})


def _lifespan(settings: Settings, database_url: str | None) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Connect the database (and start the in-process worker) for the app's life; close both after."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = database_url or resolve_database_url(settings)
        owner = make_engine(url, pool_size=1, max_overflow=0)
        try:
            async with make_sessionmaker(owner)() as session:
                await session.run_sync(check_master_key)
        finally:
            await owner.dispose()
        engine = make_engine(url, app_role=settings.app_db_role)
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        # For the rate limit's one-statement updates, outside the request's transaction.
        app.state.autocommit_engine = make_engine(
            url, app_role=settings.app_db_role, isolation_level="AUTOCOMMIT", pool_size=5, max_overflow=5
        )
        # What the process has loaded by now lives as long as it does: out of the collector's sight, a full
        # collection (set off by any request that allocates much, e.g. a large import) walks only what came
        # since, instead of stopping the event loop for a walk over every module's objects (0.3-0.5 s seen).
        gc.freeze()
        worker = None
        if settings.worker_in_process:
            worker = asyncio.create_task(run_in_server(url))
            worker.add_done_callback(_worker_stopped)
        try:
            yield
        finally:
            if worker is not None:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
            await app.state.autocommit_engine.dispose()
            await engine.dispose()

    return lifespan


def create_app(settings: Settings | None = None, database_url: str | None = None) -> FastAPI:
    """Build the application; the database is connected in the lifespan."""
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    app = FastAPI(
        title="Rekisteri",
        version="0.1.0",
        description=DESCRIPTION,
        openapi_tags=TAGS,
        # /docs and /redoc are served with their assets by the service itself (app/routers/docs.py), not from a CDN.
        docs_url=None,
        redoc_url=None,
        lifespan=_lifespan(settings, database_url),
    )
    app.state.settings = settings
    app.openapi = openapi.amended(app.openapi)  # type: ignore[method-assign]
    errors.install(app)
    if settings.cors_origins:
        # Off unless origins are named: the API is for servers, and keys do not belong in browsers.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-Match", "Idempotency-Key", "X-Request-ID"],
            expose_headers=["ETag", "Location", "Retry-After", "X-Request-ID", "Idempotent-Replayed"],
            max_age=600,
        )
    app.add_middleware(
        RequestMiddleware, max_body_bytes=settings.max_body_bytes, max_stream_bytes=settings.max_stream_bytes
    )
    app.include_router(health.router)
    app.include_router(docs.router)
    for module in (
        customers,
        orders,
        marketing,
        suppression,
        requests,
        exports,
        restriction,
        notices,
        records,
        authorities,
        controllers,
        audit,
        api_keys,
        webhooks,
    ):
        app.include_router(module.router, responses=_COMMON)
    return app
