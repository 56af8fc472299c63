"""Orders of a customer: record, list, and follow the invoice."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.actor import Actor
from app.errors import Conflict, NotFound, PreconditionFailed, Unprocessable
from app.models.base import utcnow
from app.models.orders import InvoiceStatus, Order, OrderCreate, OrderUpdate
from app.services import deadlines
from app.services.customers import get_customer
from app.tenancy import scoped


async def _external_id_taken(*, session: AsyncSession, actor: Actor, external_id: str) -> bool:
    query = scoped(Order, actor, Order.id).where(Order.external_id == external_id)
    return (await session.scalar(query)) is not None


async def create_order(*, session: AsyncSession, actor: Actor, customer_id: uuid.UUID, data: OrderCreate) -> Order:
    """Record an order for a customer of the actor's controller."""
    customer = await get_customer(session=session, actor=actor, customer_id=customer_id)
    if customer.erased_at is not None:
        raise Conflict("The person's data was erased; what is kept is blocked from every other use.")
    if data.external_id is not None and await _external_id_taken(
        session=session, actor=actor, external_id=data.external_id
    ):
        raise Conflict("An order with this external_id exists already.")
    order = Order(
        controller_id=actor.controller_id,
        customer_id=customer_id,
        external_id=data.external_id,
        order_date=data.order_date,
        lines=[line.model_dump(mode="json") for line in data.lines],
        total=data.total,
        currency=data.currency,
        invoice_status=data.invoice_status,
        invoice_due_date=data.invoice_due_date or data.order_date,
        settled_date=data.settled_date,
        limitation_interrupted_date=data.limitation_interrupted_date,
    )
    _settle(order, now=False)
    session.add(order)
    await session.flush()
    return order


SETTLED = (InvoiceStatus.paid, InvoiceStatus.credited)


def _settle(order: Order, *, now: bool) -> None:
    """A settlement has a date: today where the register learns of it now (`now`), unless given; an order
    recorded as paid without a date leaves it unknown (its voucher counts from the order date). An unpaid
    invoice has no settlement date (422)."""
    if order.invoice_status in SETTLED:
        order.settled_date = order.settled_date or (deadlines.today() if now else None)
    elif order.settled_date is not None:
        raise Unprocessable(
            "settled_date is for a paid or credited invoice; set invoice_status too.", loc=("body", "settled_date")
        )


async def list_orders(
    *,
    session: AsyncSession,
    actor: Actor,
    customer_id: uuid.UUID,
    after: tuple[dt.datetime, uuid.UUID] | None,
    limit: int,
) -> list[Order]:
    """List a customer's orders in the order they were recorded."""
    await get_customer(session=session, actor=actor, customer_id=customer_id)
    query = scoped(Order, actor).where(Order.customer_id == customer_id)
    if after is not None:
        query = query.where(func.row(Order.created_at, Order.id) > func.row(*after))
    query = query.order_by(col(Order.created_at), col(Order.id)).limit(limit)
    return list(await session.scalars(query))


# What settling or collecting an invoice changes: allowed while the person's data is only stored.
_CLAIM_FIELDS = {"invoice_status", "invoice_due_date", "settled_date", "limitation_interrupted_date"}


async def _may_change(*, session: AsyncSession, actor: Actor, order: Order, changes: dict[str, Any]) -> None:
    """A restricted or erased person's orders are only stored: their invoice may still be settled or collected.

    GDPR Art. 18(2) allows processing for legal claims while restricted, and an unpaid invoice is what an
    erasure keeps (Art. 17(3)(e)); every other change is refused.
    """
    others = sorted(set(changes) - _CLAIM_FIELDS)
    if not others:
        return
    customer = await get_customer(session=session, actor=actor, customer_id=order.customer_id)
    if customer.erased_at is not None or customer.restricted_at is not None:
        state = "erased" if customer.erased_at is not None else "restricted (GDPR Art. 18)"
        raise Conflict(
            f"The person's data is {state}: the order is only stored, and only its invoice_status may change "
            f"(not {', '.join(others)})."
        )


async def update_order(
    *, session: AsyncSession, actor: Actor, order_id: uuid.UUID, data: OrderUpdate, expected: set[int] | None
) -> Order:
    """Change an order, typically its invoice status; a stale `expected` version changes nothing."""
    order = await session.scalar(scoped(Order, actor).where(Order.id == order_id).with_for_update())
    if order is None:
        raise NotFound("No such order.")
    if expected is not None and order.version not in expected:
        raise PreconditionFailed("The order has changed since you read it; read it again (ETag).")
    values = data.model_dump(exclude_unset=True, mode="python")
    if values.get("external_id") not in (None, order.external_id) and await _external_id_taken(
        session=session, actor=actor, external_id=values["external_id"]
    ):
        raise Conflict("Another order has this external_id.")
    if "lines" in values:
        values["lines"] = [line.model_dump(mode="json") for line in data.lines or []]
    changes = {
        key: value
        for key, value in values.items()
        # these cannot be cleared
        if not (value is None and key in {"order_date", "lines", "total", "currency", "invoice_status"})
        and getattr(order, key) != value
    }
    await _may_change(session=session, actor=actor, order=order, changes=changes)
    settled_before = order.settled_date
    for key, value in changes.items():
        setattr(order, key, value)
    if "invoice_status" in changes and order.invoice_status not in SETTLED and "settled_date" not in changes:
        order.settled_date = None  # back to unpaid: the settlement was undone
    _settle(order, now="invoice_status" in changes)
    if changes or order.settled_date != settled_before:
        order.version += 1
        order.updated_at = utcnow()
        await session.flush()
    return order
