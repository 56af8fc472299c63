"""Customers: create, find, change and delete, always within the actor's controller."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import false, func, or_, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from sqlmodel.sql.expression import SelectOfScalar

from app.actor import Actor
from app.errors import Conflict, NotFound, PreconditionFailed, Unprocessable
from app.models.base import utcnow
from app.models.customers import IDENTIFYING, Customer, CustomerCreate, CustomerFields, CustomerKind, CustomerUpdate
from app.models.orders import Order
from app.models.requests import SubjectRequest
from app.services import disclosures
from app.tenancy import scoped
from app.validators import normalise_phone

_DATA_FIELDS = tuple(CustomerFields.model_fields)


def check_version(current: int, expected: set[int] | None) -> None:
    """Refuse a write made against a version other than the current one."""
    if expected is not None and current not in expected:
        raise PreconditionFailed("The customer has changed since you read it; read it again (ETag).")


def _check_consistent(customer: Customer) -> None:
    start, end = customer.relationship_start_date, customer.relationship_end_date
    if start is not None and end is not None and end < start:
        raise Unprocessable(
            "relationship_end_date is before relationship_start_date.", loc=("body", "relationship_end_date")
        )
    if not any(getattr(customer, name) for name in IDENTIFYING):
        raise Unprocessable("Keep at least one of " + ", ".join(IDENTIFYING) + ".")


async def _external_id_taken(*, session: AsyncSession, actor: Actor, external_id: str, but: uuid.UUID | None) -> bool:
    query = scoped(Customer, actor, Customer.id).where(Customer.external_id == external_id)
    if but is not None:
        query = query.where(Customer.id != but)
    return (await session.scalar(query)) is not None


def _lock_key(actor: Actor, name: str) -> int:
    digest = hashlib.sha256(f"customer-external-id:{actor.controller_id}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def lock_external_ids(*, session: AsyncSession, actor: Actor, external_ids: Iterable[str] | None) -> None:
    """Serialise the writers of these external ids until commit, so that two upserts of a new one do not both
    insert; None: of every external id of the controller.

    A writer of a few ids takes the controller's external-id lock shared and a lock of each id, in one order (two
    writers cannot deadlock on them); a large import takes the controller's lock alone, exclusively, so that
    however many ids it has it holds one lock (PostgreSQL's lock table is small)."""
    everything = _lock_key(actor, "*")
    if external_ids is None:
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": everything})
        return
    await session.execute(
        text(
            "SELECT CASE WHEN n = 1 THEN pg_advisory_xact_lock_shared(k)::text ELSE pg_advisory_xact_lock(k)::text "
            "END FROM unnest(CAST(:keys AS bigint[])) WITH ORDINALITY AS t(k, n)"
        ),
        {"keys": [everything, *sorted({_lock_key(actor, e) for e in external_ids})]},
    )


async def create_customer(*, session: AsyncSession, actor: Actor, data: CustomerCreate) -> Customer:
    """Add a customer to the register."""
    if data.external_id is not None:
        await lock_external_ids(session=session, actor=actor, external_ids=(data.external_id,))
        if await _external_id_taken(session=session, actor=actor, external_id=data.external_id, but=None):
            raise Conflict("A customer with this external_id exists already; use PUT by-external-id to upsert.")
    values = data.model_dump(exclude_unset=True)
    values["kind"] = values.get("kind") or CustomerKind.private
    customer = Customer(controller_id=actor.controller_id, **values)
    record_sources(customer, values)
    session.add(customer)
    await session.flush()
    return customer


async def get_customer(
    *, session: AsyncSession, actor: Actor, customer_id: uuid.UUID, for_update: bool = False
) -> Customer:
    """Return one customer of the actor's controller."""
    query = scoped(Customer, actor).where(Customer.id == customer_id)
    if for_update:
        query = query.with_for_update()
    customer = await session.scalar(query)
    if customer is None:
        raise NotFound("No such customer.")
    return customer


def _search(
    query: SelectOfScalar[Customer],
    *,
    email: str | None,
    phone: str | None,
    name: str | None,
    external_id: str | None,
) -> SelectOfScalar[Customer]:
    if email is not None:
        query = query.where(col(Customer.email) == email.strip().lower())
    if phone is not None:
        try:
            e164: str | None = normalise_phone(phone)
        except ValueError:
            e164 = None  # not a phone number, so no customer has it
        query = query.where(col(Customer.phone) == e164) if e164 else query.where(false())
    if external_id is not None:
        query = query.where(col(Customer.external_id) == external_id)
    if name is not None:
        pattern = "%" + name.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        full_name = func.concat_ws(" ", Customer.first_name, Customer.last_name)
        query = query.where(or_(full_name.ilike(pattern), col(Customer.organisation).ilike(pattern)))
    return query


async def list_customers(
    *,
    session: AsyncSession,
    actor: Actor,
    after: tuple[dt.datetime, uuid.UUID] | None,
    limit: int,
    email: str | None = None,
    phone: str | None = None,
    name: str | None = None,
    external_id: str | None = None,
) -> list[Customer]:
    """List customers in the order they were added, optionally filtered."""
    # Erased customers are blocked from every other use: not listed, not found by search.
    query = scoped(Customer, actor).where(col(Customer.erased_at).is_(None))
    query = _search(query, email=email, phone=phone, name=name, external_id=external_id)
    if after is not None:
        query = query.where(func.row(Customer.created_at, Customer.id) > func.row(*after))
    query = query.order_by(col(Customer.created_at), col(Customer.id)).limit(limit)
    return list(await session.scalars(query))


def check_editable(customer: Customer, fields: set[str]) -> None:
    """Refuse changes an erased or restricted customer may not have (only a contested field may be corrected)."""
    # A business contact kept during an active relationship: recording its end is what lets the hold end
    # (the retention sweep then erases what was kept).
    ends_a_hold = fields == {"relationship_end_date"} and customer.kind is CustomerKind.business
    if customer.erased_at is not None and not ends_a_hold:
        raise Conflict(
            "The person's data was erased; what is kept is blocked from every other use (a business "
            "contact's relationship_end_date aside, which ends its hold)."
        )
    if customer.restricted_at is not None:
        blocked = sorted(fields - set(customer.restriction_fields))
        if blocked:
            raise Conflict(
                "Processing is restricted (GDPR Art. 18): only the contested fields may be corrected; "
                "not " + ", ".join(blocked) + "."
            )


def record_sources(customer: Customer, written: Iterable[str], source: str | None = None) -> None:
    """Note where the written fields' values came from (Art. 15(1)(g), 20(1)): `source`, else the customer's."""
    source = source or (customer.source.value if customer.source is not None else None)
    if source is None:
        return
    noted = {name: source for name in written if name not in _NOT_DATA and getattr(customer, name) is not None}
    if noted:
        customer.field_sources = {**customer.field_sources, **noted}


_NOT_DATA = frozenset({"source", "kind"})


def apply(customer: Customer, values: dict[str, Any], *, source: str | None = None) -> bool:
    """Set the given fields, noting where each came from; bump the version when anything changed."""
    changed = [key for key, value in values.items() if getattr(customer, key) != value]
    for key in changed:
        setattr(customer, key, values[key])
    if changed:
        record_sources(customer, changed, source)
        _check_consistent(customer)
        customer.version += 1
        customer.updated_at = utcnow()
    return bool(changed)


async def update_customer(
    *,
    session: AsyncSession,
    actor: Actor,
    customer_id: uuid.UUID,
    data: CustomerUpdate,
    expected: set[int] | None,
) -> Customer:
    """Change the given fields; a stale `expected` version changes nothing."""
    customer = await get_customer(session=session, actor=actor, customer_id=customer_id, for_update=True)
    check_version(customer.version, expected)
    values = data.model_dump(exclude_unset=True)
    new_external_id = values.get("external_id")
    if new_external_id is not None and new_external_id != customer.external_id:
        await lock_external_ids(session=session, actor=actor, external_ids=(new_external_id,))
        if await _external_id_taken(session=session, actor=actor, external_id=new_external_id, but=customer.id):
            raise Conflict("Another customer has this external_id.")
    check_editable(customer, {k for k, v in values.items() if getattr(customer, k) != v})
    apply(customer, values)
    await session.flush()
    return customer


async def upsert_by_external_id(
    *,
    session: AsyncSession,
    actor: Actor,
    external_id: str,
    data: CustomerCreate,
    expected: set[int] | None,
    must_exist: bool = False,
) -> tuple[Customer, bool]:
    """Create or replace the customer with this external id; return it and whether it was created."""
    await lock_external_ids(session=session, actor=actor, external_ids=(external_id,))
    customer = await session.scalar(
        scoped(Customer, actor).where(Customer.external_id == external_id).with_for_update()
    )
    values = dict.fromkeys(_DATA_FIELDS) | data.model_dump(exclude_unset=True)
    values["external_id"] = external_id
    values["kind"] = values.get("kind") or CustomerKind.private
    if customer is None:
        if must_exist:
            raise PreconditionFailed("No customer has this external_id, so If-Match cannot match.")
        customer = Customer.model_validate(values | {"controller_id": actor.controller_id})
        session.add(customer)
        await session.flush()
        return customer, True
    check_version(customer.version, expected)
    check_editable(customer, {k for k, v in values.items() if getattr(customer, k) != v})
    apply(customer, values)
    await session.flush()
    return customer, False


async def delete_customer(
    *, session: AsyncSession, actor: Actor, customer_id: uuid.UUID, expected: set[int] | None
) -> None:
    """Delete a customer who has no orders, and destroy their audit key."""
    from app.subject_keys import destroy_subject_key

    customer = await get_customer(session=session, actor=actor, customer_id=customer_id, for_update=True)
    check_version(customer.version, expected)
    if customer.erased_at is not None or customer.restricted_at is not None:
        raise Conflict("The customer is erased or restricted; the data may only be stored as it is.")
    has_orders = await session.scalar(scoped(Order, actor, Order.id).where(Order.customer_id == customer_id).limit(1))
    if has_orders is not None:
        # Orders are accounting records (Accounting Act 1336/1997 2:10); what may go is decided by erasure.
        raise Conflict("The customer has orders; use an erasure request, which keeps what the law requires.")
    has_requests = await session.scalar(
        scoped(SubjectRequest, actor, SubjectRequest.id).where(SubjectRequest.customer_id == customer_id).limit(1)
    )
    if has_requests is not None:
        # The requests are the proof that the person was answered; erasure keeps them without the values.
        raise Conflict("The customer has data subject requests; use an erasure request, which keeps them as proof.")
    await session.delete(customer)
    await session.flush()
    await disclosures.forget(session=session, actor=actor, customer_id=customer_id)
    await session.run_sync(lambda s: destroy_subject_key(s, actor.controller_id, customer_id))
