"""Restriction of processing (Art. 18) and rectification (Art. 16), each told to the recipients (Art. 19)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.errors import Conflict, Unprocessable
from app.models.base import utcnow
from app.models.customers import Customer, CustomerUpdate
from app.models.requests import (
    OPEN_STATUSES,
    ObjectionKind,
    RequestType,
    RestrictionGround,
    RestrictionNotice,
    SubjectRequest,
)
from app.models.webhooks import EventType
from app.security import Actor
from app.services import customers as customer_service
from app.services import webhooks


def _touch(customer: Customer) -> None:
    customer.version += 1
    customer.updated_at = utcnow()


async def restrict(
    *, session: AsyncSession, actor: Actor, customer: Customer, ground: RestrictionGround, fields: list[str]
) -> list[str]:
    """Mark the customer restricted; return the recipients told."""
    if customer.erased_at is not None:
        raise Conflict("The person's data was erased; there is nothing left to restrict.")
    if customer.restricted_since is None:
        customer.restricted_since = utcnow()
        customer.restriction_ground = ground.value
    elif ground is not RestrictionGround.objection_pending:
        # A ground of the person's own outranks the weighing of an objection: refusing the objection
        # must not end it. Restricted already on another ground, an objection adds nothing to lift.
        customer.restriction_ground = ground.value
    customer.restriction_fields = sorted(set(customer.restriction_fields) | set(fields))
    customer.restriction_notice = None
    _touch(customer)
    await session.flush()
    return await webhooks.enqueue(
        session=session,
        actor=actor,
        event_type=EventType.customer_restricted,
        subject_id=customer.id,
        data={"customer_id": str(customer.id), "external_id": customer.external_id, "ground": ground.value},
    )


async def record_notice(
    *, session: AsyncSession, actor: Actor, customer: Customer, data: RestrictionNotice
) -> Customer:
    """Record that the person was told the restriction will be lifted (Art. 18(3))."""
    if customer.restricted_since is None:
        raise Conflict("The customer is not restricted.")
    at = data.notified_at or utcnow()
    if at.tzinfo is None:
        raise Unprocessable("notified_at needs a time zone.", loc=("body", "notified_at"))
    if at > utcnow() + dt.timedelta(minutes=1):
        raise Unprocessable("notified_at is in the future.", loc=("body", "notified_at"))
    customer.restriction_notice = {"at": at.isoformat(), "via": data.via.value, "note": data.note, "by": actor.name}
    _touch(customer)
    await session.flush()
    return customer


async def objection_pending(
    session: AsyncSession, actor: Actor, customer: Customer, *, other_than: uuid.UUID | None
) -> bool:
    query = select(SubjectRequest.id).where(
        SubjectRequest.controller_id == actor.controller_id,
        SubjectRequest.customer_id == customer.id,
        SubjectRequest.type == RequestType.objection,
        col(SubjectRequest.status).in_(OPEN_STATUSES),
        SubjectRequest.params["kind"].astext == ObjectionKind.particular_situation.value,
    )
    if other_than is not None:
        query = query.where(SubjectRequest.id != other_than)
    return await session.scalar(query.limit(1)) is not None


async def lift(
    *,
    session: AsyncSession,
    actor: Actor,
    customer: Customer,
    notice: dict[str, Any] | None = None,
    other_than: uuid.UUID | None = None,
) -> list[str]:
    """Lift the restriction: only after the person was told (Art. 18(3)), and not while an objection other
    than `other_than` is weighed. Return the recipients told."""
    if customer.restricted_since is None:
        raise Conflict("The customer is not restricted.")
    if await objection_pending(session, actor, customer, other_than=other_than):
        raise Conflict(
            "An objection on the person's particular situation is being weighed (GDPR Art. 18(1)(d)): complete "
            "or refuse it first."
        )
    if notice is None and customer.restriction_notice is None:
        raise Conflict(
            "Tell the person first (GDPR Art. 18(3)): record it with POST /v1/customers/{id}/restriction/notice."
        )
    customer.restricted_since = None
    customer.restriction_ground = None
    customer.restriction_fields = []
    customer.restriction_notice = None
    _touch(customer)
    await session.flush()
    return await webhooks.enqueue(
        session=session,
        actor=actor,
        event_type=EventType.customer_restriction_lifted,
        subject_id=customer.id,
        data={"customer_id": str(customer.id), "external_id": customer.external_id},
    )


async def rectify(
    *, session: AsyncSession, actor: Actor, customer: Customer, corrections: dict[str, Any], refused: dict[str, str]
) -> dict[str, Any]:
    """Apply the corrections not refused, through the audited path; tell the recipients."""
    refused = dict(refused)
    if customer.restricted_since is not None:
        for name in corrections:
            if name not in customer.restriction_fields and name not in refused:
                refused[name] = "Processing is restricted; only the contested fields may be corrected meanwhile."
    wanted = {k: v for k, v in corrections.items() if k not in refused}
    checked = CustomerUpdate.model_validate(wanted)
    values = checked.model_dump(include=set(wanted))
    as_json = checked.model_dump(mode="json", include=set(wanted))
    applied = sorted(k for k, v in values.items() if getattr(customer, k) != v)
    customer_service.apply(customer, values)
    await session.flush()
    recipients: list[str] = []
    if applied:
        recipients = await webhooks.enqueue(
            session=session,
            actor=actor,
            event_type=EventType.customer_rectified,
            subject_id=customer.id,
            data={
                "customer_id": str(customer.id),
                "external_id": customer.external_id,
                "fields": {k: as_json[k] for k in applied},
            },
        )
    return {
        "applied": sorted(values),
        "changed": applied,
        "refused": refused,
        "recipients_notified": recipients,
    }
