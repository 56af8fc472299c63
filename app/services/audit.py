"""Reading and verifying the audit log."""

from __future__ import annotations

import datetime as dt
import hmac
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app import audit, subject_keys
from app.actor import Actor
from app.models.audit import AuditEvent, AuditEventPublic, AuditHead, AuditVerification, FieldChange
from app.tenancy import scoped

_table = AuditEvent.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class AuditFilter:
    entity: str | None = None
    entity_id: uuid.UUID | None = None
    subject_id: uuid.UUID | None = None
    actor_key_id: uuid.UUID | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


def _read(
    *, session: Session, controller_id: uuid.UUID, where: AuditFilter, after: int | None, limit: int
) -> list[AuditEventPublic]:
    c = _table.c
    query = scoped(_table, controller_id)
    for column, value in (
        (c.entity, where.entity),
        (c.entity_id, where.entity_id),
        (c.subject_id, where.subject_id),
        (c.actor_key_id, where.actor_key_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if where.since is not None:
        query = query.where(c.occurred_at >= where.since)
    if where.until is not None:
        query = query.where(c.occurred_at < where.until)
    if after is not None:
        query = query.where(c.seq > after)
    rows = session.connection().execute(query.order_by(c.seq).limit(limit)).all()
    keys = subject_keys.subject_keys(
        session,
        subject_keys.default_keyring(),
        controller_id,
        {r.subject_id for r in rows if r.subject_id},
        create=False,
    )
    events = []
    for row in rows:
        changes = audit.read_changes(row, keys.get(row.subject_id) if row.subject_id else None)
        events.append(
            AuditEventPublic(
                seq=row.seq,
                occurred_at=row.occurred_at,
                request_id=row.request_id,
                actor_key_id=row.actor_key_id,
                actor_name=row.actor_name,
                actor_role=row.actor_role,
                entity=row.entity,
                entity_id=row.entity_id,
                action=row.action,
                subject_id=row.subject_id,
                fields=list(row.fields),
                changes=None if changes is None else {k: FieldChange(**v) for k, v in changes.items()},
                erased=changes is None,
                hash=row.hash.hex(),
            )
        )
    return events


async def list_events(
    *, session: AsyncSession, actor: Actor, where: AuditFilter, after: int | None, limit: int
) -> list[AuditEventPublic]:
    """List the controller's audit events oldest first, values decrypted where the key still exists."""
    return await session.run_sync(
        lambda s: _read(session=s, controller_id=actor.controller_id, where=where, after=after, limit=limit)
    )


def _walk(rows: Iterator[Any]) -> tuple[AuditVerification, int, bytes]:
    checked, expected_seq, prev = 0, 1, audit.GENESIS
    for row in rows:
        broken = None
        if row.seq != expected_seq:
            broken = AuditVerification(
                ok=False, events_checked=checked, first_broken_seq=expected_seq, reason="an event is missing"
            )
        elif row.prev_hash != prev:
            broken = AuditVerification(
                ok=False,
                events_checked=checked,
                first_broken_seq=row.seq,
                reason="the link to the previous event is broken",
            )
        elif audit.link_hash(prev, row._asdict()) != row.hash:
            broken = AuditVerification(
                ok=False, events_checked=checked, first_broken_seq=row.seq, reason="the event was altered"
            )
        if broken is not None:
            return broken, checked, prev
        prev, expected_seq, checked = row.hash, expected_seq + 1, checked + 1
    return AuditVerification(ok=True, events_checked=checked, first_broken_seq=None), checked, prev


def _check_head(*, session: Session, controller_id: uuid.UUID, last_seq: int, last_hash: bytes) -> str | None:
    """Compare the end of the chain with its sealed head; say what is wrong, if anything."""
    heads = AuditHead.__table__  # type: ignore[attr-defined]
    query = scoped(heads, controller_id)
    head = session.connection().execute(query).one_or_none()
    if head is None:
        return "the chain head is missing" if last_seq else None
    if not hmac.compare_digest(head.mac, subject_keys.default_keyring().head_mac(controller_id, head.seq, head.hash)):
        return "the chain head was altered"
    if last_seq < head.seq:
        return "events at the end of the chain were removed"
    if last_seq > head.seq or head.hash != last_hash:
        return "events were written outside the service"
    return None


def verify_chain(*, session: Session, controller_id: uuid.UUID) -> AuditVerification:
    """Recompute one controller's chain from the first event; report the first link that does not hold."""
    query = scoped(_table, controller_id).order_by(_table.c.seq).execution_options(yield_per=1000)
    result, last_seq, last_hash = _walk(iter(session.connection().execute(query)))
    if not result.ok:
        return result
    problem = _check_head(session=session, controller_id=controller_id, last_seq=last_seq, last_hash=last_hash)
    if problem is not None:
        return AuditVerification(ok=False, events_checked=last_seq, first_broken_seq=last_seq + 1, reason=problem)
    return result


async def verify(*, session: AsyncSession, actor: Actor) -> AuditVerification:
    """Verify the actor's controller's chain."""
    return await verify_controller(session=session, controller_id=actor.controller_id)


async def verify_controller(*, session: AsyncSession, controller_id: uuid.UUID) -> AuditVerification:
    """Verify one controller's chain, whoever asks (the operator's command checks them all)."""
    return await session.run_sync(lambda s: verify_chain(session=s, controller_id=controller_id))
