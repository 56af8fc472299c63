"""Erasure (Art. 17): erase what may go, keep the minimum the law requires, blocked, and say why.

What must be kept, and until when, is decided in `app.services.holds`. Everything else goes: customer fields,
orders past their period, the marketing history, the disclosure log, the personal values in requests and webhook
events, and the key that makes the person's audit values readable.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlmodel import col

from app.actor import Actor
from app.models.base import utcnow
from app.models.customers import Customer, CustomerFields
from app.models.marketing import MarketingEvent
from app.models.orders import Order
from app.models.requests import Complete, ErasureGround, SubjectRequest
from app.models.webhooks import EventType
from app.services import deadlines, disclosures, holds, idempotency, suppression, webhooks
from app.subject_keys import destroy_subject_key
from app.tenancy import scoped

ERASED_TEXT = "[erased]"  # stands where staff's free text about an erased person was

ERASED_OK = True  # a second request finds what a hold kept, and frees what has since come free
CUSTOMER_OPTIONAL = False


async def on_receipt(*, session: AsyncSession, actor: Actor, request: SubjectRequest, customer: Customer) -> None:
    """Nothing is erased on receipt: the holds are weighed when the request is completed."""


async def carry_out(
    *, session: AsyncSession, actor: Actor, request: SubjectRequest, customer: Customer, data: Complete
) -> dict[str, Any]:
    """Erase all but what a hold keeps, weighed against the person's ground (Art. 17(1)); the person's requests
    keep no personal values either."""
    ground = ErasureGround(request.params["ground"])
    rules = await holds.policy(
        session=session, actor=actor, ground=ground, release_business_contact=data.release_business_contact
    )
    outcome = await erase(session=session, actor=actor, customer=customer, request_id=request.id, policy=rules)
    outcome["ground"] = ground.value
    if data.release_business_contact:
        # Staff's decision to erase a live business contact: the reasons stay with the request (audited).
        outcome["released"] = [{"reason": "business_contact", "by": actor.name, "why": data.release_business_contact}]
    await forget_requests(session=session, actor=actor, customer_id=customer.id)
    if data.note:
        outcome["note"] = ERASED_TEXT  # staff's note is about the person: that it was written stays
    return outcome


async def on_refusal(*, session: AsyncSession, actor: Actor, request: SubjectRequest, customer: Customer) -> None:
    """A refused erasure changes nothing; the refusal's reasons name the law that keeps the data."""


async def orders_of(*, session: AsyncSession, actor: Actor, customer: Customer) -> list[Order]:
    """The customer's orders, locked for the erasure."""
    query = scoped(Order, actor).where(Order.customer_id == customer.id)
    return list(await session.scalars(query.with_for_update()))


def _erase_fields(customer: Customer, keep_fields: set[str]) -> list[str]:
    """Blank every customer field no hold keeps; mark the customer erased (once: a repeat keeps the date)."""
    erased_fields = []
    for name in CustomerFields.model_fields:
        if name == "kind" or name in keep_fields or getattr(customer, name) is None:
            continue
        setattr(customer, name, None)
        erased_fields.append(name)
    if erased_fields and customer.field_sources:
        customer.field_sources = {k: v for k, v in customer.field_sources.items() if k not in erased_fields}
    now = utcnow()
    if erased_fields or customer.restriction_notice is not None or customer.erased_at is None:
        customer.version += 1
        customer.updated_at = now
    customer.restriction_notice = None
    customer.erased_at = customer.erased_at or now
    return erased_fields


async def _destroy_keys(
    *, session: AsyncSession, actor: Actor, customer: Customer, request_id: uuid.UUID | None
) -> None:
    """Destroy the audit keys of the person and their requests: their values in the log become unreadable."""
    subjects = {customer.id, *([request_id] if request_id else [])} | set(
        await session.scalars(
            scoped(SubjectRequest, actor, SubjectRequest.id).where(SubjectRequest.customer_id == customer.id)
        )
    )

    def destroy(sync_session: Session) -> None:
        for subject_id in subjects:
            destroy_subject_key(sync_session, actor.controller_id, subject_id)

    await session.run_sync(destroy)


