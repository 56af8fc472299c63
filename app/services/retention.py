"""Retention that enforces itself: what the privacy notice promised to delete goes when its time is up.

The rules are the profile's `[[notice.retention]]` entries with `applies_to` (docs/privacy-notice.md):

- `customer`, N years after the end of the customer relationship: the person is anonymised as an erasure
  request would anonymise them, holds and all (an unpaid invoice, vouchers within the Accounting Act period, an
  active business contact) and with the recipients told (Art. 19);
- what a hold kept, once the hold ends: an erased person's orders past the vouchers' period (`orders`, at
  least the law's six years) and the name they carried.

The end of the relationship is `relationship_end_date` (or a later order, if the person came back); a private
person with no end date is a customer until their last order, change or marketing choice; a business contact
with no end date is an active relationship, never expired. Restricted persons (Art. 18: storage only) and
persons with an open request are left as they are, and reported. Each batch is its own transaction, through
the audited path, so a sweep cut short loses nothing and the next one carries on; a sweep that finds nothing
changes nothing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from dateutil.relativedelta import relativedelta
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, exists, or_, select

from app.actor import attach, system_actor
from app.models.controllers import Controller
from app.models.customers import Customer
from app.models.orders import Order
from app.models.profile import ControllerProfile
from app.models.requests import OPEN_STATUSES
from app.services import erasure
from app.tenancy import same_tenant, scoped

BATCH = 100
OPEN = [status.value for status in OPEN_STATUSES]
ACTOR_NAME = "retention sweep"
RELATIONSHIP_ENDED = "relationship_ended"
HOLD_ENDED = "hold_ended"

# When the relationship ended, per customer; NULL while it goes on. Dates are Finnish calendar days.
_EXPIRED = text("""
    WITH last_order AS (
        SELECT customer_id, max(order_date) AS day FROM customer_order
        WHERE controller_id = :controller
          AND (CAST(:only AS uuid[]) IS NULL OR customer_id = ANY(CAST(:only AS uuid[])))
        GROUP BY customer_id
    ), last_choice AS (
        SELECT customer_id, max((occurred_at AT TIME ZONE 'Europe/Helsinki')::date) AS day FROM marketing_event
        WHERE controller_id = :controller
          AND (CAST(:only AS uuid[]) IS NULL OR customer_id = ANY(CAST(:only AS uuid[])))
        GROUP BY customer_id
    ), ended AS (
        SELECT c.id, c.restricted_at IS NOT NULL AS restricted,
               EXISTS (SELECT 1 FROM subject_request r
                       WHERE r.controller_id = c.controller_id AND r.customer_id = c.id
                         AND r.status::text = ANY(CAST(:open AS text[]))) AS open_request,
               CASE
                   WHEN c.relationship_end_date IS NOT NULL THEN greatest(c.relationship_end_date, o.day)
                   WHEN c.kind = 'business' THEN NULL
                   ELSE greatest(o.day, m.day,
                                 (coalesce(c.updated_at, c.created_at) AT TIME ZONE 'Europe/Helsinki')::date)
               END AS day
        FROM customer c
        LEFT JOIN last_order o ON o.customer_id = c.id
        LEFT JOIN last_choice m ON m.customer_id = c.id
        WHERE c.controller_id = :controller AND c.erased_at IS NULL
          AND (CAST(:only AS uuid[]) IS NULL OR c.id = ANY(CAST(:only AS uuid[])))
    )
    -- Kept `years` from the end, that day included (a date plus years, as relativedelta counts it too).
    SELECT id, restricted, open_request, day FROM ended
    WHERE (day + make_interval(years => :years))::date < :today ORDER BY day, id
""")


@dataclass(frozen=True)
class Expired:
    """One person whose time is up; the detail names dates and rules, never the person's data."""

    customer_id: uuid.UUID
    reason: str
    detail: str


@dataclass
class Report:
    """What a sweep of one controller found, and did."""

    controller: str
    customer_years: int | None
    expired: list[Expired] = field(default_factory=list)
    left: dict[str, int] = field(default_factory=dict)
    anonymised: int = 0


def _rule_years(controller: Controller) -> int | None:
    return ControllerProfile.model_validate(controller.profile).notice.enforced("customer")


