"""What readiness answers: this process can serve, and how the background workers are doing."""

from __future__ import annotations

import datetime as dt
import enum

from pydantic import BaseModel, Field


class WorkerStatus(enum.StrEnum):
    ok = "ok"  # a worker beat within REKISTERI_WORKER_STALLED_SECONDS
    stale = "stale"  # workers are registered, but none has beaten lately: dead, or cut off from the database
    absent = "absent"  # no worker is registered: none was started, or the last one stopped


class WorkerHealth(BaseModel):
    """The background workers, as their heartbeats in the database tell."""

    status: WorkerStatus = Field(
        description="`ok`: a worker beat within REKISTERI_WORKER_STALLED_SECONDS; `stale`: none has since; "
        "`absent`: no worker is running. Webhooks wait in the outbox until one runs."
    )
    alive: int = Field(description="Workers that beat within REKISTERI_WORKER_STALLED_SECONDS.")
    last_heartbeat_at: dt.datetime | None = Field(description="The latest heartbeat of any worker.")
    seconds_since_heartbeat: float | None = Field(description="How long ago that was.")


class Ready(BaseModel):
    """The process can serve (its database answers); the workers' health is told, not required."""

    status: str = Field(description="`ok`: the database answers.")
    worker: WorkerHealth

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "status": "ok",
                    "worker": {
                        "status": "ok",
                        "alive": 2,
                        "last_heartbeat_at": "2026-12-07T09:00:00Z",
                        "seconds_since_heartbeat": 3.2,
                    },
                }
            ]
        }
    }
