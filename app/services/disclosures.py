"""The disclosure log (GDPR Art. 15(1)(c), 19, 30(1)(d); CJEU C-154/21): every time data about a person leaves
the service to a named recipient of the controller's register, an entry (recipient, its name then, categories of
data, channel, reference, when), written in the transaction that sends the data; read per person, summed up per
recipient for the access answer and the letters, and erased with the person's data.

The channels: a webhook delivery (the worker, when the receiver took it), an access or portability export
downloaded by a key tied to a recipient, and the marketing checks (one person, or a campaign list) answered to
such a key. The erasure event itself is never logged: it carries only the identifiers the recipient already
holds, so that it can erase them, and an entry would keep a trace of a person whose data is gone.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, text, union
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app import audit
from app.actor import Actor
from app.errors import NotFound, Unprocessable
from app.models.api_keys import ApiKey
from app.models.audit import AuditAction
from app.models.controllers import Controller
from app.models.customers import Customer
from app.models.disclosures import Disclosure, DisclosureChannel
from app.models.exports import ExportKind
from app.models.recipients import ProfileRecipient
from app.models.webhooks import EventType, Webhook
from app.services import exports, notice_text
from app.services.deadlines import local_date
from app.tenancy import Tenant, controller_of, owned, scoped

# The categories of data an entry names (docs/exports.md; their words in app/data/exports/texts.toml).
IDENTIFIERS = "identifiers"  # the register's id for the person, and the calling system's (external_id)
_EVENT_CATEGORIES: dict[str, tuple[str, ...]] = {
    EventType.marketing_changed.value: (IDENTIFIERS, "marketing"),
    EventType.customer_restricted.value: (IDENTIFIERS, "restriction"),
    EventType.customer_restriction_lifted.value: (IDENTIFIERS, "restriction"),
}
# An access export holds all the person's data; a portability export what they provided (Art. 20).
EXPORT_CATEGORIES: dict[str, tuple[str, ...]] = {
    "access": ("customer", "orders", "marketing", "requests", "audit_history"),
    "portability": ("provided", "orders", "marketing"),
}
# A marketing check answers whether the person may be marketed to on a channel: their marketing choices.
CHECK_CATEGORIES = (IDENTIFIERS, "marketing")


def event_categories(event_type: str, data: dict[str, Any]) -> list[str] | None:
    """The categories of data a webhook event carries; None for the erasure event, which is not logged."""
    if event_type == EventType.customer_erased.value:
        return None
    if event_type == EventType.customer_rectified.value:
        return [IDENTIFIERS, *sorted(data.get("fields") or {})]
    return list(_EVENT_CATEGORIES.get(event_type, (IDENTIFIERS,)))


def register_of(profile: dict[str, Any]) -> dict[str, ProfileRecipient]:
    """The recipients of a profile's register by id (a profile kept as JSON: each entry validated as read)."""
    found: dict[str, ProfileRecipient] = {}
    for entry in profile.get("recipients") or []:
        try:
            recipient = ProfileRecipient.model_validate(entry)
        except ValidationError:
            continue  # a version kept under rules since tightened: the log still has the name it was given
        found[recipient.id] = recipient
    return found


async def register(*, session: AsyncSession, tenant: Tenant) -> dict[str, ProfileRecipient]:
    """The register of recipients in the profile in force (the controller's row mirrors the notice in force)."""
    controller = await session.get(Controller, controller_of(tenant))
    assert controller is not None
    return register_of(controller.profile)


async def require_recipient(
    *, session: AsyncSession, tenant: Tenant, recipient_id: str, loc: tuple[str, ...]
) -> ProfileRecipient:
    """The recipient of the register with this id; 422 naming the field when the profile has none."""
    found = (await register(session=session, tenant=tenant)).get(recipient_id)
    if found is None:
        raise Unprocessable(
            f"The profile in force names no recipient with the id {recipient_id!r}: add it to the register "
            "(`recipients`, PUT /v1/controller) first.",
            loc=loc,
        )
    return found


async def recipients_in_use(*, session: AsyncSession, actor: Actor) -> set[str]:
    """The recipients a live webhook or an unrevoked API key names: the register must keep them."""
    hooks = scoped(Webhook, actor, col(Webhook.recipient)).where(col(Webhook.deleted_at).is_(None))
    keys = scoped(ApiKey, actor, col(ApiKey.recipient)).where(
        col(ApiKey.revoked_at).is_(None), col(ApiKey.recipient).is_not(None)
    )
    return {str(name) for name in await session.scalars(union(hooks, keys))}


