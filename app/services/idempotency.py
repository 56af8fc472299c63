"""Idempotency keys (`Idempotency-Key` on POSTs that integrations retry).

The first request with a key claims it (an INSERT in its own transaction: a second request with the same key
waits for the first to commit or roll back); the answer is stored in the same transaction as the work, so a
retry gets exactly the first answer, and a first request that failed leaves no trace and may be retried. The
same key with another request (method, path or body) is refused. Answers that hold a person's data go with an
erasure; all go after `KEEP`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import Any

from sqlalchemy import delete, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.actor import Actor
from app.errors import Conflict, Unprocessable
from app.json import dumps
from app.models.idempotency import IdempotencyRecord
from app.tenancy import owned, scoped

KEEP = dt.timedelta(hours=24)
HEADERS = ("location", "etag", "content-type")


def hasher(method: str, path: str) -> Any:
    """A SHA-256 of the request so far; feed it the body (at once, or as it streams)."""
    return hashlib.sha256(f"{method} {path}\n".encode())


def fingerprint(method: str, path: str, body: bytes) -> bytes:
    """What makes two requests the same request."""
    digest = hasher(method, path)
    digest.update(body)
    return bytes(digest.digest())


async def claim(
    *, session: AsyncSession, actor: Actor, key: str, fingerprint: bytes | None
) -> IdempotencyRecord | None:
    """Claim `key` for this request; if it was used already, return the first request's record.

    The same key with another fingerprint is a different request under it (422).
    """
    claimed = await session.scalar(
        text(
            "INSERT INTO idempotency_key (controller_id, key, fingerprint, headers) "
            "VALUES (:c, :k, :f, '{}') ON CONFLICT DO NOTHING RETURNING key"
        ),
        {"c": actor.controller_id, "k": key, "f": fingerprint},
    )
    if claimed is not None:
        return None
    first = await session.scalar(scoped(IdempotencyRecord, actor).where(IdempotencyRecord.key == key))
    assert first is not None  # the conflicting row committed before ON CONFLICT gave up
    if first.status is None:
        raise Conflict("A request with this Idempotency-Key is still being handled; retry shortly.")
    if fingerprint is not None and first.fingerprint is not None and first.fingerprint != fingerprint:
        raise Unprocessable(
            "This Idempotency-Key was used for another request; use a new key for a new request.",
            loc=("header", "Idempotency-Key"),
        )
    return first


async def record(
    *,
    session: AsyncSession,
    actor: Actor,
    key: str,
    status: int,
    body: bytes,
    headers: dict[str, str],
    subject_id: uuid.UUID | None,
    fingerprint: bytes | None = None,
) -> None:
    """Store the answer to the claimed key, in the transaction of the work."""
    kept = {name.lower(): value for name, value in headers.items() if name.lower() in HEADERS}
    await session.execute(
        text(
            "UPDATE idempotency_key SET status = :s, body = :b, headers = CAST(:h AS jsonb), subject_id = :subject, "
            "fingerprint = coalesce(:f, fingerprint) WHERE controller_id = :c AND key = :k"
        ),
        {
            "c": actor.controller_id,
            "k": key,
            "s": status,
            "b": body,
            "h": dumps(kept).decode(),
            "subject": subject_id,
            "f": fingerprint,
        },
    )


async def forget_subject(*, session: AsyncSession, actor: Actor, subject_id: uuid.UUID) -> None:
    """Erasure: answers that hold the person's data go (a retry after that is a new request)."""
    await session.execute(
        delete(IdempotencyRecord).where(
            owned(IdempotencyRecord, actor), col(IdempotencyRecord.subject_id) == subject_id
        )
    )


async def expire(*, session: AsyncSession, now: dt.datetime) -> int:
    """Drop keys older than KEEP (every controller's: the worker runs this as the owner)."""
    result = await session.execute(delete(IdempotencyRecord).where(col(IdempotencyRecord.created_at) < now - KEEP))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
