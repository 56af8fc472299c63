"""Data subject requests: intake, identity, deadlines and the lifecycle; each right's own work is done by
its module (app/services/<right>.py), found in `RIGHTS` by the request's type."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.actor import Actor
from app.config import get_settings
from app.errors import Conflict, NotFound, PreconditionFailed, Unprocessable
from app.models.base import utcnow
from app.models.customers import Customer
from app.models.intake import RequestCreate
from app.models.requests import (
    OPEN_STATUSES,
    Complete,
    Extend,
    RequestIdentity,
    RequestPublic,
    RequestStatus,
    RequestType,
    SubjectRequest,
    VerifyIdentity,
)
from app.services import customers as customer_service
from app.services import deadlines, intake, rectification
from app.services.rights import RIGHTS
from app.tenancy import scoped


def public(request: SubjectRequest, today: dt.date | None = None) -> RequestPublic:
    """The API view of a request, with whether it is overdue today."""
    overdue = is_overdue(request, today or deadlines.today())
    return RequestPublic.model_validate(request.model_dump() | {"overdue": overdue})


def clock_stands(request: SubjectRequest) -> bool:
    """Whether the request's clock stands still: proof of identity was asked for while it still ran.

    Asking after the deadline stops nothing: a late answer stays late (Art. 12(3), (6)).
    """
    return (
        request.status is RequestStatus.awaiting_identity
        and request.identity_requested_at is not None
        and get_settings().identity_pauses_clock
        and deadlines.local_date(request.identity_requested_at) <= request.due_date
    )


def current_due(request: SubjectRequest, today: dt.date) -> dt.date:
    """The deadline as it stands today: while the clock stands, the days waited so far are added."""
    if not clock_stands(request):
        return request.due_date
    assert request.identity_requested_at is not None
    waited = (today - deadlines.local_date(request.identity_requested_at)).days
    return deadlines.answer_due(
        deadlines.local_date(request.received_at),
        extension_months=request.extension_months or 0,
        paused_days=request.paused_days + max(waited, 0),
    )


def is_overdue(request: SubjectRequest, today: dt.date) -> bool:
    """Open and past its deadline; a request waiting for proof of identity is not, while its clock stands."""
    if request.status not in OPEN_STATUSES or clock_stands(request):
        return False
    return deadlines.is_overdue(request.due_date, today)


def _check_version(request: SubjectRequest, expected: set[int] | None) -> None:
    if expected is not None and request.version not in expected:
        raise PreconditionFailed("The request has changed since you read it; read it again (ETag).")


def _touch(request: SubjectRequest) -> None:
    request.version += 1
    request.updated_at = utcnow()


async def create(*, session: AsyncSession, actor: Actor, data: RequestCreate) -> SubjectRequest:
    """Register a request as it arrived and set its deadline (Art. 12(3))."""
    received_at = intake.received_at(data)
    customer = await intake.linked(session=session, actor=actor, data=data)
    if data.rectification is not None:
        rectification.check(data.rectification.corrections)
    due = deadlines.answer_due(deadlines.local_date(received_at))
    params: dict[str, Any] = {}
    for name in ("rectification", "restriction", "objection", "erasure", "prohibition"):
        value = getattr(data, name)
        if value is not None:
            params = value.model_dump(mode="json")
    request = SubjectRequest(
        controller_id=actor.controller_id,
        customer_id=customer.id if customer is not None else None,
        type=data.type,
        channel=data.channel,
        language=data.language,
        answer_language=await intake.answer_language(session=session, actor=actor, data=data, customer=customer),
        received_at=received_at,
        due_date=due,
        original_due_date=due,
        details=data.details,
        person=data.person.model_dump(mode="json", exclude_none=True) if data.person else {},
        params=params,
    )
    session.add(request)
    await session.flush()
    if customer is not None:
        await _on_receipt(session=session, actor=actor, request=request, customer=customer)
    return request


async def _on_receipt(*, session: AsyncSession, actor: Actor, request: SubjectRequest, customer: Customer) -> None:
    """What the law says applies on receipt, before any answer (e.g. marketing stops)."""
    if customer.erased_at is not None:
        return  # nothing left to market to or restrict
    await RIGHTS[request.type].on_receipt(session=session, actor=actor, request=request, customer=customer)


async def get(
    *, session: AsyncSession, actor: Actor, request_id: uuid.UUID, for_update: bool = False
) -> SubjectRequest:
    """One request of the actor's controller."""
    query = scoped(SubjectRequest, actor).where(SubjectRequest.id == request_id)
    if for_update:
        query = query.with_for_update()
    request = await session.scalar(query)
    if request is None:
        raise NotFound("No such request.")
    return request