_INSERT = text("""
    INSERT INTO disclosure
        (controller_id, id, customer_id, recipient, recipient_name, categories, channel, reference, disclosed_at)
    SELECT :controller, gen_random_uuid(), person, :recipient, :name, CAST(:categories AS text[]), :channel,
           :reference, coalesce(CAST(:at AS timestamptz), now())
    FROM unnest(CAST(:people AS uuid[])) AS person
""")


async def record(
    *,
    session: AsyncSession,
    tenant: Tenant,
    customer_ids: Collection[uuid.UUID],
    recipient: str,
    categories: Collection[str],
    channel: DisclosureChannel,
    reference: uuid.UUID | None = None,
    at: dt.datetime | None = None,
) -> None:
    """Log that the data of `customer_ids` went to `recipient`: one statement however many people (a campaign
    check answers thousands at a time), in the caller's transaction."""
    if not customer_ids:
        return
    found = (await register(session=session, tenant=tenant)).get(recipient)
    # The name it had when the data went to it (a recipient leaves the register only when nothing names it).
    name = found.name if found is not None else recipient
    await session.execute(
        _INSERT,
        {
            "controller": controller_of(tenant),
            "recipient": recipient,
            "name": name,
            "categories": list(categories),
            "channel": channel.value,
            "reference": reference,
            "at": at,
            "people": list(customer_ids),
        },
    )


async def record_for_key(
    *,
    session: AsyncSession,
    actor: Actor,
    customer_ids: Collection[uuid.UUID],
    categories: Collection[str],
    channel: DisclosureChannel,
    reference: uuid.UUID | None = None,
) -> None:
    """Log what a key tied to a recipient was given about these people; nothing for the controller's own keys."""
    if actor.recipient is None:
        return
    await record(
        session=session,
        tenant=actor,
        customer_ids=customer_ids,
        recipient=actor.recipient,
        categories=categories,
        channel=channel,
        reference=reference,
    )


async def for_customer(
    *,
    session: AsyncSession,
    actor: Actor,
    customer_id: uuid.UUID,
    after: tuple[dt.datetime, uuid.UUID] | None,
    limit: int,
) -> list[Disclosure]:
    """A person's disclosures, newest first; 404 for no such customer."""
    if await session.scalar(scoped(Customer, actor, Customer.id).where(Customer.id == customer_id)) is None:
        raise NotFound("No such customer.")
    query = scoped(Disclosure, actor).where(Disclosure.customer_id == customer_id)
    if after is not None:
        when, ident = after
        query = query.where(
            (col(Disclosure.disclosed_at) < when)
            | ((col(Disclosure.disclosed_at) == when) & (col(Disclosure.id) < ident))
        )
    query = query.order_by(col(Disclosure.disclosed_at).desc(), col(Disclosure.id).desc()).limit(limit)
    return list(await session.scalars(query))


async def record_export(
    *, session: AsyncSession, actor: Actor, customer_id: uuid.UUID, kind: ExportKind, request_id: uuid.UUID | None
) -> None:
    """An export is a disclosure: it goes into the audit log like a change, and, downloaded by a key tied to a
    recipient, into the person's disclosure log (both commit with the caller)."""
    changes: dict[str, dict[str, Any]] = {"export": {"new": kind.value}}
    if request_id is not None:
        changes["request_id"] = {"new": str(request_id)}
    audit.record(
        session.sync_session,
        controller_id=actor.controller_id,
        entity="customer",
        entity_id=customer_id,
        action=AuditAction.disclose,
        subject_id=customer_id,
        changes=changes,
    )
    await record_for_key(
        session=session,
        actor=actor,
        customer_ids=[customer_id],
        categories=EXPORT_CATEGORIES[kind.value],
        channel=DisclosureChannel.export,
        reference=request_id,
    )


@dataclass(frozen=True)
class Received:
    """What one recipient received of a person's data: when first and last, which categories, how."""

    recipient: str
    name: str
    first_at: dt.datetime
    last_at: dt.datetime
    categories: list[str]
    channels: list[str]
    times: int


