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
from sqlmodel import col

from app.actor import Actor
from app.models.base import utcnow
from app.models.controllers import Controller
from app.models.customers import CONTACT_FIELDS, NAME_FIELDS, POSTAL_FIELDS, Customer, CustomerFields, CustomerKind
from app.models.marketing import MarketingEvent
from app.models.orders import InvoiceStatus, Order
from app.models.profile import MIN_VOUCHER_YEARS, ControllerProfile
from app.models.requests import Complete, SubjectRequest
from app.models.webhooks import EventType
from app.services import deadlines, idempotency, webhooks
from app.subject_keys import destroy_subject_key
from app.tenancy import scoped

ERASED_TEXT = "[erased]"  # stands where staff's free text about an erased person was
VOUCHER_YEARS = MIN_VOUCHER_YEARS  # Accounting Act 1336/1997 2:10(2): from the end of the financial year

HOLD_FIELDS: dict[str, tuple[str, ...]] = {
    # Enough to claim the debt: who owes it and where to reach them by post.
    "open_invoice": ("external_id", "customer_number", *NAME_FIELDS, *POSTAL_FIELDS),
    # The counterparty a voucher names.
    "accounting": ("customer_number", *NAME_FIELDS),
    # The contact person of an ongoing business relationship.
    "business_contact": (*NAME_FIELDS, *CONTACT_FIELDS, "relationship_start_date", "relationship_end_date"),
}
ORDER_FIELDS = ["external_id", "order_date", "lines", "total", "currency", "invoice_status"]
_UNPAID = (InvoiceStatus.open, InvoiceStatus.in_collection)
ERASED_OK = True  # a second request finds what a hold kept, and frees what has since come free
CUSTOMER_OPTIONAL = False


async def on_receipt(*, session: AsyncSession, actor: Actor, request: SubjectRequest, customer: Customer) -> None:
    """Nothing is erased on receipt: the holds are weighed when the request is completed."""


async def carry_out(
    *, session: AsyncSession, actor: Actor, request: SubjectRequest, customer: Customer, data: Complete
) -> dict[str, Any]:
    """Erase all but what a hold keeps; the person's requests keep no personal values either."""
    outcome = await erase(session=session, actor=actor, customer=customer, request_id=request.id)
    await forget_requests(session=session, actor=actor, customer_id=customer.id)
    if data.note:
        outcome["note"] = ERASED_TEXT  # staff's note is about the person: that it was written stays
    return outcome


async def on_refusal(*, session: AsyncSession, actor: Actor, request: SubjectRequest, customer: Customer) -> None:
    """A refused erasure changes nothing; the refusal's reasons name the law that keeps the data."""


def voucher_kept_until(order_date: dt.date, years: int = VOUCHER_YEARS) -> dt.date:
    """The last day an order, as an accounting voucher, must be kept (financial year = calendar year)."""
    return dt.date(order_date.year + max(years, VOUCHER_YEARS), 12, 31)


def _order_hold(reason: str, orders: list[Order], detail: str, until: str | None) -> list[dict[str, Any]]:
    """What a hold on orders keeps: the customer fields that identify the counterparty, and the orders."""
    fields = {"category": "customer", "fields": list(HOLD_FIELDS[reason]), "reason": reason}
    rows = {"category": "orders", "fields": ORDER_FIELDS, "reason": reason, "count": len(orders)}
    return [{**fields, "detail": detail, "until": until}, {**rows, "detail": detail, "until": until}]


def holds(
    customer: Customer, orders: list[Order], today: dt.date, voucher_years: int = VOUCHER_YEARS
) -> tuple[list[dict[str, Any]], set[uuid.UUID]]:
    """What must be kept and why, and which orders stay; `voucher_years` as the profile keeps vouchers."""
    kept: list[dict[str, Any]] = []
    keep_orders: set[uuid.UUID] = set()
    unpaid = [o for o in orders if o.invoice_status in _UNPAID]
    if unpaid:
        # Art. 17(3)(e): legal claims, until settled or time-barred.
        keep_orders |= {o.id for o in unpaid}
        detail = f"{len(unpaid)} open or in-collection invoice(s): kept to establish or defend the claim."
        kept += _order_hold("open_invoice", unpaid, detail, None)
    kept_until = {o.id: voucher_kept_until(o.order_date, voucher_years) for o in orders}
    vouchers = [o for o in orders if o.id not in keep_orders and kept_until[o.id] >= today]
    if vouchers:
        # Art. 17(3)(b): a legal obligation, the Accounting Act 1336/1997 2:10.
        keep_orders |= {o.id for o in vouchers}
        until = max(kept_until[o.id] for o in vouchers).isoformat()
        detail = f"{len(vouchers)} order(s) are accounting vouchers (Accounting Act 1336/1997 2:10)."
        kept += _order_hold("accounting", vouchers, detail, until)
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


async def orders_of(*, session: AsyncSession, actor: Actor, customer: Customer) -> list[Order]:
    """The customer's orders, locked for the erasure."""
    query = scoped(Order, actor).where(Order.customer_id == customer.id)
    return list(await session.scalars(query.with_for_update()))


async def voucher_years(*, session: AsyncSession, actor: Actor) -> int:
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


def _erase_fields(customer: Customer, keep_fields: set[str]) -> list[str]:
    """Blank every customer field no hold keeps; mark the customer erased (once: a repeat keeps the date)."""
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
    today: dt.date | None = None,
) -> dict[str, Any]:
    """Erase the customer's data but what a hold keeps; return what was erased and what was kept, and why.

    `request_id` is the erasure request, if one asked for it (a retention sweep does not).
    """
    today = today or deadlines.today()
    orders = await orders_of(session=session, actor=actor, customer=customer)
    kept, keep_orders = holds(customer, orders, today, await voucher_years(session=session, actor=actor))
    old_external_id = customer.external_id
    erased_fields = _erase_fields(customer, {f for k in kept if k["category"] == "customer" for f in k["fields"]})
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
    recipients = await webhooks.enqueue(
        session=session,
        actor=actor,
        event_type=EventType.customer_erased,
        subject_id=customer.id,
        data={"customer_id": str(customer.id), "external_id": old_external_id},
    )
    await _destroy_keys(session=session, actor=actor, customer=customer, request_id=request_id)
    erased: list[dict[str, Any]] = []
    if erased_fields:
        erased.append({"category": "customer", "fields": sorted(erased_fields)})
    if dropped:
        erased.append({"category": "orders", "count": len(dropped)})
    if history:
        erased.append({"category": "marketing_history", "count": len(history)})
    erased += [{"category": "request_details"}, {"category": "audit_values"}]
    return {"erased": erased, "kept": kept, "recipients_notified": recipients}


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
