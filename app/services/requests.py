"""Data subject requests: intake, identity, deadlines, and completion that does what the right requires."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.config import get_settings
from app.errors import Conflict, NotFound, PreconditionFailed, Unprocessable, redact
from app.models.base import utcnow
from app.models.controllers import Controller
from app.models.customers import Customer, CustomerUpdate
from app.models.marketing import Channel, ChannelChange, MarketingUpdate, ReceivedVia
from app.models.requests import (
    GDPR_APPLIES,
    OPEN_STATUSES,
    AnswerLanguage,
    Complete,
    Extend,
    ObjectionKind,
    RequestChannel,
    RequestCreate,
    RequestIdentity,
    RequestPublic,
    RequestStatus,
    RequestType,
    RestrictionGround,
    SubjectRequest,
    VerifyIdentity,
)
from app.security import Actor
from app.services import authorities, deadlines, erasure, marketing, restriction
from app.services import customers as customer_service
from app.services.letters import LetterContext, LetterKind

_VIA = {
    RequestChannel.letter: ReceivedVia.letter,
    RequestChannel.email: ReceivedVia.email,
    RequestChannel.phone: ReceivedVia.phone,
    RequestChannel.in_person: ReceivedVia.in_person,
    RequestChannel.web_form: ReceivedVia.web,
}


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


async def _match(session: AsyncSession, actor: Actor, data: RequestCreate) -> uuid.UUID | None:
    """The one customer the person's details point to, if exactly one (never a guess between several)."""
    person = data.person
    if person is None:
        return None
    conditions = []
    if person.email:
        conditions.append(col(Customer.email) == person.email)
    if person.phone:
        conditions.append(col(Customer.phone) == person.phone)
    if person.external_id:
        conditions.append(col(Customer.external_id) == person.external_id)
    if not conditions:
        return None
    found = list(
        await session.scalars(
            select(Customer.id)
            .where(Customer.controller_id == actor.controller_id, col(Customer.erased_at).is_(None), or_(*conditions))
            .limit(2)
        )
    )
    return found[0] if len(found) == 1 else None


async def create(*, session: AsyncSession, actor: Actor, data: RequestCreate) -> SubjectRequest:
    """Register a request as it arrived and set its deadline (Art. 12(3))."""
    now = utcnow()
    received_at = data.received_at or now
    if received_at.tzinfo is None:
        raise Unprocessable("received_at needs a time zone.", loc=("body", "received_at"))
    if received_at > now + dt.timedelta(minutes=1):
        raise Unprocessable("received_at is in the future.", loc=("body", "received_at"))
    if received_at < GDPR_APPLIES:
        raise Unprocessable("received_at is before the GDPR applied (25 May 2018).", loc=("body", "received_at"))
    customer: Customer | None = None
    if data.customer_id is not None:
        customer = await session.scalar(
            select(Customer).where(Customer.controller_id == actor.controller_id, Customer.id == data.customer_id)
        )
        if customer is None:
            raise Unprocessable("No such customer.", loc=("body", "customer_id"))
    else:
        matched = await _match(session, actor, data)
        if matched is not None:
            customer = await customer_service.get_customer(session=session, actor=actor, customer_id=matched)
    if data.rectification is not None:
        _validate_corrections(data.rectification.corrections)
    answer_language = data.answer_language
    if answer_language is None:
        preferred: str | None = customer.preferred_language if customer is not None else None
        if preferred is None:
            controller = await session.get(Controller, actor.controller_id)
            preferred = controller.default_language if controller is not None else "fi"
        answer_language = AnswerLanguage(preferred)
    received_on = deadlines.local_date(received_at)
    due = deadlines.answer_due(received_on)
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
        answer_language=answer_language,
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
        await _apply_at_once(session, actor, request, customer)
    return request


def _validate_corrections(corrections: dict[str, Any]) -> None:
    try:
        CustomerUpdate.model_validate(corrections)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = ("body", "rectification", "corrections", *(str(p) for p in error["loc"]))
        raise Unprocessable(f"Not a valid correction: {redact(error['msg'], error.get('input'))}.", loc=loc) from None


