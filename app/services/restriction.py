"""The right to restriction of processing (GDPR Art. 18): while restricted, the data is only stored; the
restriction and its lifting are told to every recipient (Art. 19)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.actor import Actor
from app.errors import Conflict, Unprocessable
from app.models.base import utcnow
from app.models.customers import Customer
from app.models.requests import (
    OPEN_STATUSES,
    Complete,
    ObjectionKind,
    RequestType,
    RestrictionGround,
    RestrictionNotice,
    SubjectRequest,
)
from app.models.webhooks import EventType
from app.services import webhooks
from app.tenancy import scoped

ERASED_OK = False
CUSTOMER_OPTIONAL = False


async def on_receipt(*, session: AsyncSession, actor: Actor, request: SubjectRequest, customer: Customer) -> None:
    """Nothing changes on receipt: whether the ground holds is weighed first."""


async def carry_out(
    *, session: AsyncSession, actor: Actor, request: SubjectRequest, customer: Customer, data: Complete
) -> dict[str, Any]:
    """Restrict processing on the person's ground; contested fields stay open to their correction."""
    ground, fields = request.params["ground"], request.params.get("contested_fields", [])
    recipients = await restrict(
        session=session, actor=actor, customer=customer, ground=RestrictionGround(ground), fields=fields
    )
    assert customer.restricted_at is not None
    return {
        "restricted_at": customer.restricted_at.isoformat(),
        "ground": ground,
        "contested_fields": fields,
        "recipients_notified": recipients,
    }


async def on_refusal(*, session: AsyncSession, actor: Actor, request: SubjectRequest, customer: Customer) -> None:
    """A refused restriction changes nothing."""


def _touch(customer: Customer) -> None:
    customer.version += 1
    customer.updated_at = utcnow()


async def restrict(
    *, session: AsyncSession, actor: Actor, customer: Customer, ground: RestrictionGround, fields: list[str]
) -> list[str]:
    """Mark the customer restricted; return the recipients told."""
    if customer.erased_at is not None:
        raise Conflict("The person's data was erased; there is nothing left to restrict.")
    if customer.restricted_at is None:
        customer.restricted_at = utcnow()
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


def end(customer: Customer) -> None:
    """End a restriction because the data it protected was erased: nothing is left to process, so there is
    nothing to tell the person before (Art. 18(3)); recipients are told of the erasure itself (Art. 19)."""
    if customer.restricted_at is not None:
        _clear(customer)


def _clear(customer: Customer) -> None:
    customer.restricted_at = None
    customer.restriction_ground = None
    customer.restriction_fields = []
    customer.restriction_notice = None
    _touch(customer)


async def record_notice(
    *, session: AsyncSession, actor: Actor, customer: Customer, data: RestrictionNotice
) -> Customer:
    """Record that the person was told the restriction will be lifted (Art. 18(3))."""
    if customer.restricted_at is None:
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
    *, session: AsyncSession, actor: Actor, customer: Customer, other_than: uuid.UUID | None
) -> bool:
    """Whether an objection on the person's particular situation, other than `other_than`, is being weighed."""
    query = scoped(SubjectRequest, actor, SubjectRequest.id).where(
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
    if customer.restricted_at is None:
        raise Conflict("The customer is not restricted.")
    if await objection_pending(session=session, actor=actor, customer=customer, other_than=other_than):
        raise Conflict(
            "An objection on the person's particular situation is being weighed (GDPR Art. 18(1)(d)): complete "
            "or refuse it first."
        )
    if notice is None and customer.restriction_notice is None:
        raise Conflict(
            "Tell the person first (GDPR Art. 18(3)): record it with POST /v1/customers/{id}/restriction/notice."
        )
    _clear(customer)
    await session.flush()
    return await webhooks.enqueue(
        session=session,
        actor=actor,
        event_type=EventType.customer_restriction_lifted,
        subject_id=customer.id,
        data={"customer_id": str(customer.id), "external_id": customer.external_id},
    )
