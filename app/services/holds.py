"""What an erasure must keep, why, and until when (GDPR Art. 17(1) and (3)); the rest goes.

- An unpaid invoice (open or in collection) is a legal claim (Art. 17(3)(e)): kept until it is settled or
  time-barred, three years from its due date, or from the last interruption (Act on the limitation of debts
  728/2003, sections 4, 10 and 11). An invoice with no due date on record (recorded before due dates were kept)
  is kept until settled, as it always was, and the answer says a due date would end it.
- Accounting vouchers (Art. 17(3)(b), a legal obligation): six years from the end of the year in which the
  financial year ended (Accounting Act 1336/1997, chapter 2, section 10), counted from the financial year of the
  order, or of its settlement when later; the controller's financial year from its profile (default: the
  calendar year).
- A business contact's details while the business relationship goes on. This is no Art. 17(3) exception: it
  means the details are still necessary, which answers only the grounds that turn on necessity, 17(1)(a) (no
  longer necessary) and (c) (an objection, weighed against the relationship). Against (b) consent withdrawn,
  (d) unlawful processing, (e) a legal obligation to erase and (f) a child's data it keeps nothing. Staff may
  release it with reasons (kept with the request, audited). docs/requests.md says why.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.models.controllers import Controller
from app.models.customers import CONTACT_FIELDS, NAME_FIELDS, POSTAL_FIELDS, Customer, CustomerFields, CustomerKind
from app.models.orders import InvoiceStatus, Order
from app.models.profile import MIN_VOUCHER_YEARS, ControllerProfile
from app.models.requests import ErasureGround

VOUCHER_YEARS = MIN_VOUCHER_YEARS  # Accounting Act 1336/1997 2:10(2): from the end of the financial year
LIMITATION_YEARS = 3  # Act 728/2003 s. 4: the general limitation period of a debt
HOLD_FIELDS: dict[str, tuple[str, ...]] = {
    # Enough to claim the debt: who owes it and where to reach them by post.
    "open_invoice": ("external_id", "customer_number", *NAME_FIELDS, *POSTAL_FIELDS),
    # The counterparty a voucher names.
    "accounting": ("customer_number", *NAME_FIELDS),
    # The contact person of an ongoing business relationship.
    "business_contact": (*NAME_FIELDS, *CONTACT_FIELDS, "relationship_start_date", "relationship_end_date"),
}
ORDER_FIELDS = ["external_id", "order_date", "lines", "total", "currency", "invoice_status"]
UNPAID = (InvoiceStatus.open, InvoiceStatus.in_collection)
# The grounds a relationship's need can answer (Art. 17(1)(a), (c)); the sweep's is (a): no longer needed.
NECESSITY_GROUNDS = (ErasureGround.no_longer_necessary, ErasureGround.objection)


@dataclass(frozen=True)
class Policy:
    """What decides the holds besides the person's data: the controller's periods and the request's ground."""

    voucher_years: int = VOUCHER_YEARS
    financial_year_start: tuple[int, int] = (1, 1)  # (month, day)
    ground: ErasureGround = ErasureGround.no_longer_necessary  # a retention sweep: the period has run out
    release_business_contact: str | None = None  # staff's reasons for erasing a live business contact anyway


async def policy(
    *,
    session: AsyncSession,
    actor: Actor,
    ground: ErasureGround = ErasureGround.no_longer_necessary,
    release_business_contact: str | None = None,
) -> Policy:
    """The holds' policy for the actor's controller: its profile's periods, and the ground weighed."""
    controller = await session.get(Controller, actor.controller_id)
    assert controller is not None
    profile = ControllerProfile.model_validate(controller.profile)
    return Policy(
        voucher_years=max(VOUCHER_YEARS, profile.notice.enforced("orders") or 0),
        financial_year_start=profile.controller.financial_year_first_day(),
        ground=ground,
        release_business_contact=release_business_contact,
    )


def financial_year_end(day: dt.date, start: tuple[int, int]) -> dt.date:
    """The last day of the financial year that `day` falls in, for a year starting on `start` (month, day)."""
    first = dt.date(day.year, *start)
    next_first = first if first > day else dt.date(day.year + 1, *start)
    return next_first - dt.timedelta(days=1)


def voucher_kept_until(order: Order, policy: Policy) -> dt.date:
    """The last day an order, as an accounting voucher, must be kept (1336/1997 2:10)."""
    booked = max(order.order_date, order.settled_date or order.order_date)
    ended = financial_year_end(booked, policy.financial_year_start)
    return dt.date(ended.year + max(policy.voucher_years, VOUCHER_YEARS), 12, 31)