def as_outcome(found: Received) -> dict[str, Any]:
    """What an erasure's outcome keeps of a recipient that received the data: who, and from when to when (as
    days in Finland), for the letter that tells the person (Art. 19, second sentence)."""
    return {
        "recipient": found.recipient,
        "name": found.name,
        "first_date": local_date(found.first_at).isoformat(),
        "last_date": local_date(found.last_at).isoformat(),
    }


_SUMMARY = text("""
    SELECT d.recipient, (array_agg(d.recipient_name ORDER BY d.disclosed_at DESC))[1] AS name,
           min(d.disclosed_at) AS first_at, max(d.disclosed_at) AS last_at, count(DISTINCT d.id) AS times,
           coalesce(array_agg(DISTINCT c ORDER BY c) FILTER (WHERE c IS NOT NULL), '{}') AS categories,
           array_agg(DISTINCT d.channel ORDER BY d.channel) AS channels
    FROM disclosure d LEFT JOIN LATERAL unnest(d.categories) AS c ON true
    WHERE d.controller_id = :controller AND d.customer_id = :customer
    GROUP BY d.recipient
    ORDER BY min(d.disclosed_at), d.recipient
""")


async def received(*, session: AsyncSession, tenant: Tenant, customer_id: uuid.UUID) -> list[Received]:
    """Each recipient the person's data went to, first recipient first (Art. 15(1)(c), 19)."""
    rows = await session.execute(_SUMMARY, {"controller": controller_of(tenant), "customer": customer_id})
    return [
        Received(
            recipient=row.recipient,
            name=row.name,
            first_at=row.first_at,
            last_at=row.last_at,
            categories=list(row.categories),
            channels=list(row.channels),
            times=row.times,
        )
        for row in rows
    ]


async def forget(*, session: AsyncSession, actor: Actor, customer_id: uuid.UUID) -> None:
    """Erasure: the person's entries go with their data (the Art. 19 recipients are worked out before)."""
    await session.execute(
        delete(Disclosure).where(owned(Disclosure, actor), col(Disclosure.customer_id) == customer_id)
    )


# --- in words, for the person (the access answer, the letters) -------------------------------------------


def _transfer(recipient: ProfileRecipient, lang: str) -> dict[str, Any] | None:
    """Art. 15(2), 13(1)(f): the safeguard of a transfer outside the EU/EEA, in words, and where to read it."""
    if not recipient.outside_eea:
        return None
    said = notice_text.texts(lang)
    safeguard = recipient.transfer
    if safeguard is None:
        return {"mechanism": None, "in_words": said["not_stated"], "link": None, "details": None}
    return {
        "mechanism": safeguard.mechanism,
        "in_words": said["mechanisms"][safeguard.mechanism],
        "link": safeguard.link,
        "details": safeguard.details.get(lang) if safeguard.details else None,
    }


def describe(recipient: ProfileRecipient | None, lang: str) -> dict[str, Any]:
    """What the register says of a recipient: its category and country in words, and any transfer's safeguard."""
    if recipient is None:  # left the register since: the log keeps its name
        return {"category": None, "category_in_words": None, "country": None, "outside_eea": None, "transfer": None}
    return {
        "category": recipient.category,
        "category_in_words": notice_text.texts(lang)["recipient_categories"][recipient.category],
        "country": recipient.country,
        "outside_eea": recipient.outside_eea,
        "transfer": _transfer(recipient, lang),
    }


def recipients_of(
    received: list[Received], named: dict[str, ProfileRecipient], lang: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The recipients the person's data went to, each with the dates and categories of data (CJEU C-154/21:
    their identities, since the controller knows them); then the register's other recipients (Art. 15(1)(c))."""
    actual = [
        {
            "id": found.recipient,
            "name": found.name,
            **describe(named.get(found.recipient), lang),
            "first_disclosed_at": found.first_at,
            "last_disclosed_at": found.last_at,
            "categories_of_data": found.categories,
            "categories_of_data_in_words": [exports.category_words(c, lang) for c in found.categories],
        }
        for found in received
    ]
    got = {found.recipient for found in received}
    others = [
        {
            "id": recipient.id,
            "name": recipient.name,
            **describe(recipient, lang),
            "data": [text.get(lang) for text in recipient.data],
            "purpose": recipient.purpose.get(lang) if recipient.purpose else None,
        }
        for recipient in named.values()
        if recipient.id not in got
    ]
    return actual, others
