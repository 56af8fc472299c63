"""The job queue (procrastinate): its queues, and jobs deferred in the caller's own transaction."""

from __future__ import annotations

from typing import Any

import procrastinate
from sqlalchemy.ext.asyncio import AsyncSession

WEBHOOKS = "webhooks"
MAINTENANCE = "maintenance"


# A worker whose database went away learns it within seconds (its heartbeat, or the next job it fetches, cannot
# have a connection), rather than wait 30 s on each of them, and starts waiting for the database to come back.
POOL_TIMEOUT = 10.0
CONNECT_TIMEOUT = 5


def make_app(conninfo: str) -> procrastinate.App:
    """A procrastinate app on the service's database (a libpq URL)."""
    return procrastinate.App(
        connector=procrastinate.PsycopgConnector(
            conninfo=conninfo, timeout=POOL_TIMEOUT, kwargs={"connect_timeout": CONNECT_TIMEOUT}
        )
    )


# Defers by task name on a connection it is handed, never on its own: its pool is never opened, and the
# tasks themselves live in app.worker.
_deferrer = make_app("")


async def defer(*, session: AsyncSession, task_name: str, queue: str, jobs: list[tuple[str, dict[str, Any]]]) -> None:
    """Defer one job per `(lock, arguments)` on the session's connection: it commits with the caller's change."""
    connection = await (await session.connection()).get_raw_connection()
    for lock, arguments in jobs:
        deferrer = _deferrer.configure_task(task_name, queue=queue, lock=lock, connection=connection.driver_connection)
        await deferrer.defer_async(**arguments)