async def _apply_at_once(session: AsyncSession, actor: Actor, request: SubjectRequest, customer: Customer) -> None:
    """What the law says applies on receipt, before any answer: marketing stops; a weighed objection restricts."""
    if customer.erased_at is not None:
        return  # nothing left to market to or restrict
    if request.type is RequestType.objection:
        if request.params["kind"] == ObjectionKind.direct_marketing.value:
            # Art. 21(3): absolute and immediate.
            await _marketing(session, actor, request, MarketingUpdate(objection=True))
        else:
            # Art. 18(1)(d): restricted while it is weighed whether the controller's grounds override.
            await restriction.restrict(
                session=session, actor=actor, customer=customer, ground=RestrictionGround.objection_pending, fields=[]
            )
    elif request.type is RequestType.marketing_prohibition:
        channels = [Channel(c) for c in request.params.get("channels") or Channel]
        update = MarketingUpdate(channels={c: ChannelChange(prohibited=True) for c in channels})
        await _marketing(session, actor, request, update)


async def _marketing(session: AsyncSession, actor: Actor, request: SubjectRequest, update: MarketingUpdate) -> None:
    assert request.customer_id is not None
    update = update.model_copy(
        update={
            "received_via": _VIA.get(request.channel),
            "occurred_at": request.received_at,
            "source": f"request {request.id}",
        }
    )
    await marketing.update(session=session, actor=actor, customer_id=request.customer_id, data=update)


async def get(
    *, session: AsyncSession, actor: Actor, request_id: uuid.UUID, for_update: bool = False
) -> SubjectRequest:
    """One request of the actor's controller."""
    query = select(SubjectRequest).where(
        SubjectRequest.controller_id == actor.controller_id, SubjectRequest.id == request_id
    )
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
    query = select(SubjectRequest).where(SubjectRequest.controller_id == actor.controller_id)
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


async def request_identity(
    *, session: AsyncSession, actor: Actor, request_id: uuid.UUID, data: RequestIdentity, expected: set[int] | None
) -> SubjectRequest:
    """Ask the person for proof of identity (Art. 12(6)); the clock stands still until it arrives."""
    request = await get(session=session, actor=actor, request_id=request_id, for_update=True)
    _check_version(request, expected)
    _open(request)
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
    request = await get(session=session, actor=actor, request_id=request_id, for_update=True)
    _check_version(request, expected)
    _open(request)
    if data.customer_id is not None and data.customer_id != request.customer_id:
        if request.customer_id is not None:
            raise Conflict("The request is linked to another customer already.")
        customer = await session.scalar(
            select(Customer).where(Customer.controller_id == actor.controller_id, Customer.id == data.customer_id)
        )
        if customer is None:
            raise Unprocessable("No such customer.", loc=("body", "customer_id"))
        request.customer_id = customer.id
        await session.flush()
        await _apply_at_once(session, actor, request, customer)
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
    request = await get(session=session, actor=actor, request_id=request_id, for_update=True)
    _check_version(request, expected)
    _open(request)
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


async def _customer_for(session: AsyncSession, actor: Actor, request: SubjectRequest) -> Customer:
    if request.customer_id is None:
        raise Conflict(
            "The request is not linked to a customer: verify it with customer_id, or refuse it if the person "
            "is not in the register."
        )
    return await customer_service.get_customer(
        session=session, actor=actor, customer_id=request.customer_id, for_update=True
    )


