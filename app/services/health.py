"""The background workers' health and the webhook backlog, across every controller: counts and times only."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.health import WorkerHealth, WorkerStatus


@dataclass(frozen=True)
class QueueHealth:
    """What the database says of the workers and the deliveries, at `now`."""

    now: dt.datetime
    workers: int
    alive: int
    last_heartbeat_at: dt.datetime | None
    pending: int
    oldest_pending_at: dt.datetime | None

    def worker(self) -> WorkerHealth:
        """The workers' health as readiness tells it."""
        status = WorkerStatus.ok if self.alive else WorkerStatus.stale if self.workers else WorkerStatus.absent
        age = None if self.last_heartbeat_at is None else (self.now - self.last_heartbeat_at).total_seconds()
        return WorkerHealth(
            status=status,
            alive=self.alive,
            last_heartbeat_at=self.last_heartbeat_at,
            seconds_since_heartbeat=None if age is None else round(max(age, 0.0), 1),
        )

    def oldest_pending_seconds(self) -> float:
        """The age of the oldest delivery not yet settled; 0 when none waits."""
        if self.oldest_pending_at is None:
            return 0.0
        return max((self.now - self.oldest_pending_at).total_seconds(), 0.0)


async def queue_health(*, session: AsyncSession, stalled_seconds: float) -> QueueHealth:
    """Read the workers' heartbeats and the pending deliveries (a function the API's role may call)."""
    row = (
        await session.execute(
            text("SELECT clock_timestamp() AS now, * FROM rekisteri_worker_health(:stalled)"),
            {"stalled": stalled_seconds},
        )
    ).one()
    return QueueHealth(
        now=row.now,
        workers=row.workers,
        alive=row.alive,
        last_heartbeat_at=row.last_heartbeat_at,
        pending=row.pending,
        oldest_pending_at=row.oldest_pending_at,
    )
