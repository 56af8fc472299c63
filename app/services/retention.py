"""Retention that enforces itself: what the privacy notice promised to delete goes when its time is up.

The rules are the profile's `[[notice.retention]]` entries with `applies_to` (docs/privacy-notice.md):

- `customer`, N years after the end of the customer relationship: the person is anonymised as an erasure
  request would anonymise them, holds and all (an unpaid invoice, vouchers within the Accounting Act period, an
  active business contact) and with the recipients told (Art. 19);
- what a hold kept, once the hold ends: an erased person's orders past the vouchers' period (`orders`, at
  least the law's six years) and the name they carried.

The relationship ends on facts (Art. 5(1)(e)): `relationship_end_date` (or a later order, if the person came
back); with no end date recorded, the last order (or the recorded start, if later), else the day the person
was recorded. That holds for business contacts too: with no end date and no business for the period,
their relationship has ended, and the sweep records the end it counted from. A prohibition, a consent change, an
export or a correction never extends retention. Restricted persons (Art. 18: storage only) and persons with an
open request are left as they are, and reported. Each batch is its own transaction, through
the audited path, so a sweep cut short loses nothing and the next one carries on; a sweep that finds nothing
changes nothing. After the batches, the tables an erasure touches are vacuumed (`vacuum`), so the erased rows'
old versions leave the table files then rather than whenever autovacuum comes by (docs/operator.md).
"""

from __future__ import annotations

import datetime as dt
import logging
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
from app.services import erasure, holds
from app.tenancy import same_tenant, scoped

log = logging.getLogger(__name__)

BATCH = 100
# Every table an erasure updates or deletes rows of (services/erasure.py and what it calls): until VACUUM, the
# old versions of those rows, with the erased values, stay in the table files (PostgreSQL's MVCC).
ERASED_FROM = (
    "customer",
    "customer_order",
    "marketing_event",
    "suppression_entry",
    "disclosure",
    "idempotency_key",
    "webhook_event",
    "subject_request",
    "subject_key",
)
# Which of them this connection's user may vacuum: their owner (or a member of it), a superuser, the database's
# owner, or (PostgreSQL 17) a holder of MAINTAIN. PostgreSQL skips the others with a mere WARNING.
_VACUUMABLE = text("""
    SELECT c.relname FROM pg_class c
    WHERE c.oid = ANY(SELECT to_regclass(t) FROM unnest(CAST(:tables AS text[])) t)
      AND (pg_has_role(c.relowner, 'USAGE')
           OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
           OR pg_has_role((SELECT datdba FROM pg_database WHERE datname = current_database()), 'USAGE')
           OR CASE WHEN current_setting('server_version_num')::int >= 170000
                   THEN has_table_privilege(c.oid, 'MAINTAIN') ELSE false END)
    ORDER BY c.relname
""")
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
    ), ended AS (
        SELECT c.id, c.restricted_at IS NOT NULL AS restricted, c.relationship_end_date IS NULL AS counted,
               (SELECT min(r.due_date) FROM subject_request r
                WHERE r.controller_id = c.controller_id AND r.customer_id = c.id
                  AND r.status::text = ANY(CAST(:open AS text[]))) AS request_due,
               -- Facts only: orders and the recorded dates; never a later prohibition, consent, export or
               -- correction (Art. 5(1)(e): those are not the relationship).
               CASE
                   WHEN c.relationship_end_date IS NOT NULL THEN greatest(c.relationship_end_date, o.day)
                   ELSE coalesce(greatest(o.day, c.relationship_start_date),
                                 (c.created_at AT TIME ZONE 'Europe/Helsinki')::date)
               END AS day
        FROM customer c
        LEFT JOIN last_order o ON o.customer_id = c.id
        WHERE c.controller_id = :controller
          -- An erased business contact with no end date may still be held for a relationship that, on the
          -- facts, has ended: counted here too, so the hold ends with it.
          AND (c.erased_at IS NULL OR (c.kind = 'business' AND c.relationship_end_date IS NULL
                                       AND num_nonnulls(c.email, c.phone, c.title) > 0))
          AND (CAST(:only AS uuid[]) IS NULL OR c.id = ANY(CAST(:only AS uuid[])))
    )
    -- Kept `years` from the end, that day included (a date plus years, as relativedelta counts it too).
    SELECT id, restricted, request_due, counted, day FROM ended
    WHERE (day + make_interval(years => :years))::date < :today ORDER BY day, id