async def complete(
    *, session: AsyncSession, actor: Actor, request_id: uuid.UUID, data: Complete, expected: set[int] | None
) -> SubjectRequest:
    """Carry the request out; what that means depends on the right exercised."""
    request = await get(session=session, actor=actor, request_id=request_id, for_update=True)
    _check_version(request, expected)
    _open(request)
    if request.status is RequestStatus.awaiting_identity:
        raise Conflict("The request awaits proof of identity; verify it first, or refuse it.")
    if data.refuse_fields and request.type is not RequestType.rectification:
        raise Unprocessable("refuse_fields is for rectification requests.", loc=("body", "refuse_fields"))
    outcome: dict[str, Any] = {}
    if request.type in (RequestType.access, RequestType.portability):
        if request.customer_id is None:
            outcome = {"found": False}
        else:
            await customer_service.get_customer(session=session, actor=actor, customer_id=request.customer_id)
            outcome = {
                "found": True,
                "export": {
                    "kind": request.type.value,
                    "url": f"/v1/requests/{request.id}/export",
                    "formats": ["json", "zip"] if request.type is RequestType.portability else ["json"],
                },
            }
    else:
        customer = await _customer_for(session, actor, request)
        if customer.erased_at is not None and request.type is not RequestType.erasure:
            raise Conflict("The person's data was erased; what is kept may not be processed for this request.")
        outcome = await _carry_out(session, actor, request, customer, data)
    if data.note:
        outcome["note"] = data.note
    request.status = RequestStatus.completed
    request.outcome = {**request.outcome, **outcome}
    request.closed_at = utcnow()
    request.closed_by = actor.name
    _touch(request)
    await session.flush()
    if request.type is RequestType.erasure:
        await erasure.forget_requests(session=session, actor=actor, customer_id=request.customer_id)
    return request


async def _carry_out(
    session: AsyncSession, actor: Actor, request: SubjectRequest, customer: Customer, data: Complete
) -> dict[str, Any]:
    params = request.params
    if request.type is RequestType.rectification:
        corrections: dict[str, Any] = params["corrections"]
        unknown = sorted(set(data.refuse_fields) - set(corrections))
        if unknown:
            raise Unprocessable(
                "refuse_fields names fields the person did not ask to correct: " + ", ".join(unknown),
                loc=("body", "refuse_fields"),
            )
        return await restriction.rectify(
            session=session, actor=actor, customer=customer, corrections=corrections, refused=data.refuse_fields
        )
    if request.type is RequestType.restriction:
        recipients = await restriction.restrict(
            session=session,
            actor=actor,
            customer=customer,
            ground=RestrictionGround(params["ground"]),
            fields=params.get("contested_fields", []),
        )
        assert customer.restricted_since is not None
        return {
            "restricted_since": customer.restricted_since.isoformat(),
            "ground": params["ground"],
            "contested_fields": params.get("contested_fields", []),
            "recipients_notified": recipients,
        }
    if request.type is RequestType.objection:
        if params["kind"] == ObjectionKind.direct_marketing.value:
            await _apply_at_once(session, actor, request, customer)
            return {"kind": ObjectionKind.direct_marketing.value}
        # Upheld: processing on legitimate interests stops; the data stays restricted to storage.
        if customer.restricted_since is None:
            await restriction.restrict(
                session=session, actor=actor, customer=customer, ground=RestrictionGround.objection_pending, fields=[]
            )
        return {"kind": ObjectionKind.particular_situation.value, "upheld": True, "restricted": True}
    if request.type is RequestType.erasure:
        return await erasure.erase(session=session, actor=actor, customer=customer, request_id=request.id)
    if request.type is RequestType.marketing_prohibition:
        await _apply_at_once(session, actor, request, customer)
        return {"channels": params.get("channels") or []}
    raise AssertionError(request.type)


async def refuse(
    *, session: AsyncSession, actor: Actor, request_id: uuid.UUID, reasons: str, expected: set[int] | None
) -> SubjectRequest:
    """Refuse with written reasons (Art. 12(4)); the answer names the authority and the courts."""
    request = await get(session=session, actor=actor, request_id=request_id, for_update=True)
    _check_version(request, expected)
    _open(request)
    now = utcnow()
    if (
        request.type is RequestType.objection
        and request.params.get("kind") == ObjectionKind.particular_situation.value
        and request.customer_id is not None
    ):
        # The controller's grounds override: the restriction while it was weighed ends, and the refusal
        # itself is the notice the person gets before that (Art. 18(3)).
        # Not if the person is restricted on a ground of their own, or another objection is weighed.
        customer = await _customer_for(session, actor, request)
        if customer.restriction_ground == RestrictionGround.objection_pending.value and not (
            await restriction.objection_pending(session, actor, customer, other_than=request.id)
        ):
            await restriction.lift(
                session=session,
                actor=actor,
                customer=customer,
                notice={"at": now.isoformat(), "via": "refusal", "request_id": str(request.id)},
                other_than=request.id,
            )
    request.status = RequestStatus.refused
    request.refusal_reasons = reasons
    request.closed_at = now
    request.closed_by = actor.name
    _touch(request)
    await session.flush()
    return request


