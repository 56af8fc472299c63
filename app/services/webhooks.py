"""Webhooks: subscribe, and enqueue events in the changing transaction (the worker delivers them: delivery.py)."""

from __future__ import annotations

import base64
import datetime as dt
import secrets
import uuid
from typing import Any
from urllib.parse import urlsplit

import standardwebhooks
from sqlalchemy import func, or_, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app import jobs
from app.actor import Actor
from app.config import get_settings
from app.errors import NotFound, Unprocessable
from app.models.base import utcnow
from app.models.webhooks import EventType, Webhook, WebhookCreate, WebhookDelivery, WebhookEvent
from app.services import disclosures, receivers
from app.subject_keys import default_keyring
from app.tenancy import same_tenant, scoped


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The webhook-signature header value: v1,base64(HMAC-SHA256(key, "id.timestamp.body"))."""
    return standardwebhooks.Webhook(secret).sign(message_id, dt.datetime.fromtimestamp(timestamp, dt.UTC), body)


async def create(*, session: AsyncSession, actor: Actor, data: WebhookCreate) -> tuple[Webhook, str]:
    """Subscribe a URL; return the subscription and its signing secret."""
    settings = get_settings()
    if data.url.scheme != "https" and settings.environment != "development":
        # The events name people: they travel encrypted.
        raise Unprocessable("The webhook URL must use https.", loc=("body", "url"))
    if receivers.literal_refused(data.url.host, private_addresses=bool(settings.webhook_private_addresses)):
        # No probing inside: a name is checked again on every delivery, on the address connected to.
        raise Unprocessable("The webhook URL must be on a public address.", loc=("body", "url"))
    # GDPR Art. 30(1)(d), 15(1)(c): a subscriber is a recipient of the register, and its deliveries are logged
    # as disclosures to it.
    await disclosures.require_recipient(
        session=session, tenant=actor, recipient_id=data.recipient, loc=("body", "recipient")
    )
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    webhook_id = uuid.uuid4()
    webhook = Webhook(
        controller_id=actor.controller_id,
        id=webhook_id,
        url=str(data.url),
        events=[e.value for e in data.events],
        description=data.description,
        recipient=data.recipient,
        secret_encrypted=default_keyring().wrap(actor.controller_id, webhook_id, secret.encode()),
    )
    session.add(webhook)
    await session.flush()
    return webhook, secret


async def list_webhooks(*, session: AsyncSession, actor: Actor, after: uuid.UUID | None, limit: int) -> list[Webhook]:
    """The controller's live subscriptions."""
    query = scoped(Webhook, actor).where(col(Webhook.deleted_at).is_(None))
    if after is not None:
        query = query.where(Webhook.id > after)
    return list(await session.scalars(query.order_by(col(Webhook.id)).limit(limit)))


async def get_webhook(*, session: AsyncSession, actor: Actor, webhook_id: uuid.UUID) -> Webhook:
    """One live subscription."""
    webhook = await session.scalar(
        scoped(Webhook, actor).where(Webhook.id == webhook_id, col(Webhook.deleted_at).is_(None))
    )
    if webhook is None:
        raise NotFound("No such webhook.")
    return webhook


async def delete(*, session: AsyncSession, actor: Actor, webhook_id: uuid.UUID) -> None:
    """Stop a subscription; its delivery history stays readable."""
    webhook = await get_webhook(session=session, actor=actor, webhook_id=webhook_id)
    webhook.deleted_at = utcnow()
    await session.flush()


async def deliveries(
    *,
    session: AsyncSession,
    actor: Actor,
    webhook_id: uuid.UUID,
    after: tuple[dt.datetime, uuid.UUID] | None,
    limit: int,
) -> list[tuple[WebhookDelivery, str]]:
    """A subscription's deliveries, newest first (by time, then id), with the event type of each; `after` is the
    (created_at, id) of the last one of the page before."""
    # The history stays readable after the subscription is stopped.
    found = await session.scalar(scoped(Webhook, actor, Webhook.id).where(Webhook.id == webhook_id))
    if found is None:
        raise NotFound("No such webhook.")
    query = (
        scoped(WebhookDelivery, actor, WebhookDelivery, WebhookEvent.type)
        .join(
            WebhookEvent,
            same_tenant(WebhookEvent, WebhookDelivery) & (col(WebhookEvent.id) == col(WebhookDelivery.event_id)),
        )
        .where(WebhookDelivery.webhook_id == webhook_id)
    )
    if after is not None:
        query = query.where(func.row(WebhookDelivery.created_at, WebhookDelivery.id) < func.row(*after))
    newest_first = (col(WebhookDelivery.created_at).desc(), col(WebhookDelivery.id).desc())
    rows = await session.execute(query.order_by(*newest_first).limit(limit))
    return [(delivery, event_type) for delivery, event_type in rows]