""")


@dataclass(frozen=True)
class Expired:
    """One person whose time is up; the detail names dates and rules, never the person's data."""

    customer_id: uuid.UUID
    reason: str
    detail: str
    ended: dt.date | None = None  # the end counted from the facts, where none was recorded


@dataclass(frozen=True)
class Held:
    """One person past their period but kept on purpose: the rule, and its end where the law gives one."""

    customer_id: uuid.UUID
    rule: str
    until: dt.date | None


@dataclass
class Report:
    """What a sweep of one controller found, and did."""

    controller: str
    customer_years: int | None
    expired: list[Expired] = field(default_factory=list)
    left: dict[str, int] = field(default_factory=dict)
    held: list[Held] = field(default_factory=list)
    anonymised: int = 0


def _rule_years(controller: Controller) -> int | None:
    return ControllerProfile.model_validate(controller.profile).notice.enforced("customer")


async def _relationships_ended(
    *, session: AsyncSession, controller_id: uuid.UUID, years: int, today: dt.date, only: list[uuid.UUID] | None
) -> tuple[list[Expired], dict[str, int], list[Held]]:
    params = {"controller": controller_id, "years": years, "today": today, "only": only, "open": OPEN}
    rows = await session.execute(_EXPIRED, params)
    found: list[Expired] = []
    held: list[Held] = []
    left = {"restricted": 0, "open_request": 0}
    for row in rows:
        if row.restricted or row.request_due is not None:
            # Kept on purpose, and said so: a restriction lasts until it is lifted (Art. 18 sets no end), an open
            # request until it is answered, by its due date (Art. 12(3)).
            # (A restriction while an objection is weighed ends with that request: the request names the end.)
            rule = "open_request" if row.request_due is not None else "restricted"
            left[rule] += 1
            held.append(Held(row.id, rule, row.request_due))
            continue
        until = row.day + relativedelta(years=years)
        detail = f"relationship ended {row.day.isoformat()}; customer data kept {years} years, until {until}"
        found.append(Expired(row.id, RELATIONSHIP_ENDED, detail, row.day if row.counted else None))
    return found, left, held


async def _holds_ended(
    *, session: AsyncSession, controller: Controller, today: dt.date, only: list[uuid.UUID] | None
) -> list[Expired]:
    held = {name for fields in holds.HOLD_FIELDS.values() for name in fields}
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
    rules = await holds.policy(session=session, actor=system_actor(controller.id, ACTOR_NAME))
    return [
        Expired(c.id, HOLD_ENDED, "what an earlier erasure kept is no longer needed: its hold has ended")
        for c in customers
        if holds.would_change(c, orders[c.id], today, rules)
    ]


async def find(*, session: AsyncSession, controller: Controller, today: dt.date) -> Report:
    """What has expired by `today` (nothing is changed)."""
    years = _rule_years(controller)
    report = Report(controller=controller.slug, customer_years=years)
    if years is not None:
        report.expired, report.left, report.held = await _relationships_ended(
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
        ended, _, _ = await _relationships_ended(
            session=session, controller_id=controller_id, years=years, today=today, only=ids
        )
        still |= {e.customer_id for e in ended}
    still |= {e.customer_id for e in await _holds_ended(session=session, controller=controller, today=today, only=ids)}
    for entry in batch:
        if entry.customer_id not in still:
            continue
        customer = customers[entry.customer_id]
        if entry.ended is not None and customer.relationship_end_date is None:
            # The end the sweep counted from, recorded (and audited): the erasure's holds see the same end.
            customer.relationship_end_date = entry.ended
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


async def vacuum(*, session: AsyncSession) -> list[str]:
    """VACUUM the tables an erasure touches, so the erased rows' old versions leave the table files; return them.

    VACUUM cannot run inside a transaction: the session's connection is taken in autocommit, so call this on a
    fresh session, after the batches' transactions have committed. Reads and writes go on while it runs.
    """
    connection = await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    tables = list(await connection.scalars(_VACUUMABLE, {"tables": list(ERASED_FROM)}))
    skipped = sorted(set(ERASED_FROM) - set(tables))
    if skipped:
        log.warning("retention_vacuum_not_permitted", extra={"tables": skipped})
    if tables:
        # INDEX_CLEANUP ON: when few rows died, VACUUM would leave the index entries (an e-mail, a phone number)
        # of the erased rows for a later run. ANALYZE: the planner's statistics sample column values, too.
        await connection.execute(text(f"VACUUM (INDEX_CLEANUP ON, ANALYZE) {', '.join(tables)}"))  # ERASED_FROM
    return tables