async def _relationships_ended(
    *, session: AsyncSession, controller_id: uuid.UUID, years: int, today: dt.date, only: list[uuid.UUID] | None
) -> tuple[list[Expired], dict[str, int]]:
    params = {"controller": controller_id, "years": years, "today": today, "only": only, "open": OPEN}
    rows = await session.execute(_EXPIRED, params)
    found: list[Expired] = []
    left = {"restricted": 0, "open_request": 0}
    for row in rows:
        if row.restricted or row.open_request:
            left["restricted" if row.restricted else "open_request"] += 1
            continue
        until = row.day + relativedelta(years=years)
        detail = f"relationship ended {row.day.isoformat()}; customer data kept {years} years, until {until}"
        found.append(Expired(row.id, RELATIONSHIP_ENDED, detail))
    return found, left


async def _holds_ended(
    *, session: AsyncSession, controller: Controller, today: dt.date, only: list[uuid.UUID] | None
) -> list[Expired]:
    held = {name for fields in erasure.HOLD_FIELDS.values() for name in fields}
    has_orders = exists().where(same_tenant(Order, Customer), col(Order.customer_id) == col(Customer.id))
    query = scoped(Customer, controller.id).where(
        col(Customer.erased_at).is_not(None),
        col(Customer.restricted_at).is_(None),
        or_(has_orders, *(col(getattr(Customer, name)).is_not(None) for name in sorted(held))),
    )
    if only is not None:
        query = query.where(col(Customer.id).in_(only))
    customers = list(await session.scalars(query.order_by(col(Customer.id))))
    orders: dict[uuid.UUID, list[Order]] = {c.id: [] for c in customers}
    if customers:
        kept = scoped(Order, controller.id).where(col(Order.customer_id).in_(list(orders)))
        for order in await session.scalars(kept):
            orders[order.customer_id].append(order)
    years = await erasure.voucher_years(session=session, actor=system_actor(controller.id, ACTOR_NAME))
    return [
        Expired(c.id, HOLD_ENDED, "what an earlier erasure kept is no longer needed: its hold has ended")
        for c in customers
        if erasure.would_change(c, orders[c.id], today, years)
    ]


async def find(*, session: AsyncSession, controller: Controller, today: dt.date) -> Report:
    """What has expired by `today` (nothing is changed)."""
    years = _rule_years(controller)
    report = Report(controller=controller.slug, customer_years=years)
    if years is not None:
        report.expired, report.left = await _relationships_ended(
            session=session, controller_id=controller.id, years=years, today=today, only=None
        )
    report.expired += await _holds_ended(session=session, controller=controller, today=today, only=None)
    return report


async def expired(*, session: AsyncSession, controller_id: uuid.UUID, today: dt.date) -> Report:
    """What has expired by `today` for one controller (nothing is changed)."""
    controller = await session.get(Controller, controller_id)
    assert controller is not None
    return await find(session=session, controller=controller, today=today)


async def anonymise(
    *, session: AsyncSession, controller_id: uuid.UUID, years: int | None, batch: list[Expired], today: dt.date
) -> int:
    """Erase one batch, each person checked again under lock (the register moved on); how many were erased.

    A batch at a time, each in its own transaction (app.worker), so a sweep cut short loses nothing.
    """
    actor = system_actor(controller_id, ACTOR_NAME)
    done = 0
    attach(session, actor)
    controller = await session.get(Controller, controller_id)
    assert controller is not None
    ids = [e.customer_id for e in batch]
    locked = scoped(Customer, controller_id).where(col(Customer.id).in_(ids))
    customers = {c.id: c for c in await session.scalars(locked.with_for_update())}
    still = set()
    if years is not None:
        ended, _ = await _relationships_ended(
            session=session, controller_id=controller_id, years=years, today=today, only=ids
        )
        still |= {e.customer_id for e in ended}
    still |= {e.customer_id for e in await _holds_ended(session=session, controller=controller, today=today, only=ids)}
    for entry in batch:
        if entry.customer_id not in still:
            continue
        customer = customers[entry.customer_id]
        await erasure.erase(session=session, actor=actor, customer=customer, request_id=None, today=today)
        await erasure.forget_requests(session=session, actor=actor, customer_id=customer.id)
        done += 1
    return done


async def controllers(*, session: AsyncSession, slug_or_id: str | None) -> list[Controller]:
    """The controllers to sweep: one, or all."""
    query = select(Controller).order_by(col(Controller.slug))
    if slug_or_id is not None:
        try:
            query = query.where(Controller.id == uuid.UUID(slug_or_id))
        except ValueError:
            query = query.where(Controller.slug == slug_or_id)
    return list(await session.scalars(query))