async def list_requests(
    *,
    session: AsyncSession,
    actor: Actor,
    status: list[RequestStatus],
    types: list[RequestType],
    due_before: dt.date | None,
    overdue: bool | None,
    customer_id: uuid.UUID | None,
    after: tuple[dt.date, uuid.UUID] | None,
    limit: int,
) -> list[SubjectRequest]:
    """Requests soonest due first, filtered."""
    query = scoped(SubjectRequest, actor)
    if status:
        query = query.where(col(SubjectRequest.status).in_(status))
    if types:
        query = query.where(col(SubjectRequest.type).in_(types))
    if due_before is not None:
        query = query.where(col(SubjectRequest.due_date) < due_before)
    if customer_id is not None:
        query = query.where(SubjectRequest.customer_id == customer_id)
    if overdue is not None:
        late = col(SubjectRequest.status).in_(OPEN_STATUSES) & (col(SubjectRequest.due_date) < deadlines.today())
        if get_settings().identity_pauses_clock:
            # As clock_stands(): asked for identity while the clock still ran.
            asked_on = func.date(func.timezone(deadlines.HELSINKI.key, col(SubjectRequest.identity_requested_at)))
            stands = (col(SubjectRequest.status) == RequestStatus.awaiting_identity) & (
                asked_on <= col(SubjectRequest.due_date)
            )
            late = late & ~func.coalesce(stands, False)
        query = query.where(late if overdue else ~late)
    if after is not None:
        query = query.where(func.row(SubjectRequest.due_date, SubjectRequest.id) > func.row(*after))
    query = query.order_by(col(SubjectRequest.due_date), col(SubjectRequest.id)).limit(limit)
    return list(await session.scalars(query))


def _open(request: SubjectRequest) -> None:
    if request.status not in OPEN_STATUSES:
        raise Conflict(f"The request is {request.status.value}; nothing more can be done with it.")


async def _to_act_on(
    *, session: AsyncSession, actor: Actor, request_id: uuid.UUID, expected: set[int] | None
) -> SubjectRequest:
    """The request, locked, as the caller last read it (If-Match), and still open."""
    request = await get(session=session, actor=actor, request_id=request_id, for_update=True)
    _check_version(request, expected)
    _open(request)
    return request


async def request_identity(
    *, session: AsyncSession, actor: Actor, request_id: uuid.UUID, data: RequestIdentity, expected: set[int] | None
) -> SubjectRequest:
    """Ask the person for proof of identity (Art. 12(6)); the clock stands still until it arrives."""
    request = await _to_act_on(session=session, actor=actor, request_id=request_id, expected=expected)
    if request.status is RequestStatus.awaiting_identity:
        raise Conflict("Proof of identity has been asked for already.")
    if request.identity_verified_at is not None:
        raise Conflict("The person's identity was verified already.")
    request.status = RequestStatus.awaiting_identity
    request.identity_requested_at = utcnow()
    request.outcome = {**request.outcome, "identity_reason": data.reason}
    _touch(request)
    await session.flush()
    return request


async def verify(
    *, session: AsyncSession, actor: Actor, request_id: uuid.UUID, data: VerifyIdentity, expected: set[int] | None
) -> SubjectRequest:
    """Record how the person's identity was confirmed; the request moves on and its clock runs again."""
    request = await _to_act_on(session=session, actor=actor, request_id=request_id, expected=expected)
    if data.customer_id is not None and data.customer_id != request.customer_id:
        if request.customer_id is not None:
            raise Conflict("The request is linked to another customer already.")
        customer = await session.scalar(scoped(Customer, actor).where(Customer.id == data.customer_id))
        if customer is None:
            raise Unprocessable("No such customer.", loc=("body", "customer_id"))
        request.customer_id = customer.id
        await session.flush()
        await _on_receipt(session=session, actor=actor, request=request, customer=customer)
    now = utcnow()
    if clock_stands(request):
        assert request.identity_requested_at is not None
        today = deadlines.local_date(now)
        request.due_date = current_due(request, today)
        request.paused_days += (today - deadlines.local_date(request.identity_requested_at)).days
    request.status = RequestStatus.in_progress
    request.identity_method = data.method
    request.identity_verified_by = actor.name
    request.identity_verified_at = now
    if data.note:
        request.outcome = {**request.outcome, "identity_note": data.note}
    _touch(request)
    await session.flush()
    return request