async def erase(
    *,
    session: AsyncSession,
    actor: Actor,
    customer: Customer,
    request_id: uuid.UUID | None,
    policy: holds.Policy | None = None,
    today: dt.date | None = None,
) -> dict[str, Any]:
    """Erase the customer's data but what a hold keeps; return what was erased and what was kept, and why.

    `request_id` is the erasure request, if one asked for it (a retention sweep does not); `policy` the holds'
    (default: the controller's, for data no longer necessary).
    """
    today = today or deadlines.today()
    policy = policy or await holds.policy(session=session, actor=actor)
    orders = await orders_of(session=session, actor=actor, customer=customer)
    kept, keep_orders = holds.holds(customer, orders, today, policy)
    old_external_id = customer.external_id
    # Found by the person's e-mail, phone, name and address: before those go.
    suppressed = await suppression.forget_person(session=session, actor=actor, customer=customer)
    erased_fields = _erase_fields(customer, holds.kept_fields(kept))
    dropped = [o for o in orders if o.id not in keep_orders]
    for order in dropped:
        await session.delete(order)
    history = list(
        await session.scalars(scoped(MarketingEvent, actor).where(MarketingEvent.customer_id == customer.id))
    )
    for entry in history:
        await session.delete(entry)
    await session.flush()
    await webhooks.forget_subject(session=session, actor=actor, subject_id=customer.id)
    await idempotency.forget_subject(session=session, actor=actor, subject_id=customer.id)
    # Art. 19: the recipients of the person's data are found in the disclosure log, before it goes with the rest;
    # who received the data, and when, stays with the request as the record of that duty (docs/exports.md).
    disclosed = await disclosures.received(session=session, tenant=actor, customer_id=customer.id)
    recipients = await webhooks.enqueue(
        session=session,
        actor=actor,
        event_type=EventType.customer_erased,
        subject_id=customer.id,
        data={"customer_id": str(customer.id), "external_id": old_external_id},
    )
    await disclosures.forget(session=session, actor=actor, customer_id=customer.id)
    await _destroy_keys(session=session, actor=actor, customer=customer, request_id=request_id)
    counts = {
        "orders": len(dropped),
        "marketing_history": len(history),
        "suppression_entries": suppressed,
        "disclosure_log": sum(d.times for d in disclosed),
    }
    return {
        "erased": _erased(erased_fields, counts),
        "kept": kept,
        "recipients_notified": recipients,
        "disclosed_to": [disclosures.as_outcome(d) for d in disclosed],
    }


def _erased(fields: list[str], counts: dict[str, int]) -> list[dict[str, Any]]:
    """What an erasure took, as its outcome lists it: the customer's fields, then each kind of row it deleted."""
    erased: list[dict[str, Any]] = [{"category": "customer", "fields": sorted(fields)}] if fields else []
    erased += [{"category": category, "count": count} for category, count in counts.items() if count]
    return [*erased, {"category": "request_details"}, {"category": "audit_values"}]


async def forget_requests(*, session: AsyncSession, actor: Actor, customer_id: uuid.UUID | None) -> None:
    """Keep the person's requests as proof they were answered, without the personal values in them."""
    if customer_id is None:
        return
    requests = await session.scalars(
        scoped(SubjectRequest, actor).where(col(SubjectRequest.customer_id) == customer_id)
    )
    for request in requests:
        request.person = {}
        request.details = None
        if "corrections" in request.params:
            request.params = {"fields": sorted(request.params["corrections"])}
        # Staff write reasons and notes about the person: what they said goes, that they said it stays.
        request.refusal_reasons = ERASED_TEXT if request.refusal_reasons else None
        request.extension_reason = ERASED_TEXT if request.extension_reason else None
        outcome = {k: v for k, v in request.outcome.items() if k not in ("identity_note", "identity_reason")}
        if outcome.get("note"):
            outcome["note"] = ERASED_TEXT
        if isinstance(outcome.get("refused"), dict):
            outcome["refused"] = dict.fromkeys(outcome["refused"], ERASED_TEXT)
        request.outcome = outcome
    await session.flush()