# Values that identify the person only so that the receivers can act on an erasure: dropped from the
# outbox once every receiver has had the event, so that erasure leaves nothing readable behind.
TRANSIENT: dict[str, tuple[str, ...]] = {EventType.customer_erased.value: ("external_id",)}


# The events a recipient of the person's data gets whether or not it subscribed to them (GDPR Art. 19).
ART_19 = frozenset(
    {
        EventType.customer_rectified,
        EventType.customer_restricted,
        EventType.customer_restriction_lifted,
        EventType.customer_erased,
    }
)


def recipient_name(description: str | None, url: str) -> str:
    """How a subscriber is named when its recipient is not in the register any more."""
    return description or urlsplit(url).hostname or url


# Art. 19: a subscriber whose recipient received the person's data, by webhook or otherwise (the disclosure log).
_RECEIVED = (
    "EXISTS (SELECT 1 FROM webhook_delivery d JOIN webhook_event e "
    "ON e.controller_id = d.controller_id AND e.id = d.event_id "
    "WHERE d.controller_id = webhook.controller_id AND d.webhook_id = webhook.id AND e.subject_id = :s) "
    "OR EXISTS (SELECT 1 FROM disclosure x WHERE x.controller_id = webhook.controller_id "
    "AND x.customer_id = :s AND x.recipient = webhook.recipient)"
)


async def enqueue(
    *, session: AsyncSession, actor: Actor, event_type: EventType, subject_id: uuid.UUID | None, data: dict[str, Any]
) -> list[str]:
    """Put an event in the outbox and queue one delivery per subscriber, all in the caller's transaction.

    Returns the names of the recipients (of the register) it goes to.
    """
    wanted = [
        text("(cardinality(webhook.events) = 0 OR :type = ANY(webhook.events))").bindparams(type=event_type.value)
    ]
    if event_type in ART_19 and subject_id is not None:
        # Art. 19: every recipient of the person's data is told, whatever events it subscribed to.
        wanted.append(text(_RECEIVED).bindparams(s=subject_id))
    hooks = (
        await session.execute(
            scoped(Webhook, actor, Webhook.id, Webhook.description, Webhook.url, Webhook.recipient).where(
                col(Webhook.deleted_at).is_(None), or_(*wanted)
            )
        )
    ).all()
    if not hooks:
        data = {k: (None if k in TRANSIENT.get(event_type.value, ()) else v) for k, v in data.items()}
    event = WebhookEvent(
        controller_id=actor.controller_id,
        type=event_type.value,
        subject_id=subject_id,
        payload={"type": event_type.value, "timestamp": utcnow().isoformat(), "data": data},
    )
    session.add(event)
    deliveries = [
        WebhookDelivery(controller_id=actor.controller_id, webhook_id=hook.id, event_id=event.id) for hook in hooks
    ]
    session.add_all(deliveries)
    await session.flush()
    if deliveries:
        # The job rows commit with the change or not at all: no event is lost, none sent for a rollback.
        # One lock per subscriber and person: their events go out in order, a retry holding back the later ones.
        await jobs.defer(
            session=session,
            task_name="deliver",
            queue=jobs.WEBHOOKS,
            jobs=[
                (
                    f"webhook:{d.webhook_id}:{subject_id or event.id}",
                    {"delivery_id": str(d.id), "controller_id": str(actor.controller_id)},
                )
                for d in deliveries
            ],
        )
    if not hooks:
        return []
    named = await disclosures.register(session=session, tenant=actor)
    names = [named[h.recipient].name if h.recipient in named else recipient_name(h.description, h.url) for h in hooks]
    return list(dict.fromkeys(names))


async def forget_subject(*, session: AsyncSession, actor: Actor, subject_id: uuid.UUID) -> None:
    """Erasure: keep the person's past events (what was sent, when) but none of their values."""
    await session.execute(
        text(
            "UPDATE webhook_event SET payload = jsonb_build_object('type', payload->'type', "
            "'timestamp', payload->'timestamp', 'data', jsonb_build_object('customer_id', CAST(:s AS text), "
            "'erased', true)) WHERE controller_id = :c AND subject_id = :s"
        ),
        {"c": actor.controller_id, "s": subject_id},
    )