async def extend(
    *, session: AsyncSession, actor: Actor, request_id: uuid.UUID, data: Extend, expected: set[int] | None
) -> SubjectRequest:
    """One extension of up to two further months, with reasons, before the first deadline (Art. 12(3))."""
    request = await _to_act_on(session=session, actor=actor, request_id=request_id, expected=expected)
    if request.extension_months is not None:
        raise Conflict("The deadline was extended already; the law allows one extension.")
    today = deadlines.today()
    if deadlines.is_overdue(current_due(request, today), today):
        raise Conflict("The first deadline has passed; it can no longer be extended (Art. 12(3)).")
    request.extension_months = data.months
    request.extension_reason = data.reason
    request.extended_at = utcnow()
    request.due_date = deadlines.answer_due(
        deadlines.local_date(request.received_at), extension_months=data.months, paused_days=request.paused_days
    )
    _touch(request)
    await session.flush()
    return request


async def _customer_of(*, session: AsyncSession, actor: Actor, request: SubjectRequest) -> Customer | None:
    """The request's customer, locked for the work; None when the request is about no one in the register."""
    if request.customer_id is None:
        return None
    return await customer_service.get_customer(
        session=session, actor=actor, customer_id=request.customer_id, for_update=True
    )


async def _carry_out(*, session: AsyncSession, actor: Actor, request: SubjectRequest, data: Complete) -> dict[str, Any]:
    right = RIGHTS[request.type]
    customer = await _customer_of(session=session, actor=actor, request=request)
    if customer is None:
        if right.CUSTOMER_OPTIONAL:
            return {"found": False}
        raise Conflict(
            "The request is not linked to a customer: verify it with customer_id, or refuse it if the person "
            "is not in the register."
        )
    if customer.erased_at is not None and not right.ERASED_OK:
        raise Conflict("The person's data was erased; what is kept may not be processed for this request.")
    return await right.carry_out(session=session, actor=actor, request=request, customer=customer, data=data)


async def complete(
    *, session: AsyncSession, actor: Actor, request_id: uuid.UUID, data: Complete, expected: set[int] | None
) -> SubjectRequest:
    """Carry the request out; what that means depends on the right exercised."""
    request = await _to_act_on(session=session, actor=actor, request_id=request_id, expected=expected)
    if request.status is RequestStatus.awaiting_identity:
        raise Conflict("The request awaits proof of identity; verify it first, or refuse it.")
    if data.refuse_fields and request.type is not RequestType.rectification:
        raise Unprocessable("refuse_fields is for rectification requests.", loc=("body", "refuse_fields"))
    if data.release_business_contact and request.type is not RequestType.erasure:
        raise Unprocessable(
            "release_business_contact is for erasure requests.", loc=("body", "release_business_contact")
        )
    outcome = await _carry_out(session=session, actor=actor, request=request, data=data)
    if data.note:
        outcome.setdefault("note", data.note)
    request.status = RequestStatus.completed
    request.outcome = {**request.outcome, **outcome}
    request.closed_at = utcnow()
    request.closed_by = actor.name
    _touch(request)
    await session.flush()
    return request


async def refuse(
    *, session: AsyncSession, actor: Actor, request_id: uuid.UUID, reasons: str, expected: set[int] | None
) -> SubjectRequest:
    """Refuse with written reasons (Art. 12(4)); the answer names the authority and the courts."""
    request = await _to_act_on(session=session, actor=actor, request_id=request_id, expected=expected)
    request.status = RequestStatus.refused
    request.refusal_reasons = reasons
    request.closed_at = utcnow()
    request.closed_by = actor.name
    customer = await _customer_of(session=session, actor=actor, request=request)
    if customer is not None:
        await RIGHTS[request.type].on_refusal(session=session, actor=actor, request=request, customer=customer)
    _touch(request)
    await session.flush()
    return request


async def withdraw(
    *, session: AsyncSession, actor: Actor, request_id: uuid.UUID, note: str | None, expected: set[int] | None
) -> SubjectRequest:
    """The person takes the request back."""
    request = await _to_act_on(session=session, actor=actor, request_id=request_id, expected=expected)
    request.status = RequestStatus.withdrawn
    request.closed_at = utcnow()
    request.closed_by = actor.name
    if note:
        request.outcome = {**request.outcome, "note": note}
    _touch(request)
    await session.flush()
    return request
