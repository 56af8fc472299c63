"""Erasure (Art. 17): erase what may go, keep the minimum the law requires, blocked, and say why.

Holds (Art. 17(3)): an open or in-collection invoice (legal claims, (e)); accounting records within the
Accounting Act's period (vouchers six years from the end of the year, 1336/1997 2:10; (b)); a business
contact's details during an active customer relationship. Everything else goes: customer fields, orders past
their period, the marketing history, the personal values in requests and webhook events, and the key that
makes the person's audit values readable.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlmodel import col, select

from app.audit import destroy_subject_key
from app.config import MIN_VOUCHER_YEARS, ControllerProfile
from app.models.base import utcnow
from app.models.controllers import Controller
from app.models.customers import Customer, CustomerFields, CustomerKind
from app.models.marketing import MarketingEvent
from app.models.orders import InvoiceStatus, Order
from app.models.requests import SubjectRequest
from app.models.webhooks import EventType
from app.security import Actor
from app.services import deadlines, idempotency, webhooks

ERASED_TEXT = "[erased]"  # stands where staff's free text about an erased person was
VOUCHER_YEARS = MIN_VOUCHER_YEARS  # Accounting Act 1336/1997 2:10(2): from the end of the financial year

HOLD_FIELDS: dict[str, tuple[str, ...]] = {
    # Enough to claim the debt: who owes it and where to reach them by post.
    "open_invoice": (
        "external_id",
        "customer_number",
        "first_name",
        "last_name",
        "organisation",
        "business_id",
        "street_address",
        "postal_code",
        "city",
        "country",
    ),
    # The counterparty a voucher names.
    "accounting": ("customer_number", "first_name", "last_name", "organisation", "business_id"),
    # The contact person of an ongoing business relationship.
    "business_contact": (
        "first_name",
        "last_name",
        "organisation",
        "title",
        "business_id",
        "email",
        "phone",
        "relationship_start_date",
        "relationship_end_date",
    ),
}
ORDER_FIELDS = ["external_id", "order_date", "lines", "total", "currency", "invoice_status"]
_UNPAID = (InvoiceStatus.open, InvoiceStatus.in_collection)


def voucher_kept_until(order_date: dt.date, years: int = VOUCHER_YEARS) -> dt.date:
    """The last day an order, as an accounting voucher, must be kept (financial year = calendar year)."""
    return dt.date(order_date.year + max(years, VOUCHER_YEARS), 12, 31)


def holds(
    customer: Customer, orders: list[Order], today: dt.date, voucher_years: int = VOUCHER_YEARS
) -> tuple[list[dict[str, Any]], set[uuid.UUID]]:
    """What must be kept and why, and which orders stay; `voucher_years` as the profile keeps vouchers."""
    kept: list[dict[str, Any]] = []
    keep_orders: set[uuid.UUID] = set()
    unpaid = [o for o in orders if o.invoice_status in _UNPAID]
    if unpaid:
        keep_orders |= {o.id for o in unpaid}
        detail = f"{len(unpaid)} open or in-collection invoice(s): kept to establish or defend the claim."
        kept.append(
            {
                "category": "customer",
                "fields": list(HOLD_FIELDS["open_invoice"]),
                "reason": "open_invoice",
                "detail": detail,
                "until": None,
            }
        )
        kept.append(
            {
                "category": "orders",
                "fields": ORDER_FIELDS,
                "reason": "open_invoice",
                "detail": detail,
                "until": None,
                "count": len(unpaid),
            }
        )
    kept_until = {o.id: voucher_kept_until(o.order_date, voucher_years) for o in orders}
    vouchers = [o for o in orders if o.id not in keep_orders and kept_until[o.id] >= today]
    if vouchers:
        keep_orders |= {o.id for o in vouchers}
        until = max(kept_until[o.id] for o in vouchers).isoformat()
        detail = f"{len(vouchers)} order(s) are accounting vouchers (Accounting Act 1336/1997 2:10)."
        kept.append(
            {
                "category": "customer",
                "fields": list(HOLD_FIELDS["accounting"]),
                "reason": "accounting",
                "detail": detail,
                "until": until,
            }
        )
        kept.append(
            {
                "category": "orders",
                "fields": ORDER_FIELDS,
                "reason": "accounting",
                "detail": detail,
                "until": until,
                "count": len(vouchers),
            }
        )
    end = customer.relationship_end_date
    if customer.kind is CustomerKind.business and (end is None or end >= today):
        kept.append(
            {
                "category": "customer",
                "fields": list(HOLD_FIELDS["business_contact"]),
                "reason": "business_contact",
                "detail": "A business contact's details during the active customer relationship.",
                "until": end.isoformat() if end else None,
            }
        )
    return kept, keep_orders


async def orders_of(session: AsyncSession, actor: Actor, customer: Customer) -> list[Order]:
    """The customer's orders, locked for the erasure."""
    query = select(Order).where(Order.controller_id == actor.controller_id, Order.customer_id == customer.id)
    return list(await session.scalars(query.with_for_update()))