async def withdraw(
    *, session: AsyncSession, actor: Actor, request_id: uuid.UUID, note: str | None, expected: set[int] | None
) -> SubjectRequest:
    """The person takes the request back."""
    request = await get(session=session, actor=actor, request_id=request_id, for_update=True)
    _check_version(request, expected)
    _open(request)
    request.status = RequestStatus.withdrawn
    request.closed_at = utcnow()
    request.closed_by = actor.name
    if note:
        request.outcome = {**request.outcome, "note": note}
    _touch(request)
    await session.flush()
    return request


def _for_letter(outcome: dict[str, Any]) -> dict[str, Any]:
    """The outcome as the letter tells it: the export goes with the letter, not as an API path."""
    if "export" not in outcome:
        return outcome
    return {**outcome, "export": {k: v for k, v in outcome["export"].items() if k != "url"}}


async def letter_context(
    *, session: AsyncSession, actor: Actor, request: SubjectRequest, language: AnswerLanguage | None
) -> LetterContext:
    """What the answer letter for the request's present state says."""
    kinds: dict[RequestStatus, LetterKind] = {
        RequestStatus.completed: "completion",
        RequestStatus.refused: "refusal",
        RequestStatus.awaiting_identity: "identity",
    }
    kind = kinds.get(request.status)
    if kind is None and request.extension_months is not None and request.status in OPEN_STATUSES:
        kind = "extension"
    if kind is None:
        raise Conflict(
            "Nothing to tell the person yet: a letter exists once the request is completed, refused or extended, "
            "or while proof of identity is awaited."
        )
    controller = await session.get(Controller, actor.controller_id)
    assert controller is not None
    customer = None
    if request.customer_id is not None:
        customer = await session.scalar(
            select(Customer).where(Customer.controller_id == actor.controller_id, Customer.id == request.customer_id)
        )
    person = request.person
    first = (customer.first_name if customer else None) or person.get("first_name")
    last = (customer.last_name if customer else None) or person.get("last_name")
    name = " ".join(p for p in (first, last) if p) or None
    source: Any = customer if customer is not None and customer.erased_at is None else None
    street = getattr(source, "street_address", None) or person.get("street_address")
    postal = " ".join(
        p
        for p in (
            getattr(source, "postal_code", None) or person.get("postal_code"),
            getattr(source, "city", None) or person.get("city"),
        )
        if p
    )
    country = (customer.country if customer else None) or person.get("country")
    return LetterContext(
        kind=kind,
        language=(language or request.answer_language).value,
        controller={
            "name": controller.name,
            "business_id": controller.business_id,
            "street_address": controller.street_address,
            "postal_code": controller.postal_code,
            "city": controller.city,
            "phone": controller.phone,
            "email": controller.email,
            "website": controller.website,
            "contact_name": controller.contact_name,
            "contact_title": controller.contact_title,
            "contact_phone": controller.contact_phone,
            "contact_email": controller.contact_email,
        },
        request={
            "id": str(request.id),
            "type": request.type.value,
            "received_on": deadlines.local_date(request.received_at),
            "due_date": request.due_date,
            "original_due_date": request.original_due_date,
            "extension_months": request.extension_months,
            "extension_reason": request.extension_reason,
            "closed_on": deadlines.local_date(request.closed_at) if request.closed_at else None,
            "identity_reason": request.outcome.get("identity_reason"),
            "params": request.params,
        },
        today=deadlines.today(),
        person_name=name,
        person_address=[line for line in (street, postal) if line],
        outcome=_for_letter(request.outcome),
        refusal_reasons=request.refusal_reasons,
        authorities=[dataclasses.asdict(a) for a in authorities.for_person(country)],
        recipients=list(request.outcome.get("recipients_notified", [])),
    )