def claim_until(order: Order) -> dt.date | None:
    """The day an unpaid invoice becomes time-barred (728/2003 ss. 4, 10, 11); None with no due date on record."""
    if order.invoice_due_date is None:
        return None
    start = max(order.invoice_due_date, order.limitation_interrupted_date or order.invoice_due_date)
    return start + relativedelta(years=LIMITATION_YEARS)


def _order_hold(reason: str, orders: list[Order], detail: str, until: str | None) -> list[dict[str, Any]]:
    """What a hold on orders keeps: the customer fields that identify the counterparty, and the orders."""
    fields = {"category": "customer", "fields": list(HOLD_FIELDS[reason]), "reason": reason}
    rows = {"category": "orders", "fields": ORDER_FIELDS, "reason": reason, "count": len(orders)}
    return [{**fields, "detail": detail, "until": until}, {**rows, "detail": detail, "until": until}]


def _claims(orders: list[Order], today: dt.date) -> tuple[list[dict[str, Any]], set[uuid.UUID]]:
    """Art. 17(3)(e): unpaid invoices, until settled or time-barred."""
    unpaid = [(o, claim_until(o)) for o in orders if o.invoice_status in UNPAID]
    live = [(o, until) for o, until in unpaid if until is None or until >= today]
    if not live:
        return [], set()
    ends = [until for _, until in live]
    until = None if None in ends else max(e for e in ends if e is not None)
    detail = (
        f"{len(live)} unpaid invoice(s), open or in debt collection: kept to establish or defend the claim until "
        "it is settled or time-barred (three years from the due date unless the limitation is interrupted, "
        "Act 728/2003)."
    )
    if until is None:
        detail += " An invoice has no due date on record: it is kept until settled, or until a due date is set."
    held = [o for o, _ in live]
    return _order_hold("open_invoice", held, detail, until.isoformat() if until else None), {o.id for o in held}


def _business_contact(customer: Customer, today: dt.date, policy: Policy) -> list[dict[str, Any]]:
    """A live business relationship answers only the grounds that turn on necessity (17(1)(a), (c))."""
    end = customer.relationship_end_date
    live = customer.kind is CustomerKind.business and (end is None or end >= today)
    if not live or policy.ground not in NECESSITY_GROUNDS or policy.release_business_contact is not None:
        return []
    detail = (
        "A business contact's details, still necessary while the business relationship with the organisation "
        "goes on; weighed against the ground given, " + policy.ground.value + "."
    )
    return [
        {
            "category": "customer",
            "fields": list(HOLD_FIELDS["business_contact"]),
            "reason": "business_contact",
            "ground": policy.ground.value,
            "detail": detail,
            "until": end.isoformat() if end else None,
        }
    ]


def holds(
    customer: Customer, orders: list[Order], today: dt.date, policy: Policy
) -> tuple[list[dict[str, Any]], set[uuid.UUID]]:
    """What must be kept and why, and which orders stay."""
    kept, keep_orders = _claims(orders, today)
    kept_until = {o.id: voucher_kept_until(o, policy) for o in orders}
    vouchers = [o for o in orders if o.id not in keep_orders and kept_until[o.id] >= today]
    if vouchers:
        # Art. 17(3)(b): a legal obligation, the Accounting Act 1336/1997 2:10.
        keep_orders |= {o.id for o in vouchers}
        until = max(kept_until[o.id] for o in vouchers).isoformat()
        detail = (
            f"{len(vouchers)} order(s) are accounting vouchers, kept six years from the end of the year in which "
            "the financial year ended (Accounting Act 1336/1997, chapter 2, section 10)."
        )
        kept += _order_hold("accounting", vouchers, detail, until)
    kept += _business_contact(customer, today, policy)
    return kept, keep_orders


def kept_fields(kept: list[dict[str, Any]]) -> set[str]:
    """The customer fields some hold keeps."""
    return {f for k in kept if k["category"] == "customer" for f in k["fields"]}


def would_change(customer: Customer, orders: list[Order], today: dt.date, policy: Policy) -> bool:
    """Whether erasing now would take anything more: a hold that has ended frees what it kept."""
    kept, keep_orders = holds(customer, orders, today, policy)
    keep = kept_fields(kept)
    fields = (n for n in CustomerFields.model_fields if n != "kind" and n not in keep)
    return any(getattr(customer, n) is not None for n in fields) or any(o.id not in keep_orders for o in orders)