async def voucher_years(session: AsyncSession, actor: Actor) -> int:
    """How long the controller keeps vouchers: the law's six years, or longer if its profile says so."""
    controller = await session.get(Controller, actor.controller_id)
    assert controller is not None
    return max(VOUCHER_YEARS, ControllerProfile.model_validate(controller.profile).notice.enforced("orders") or 0)


def would_change(customer: Customer, orders: list[Order], today: dt.date, years: int) -> bool:
    """Whether erasing now would take anything more: a hold that has ended frees what it kept."""
    kept, keep_orders = holds(customer, orders, today, years)
    keep_fields = {f for k in kept if k["category"] == "customer" for f in k["fields"]}
    fields = (n for n in CustomerFields.model_fields if n != "kind" and n not in keep_fields)
    return any(getattr(customer, n) is not None for n in fields) or any(o.id not in keep_orders for o in orders)


async def erase(
    *,
    session: AsyncSession,
    actor: Actor,
    customer: Customer,
    request_id: uuid.UUID | None,
    today: dt.date | None = None,
) -> dict[str, Any]:
    """Erase the customer's data but what a hold keeps; return what was erased and what was kept, and why.

    `request_id` is the erasure request, if one asked for it (a retention sweep does not).
    """
    today = today or deadlines.today()
    orders = await orders_of(session, actor, customer)
    kept, keep_orders = holds(customer, orders, today, await voucher_years(session, actor))
    keep_fields = {f for k in kept if k["category"] == "customer" for f in k["fields"]}
    old_external_id = customer.external_id

    erased_fields = []
    for name in CustomerFields.model_fields:
        if name == "kind" or name in keep_fields or getattr(customer, name) is None:
            continue
        setattr(customer, name, None)
        erased_fields.append(name)
    now = utcnow()
    if erased_fields or customer.restriction_notice is not None or customer.erased_at is None:
        customer.version += 1
        customer.updated_at = now
    customer.restriction_notice = None
    # Erased once, erased since then: a repeated request does not move the date.
    customer.erased_at = customer.erased_at or now

    dropped = [o for o in orders if o.id not in keep_orders]
    for order in dropped:
        await session.delete(order)
    history = list(
        await session.scalars(
            select(MarketingEvent).where(
                MarketingEvent.controller_id == actor.controller_id, MarketingEvent.customer_id == customer.id
            )
        )
    )
    for entry in history:
        await session.delete(entry)
    await session.flush()
    await webhooks.forget_subject(session=session, actor=actor, subject_id=customer.id)
    await idempotency.forget_subject(session=session, actor=actor, subject_id=customer.id)
    recipients = await webhooks.enqueue(
        session=session,
        actor=actor,
        event_type=EventType.customer_erased,
        subject_id=customer.id,
        data={"customer_id": str(customer.id), "external_id": old_external_id},
    )
    subjects = {customer.id, *([request_id] if request_id else [])} | set(
        await session.scalars(
            select(SubjectRequest.id).where(
                SubjectRequest.controller_id == actor.controller_id, SubjectRequest.customer_id == customer.id
            )
        )
    )

    def destroy(sync_session: Session) -> None:
        for subject_id in subjects:
            destroy_subject_key(sync_session, actor.controller_id, subject_id)

    await session.run_sync(destroy)

    erased: list[dict[str, Any]] = []
    if erased_fields:
        erased.append({"category": "customer", "fields": sorted(erased_fields)})
    if dropped:
        erased.append({"category": "orders", "count": len(dropped)})
    if history:
        erased.append({"category": "marketing_history", "count": len(history)})
    erased.append({"category": "request_details"})
    erased.append({"category": "audit_values"})
    return {"erased": erased, "kept": kept, "recipients_notified": recipients}


async def forget_requests(*, session: AsyncSession, actor: Actor, customer_id: uuid.UUID | None) -> None:
    """Keep the person's requests as proof they were answered, without the personal values in them."""
    if customer_id is None:
        return
    requests = await session.scalars(
        select(SubjectRequest).where(
            SubjectRequest.controller_id == actor.controller_id,
            col(SubjectRequest.customer_id) == customer_id,
        )
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
