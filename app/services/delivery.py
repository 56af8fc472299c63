"""Webhook delivery, the worker's side: claim a delivery, send it, record the attempt; fair across controllers
and subscribers, and never holding a database connection while a receiver takes its time."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.json import dumps
from app.models.base import utcnow
from app.models.customers import Customer
from app.models.disclosures import DisclosureChannel
from app.models.webhooks import DeliveryStatus, Webhook, WebhookDelivery, WebhookEvent
from app.services import disclosures, receivers
from app.services.webhooks import TRANSIENT, sign
from app.subject_keys import default_keyring
from app.tenancy import scoped

MAX_ATTEMPTS = 9  # the first try and eight retries, 4 s to 18 h apart: about a day in all
# Per attempt: 5 s to connect, 10 s for each read or write, and 15 s for the whole exchange (the name's lookup
# included), however slowly the receiver trickles its answer.
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
DEADLINE = 15.0
STEP_ASIDE_MAX = 30.0  # seconds: the longest a job over its share waits before it asks again


class DeliveryFailed(Exception):
    """The subscriber did not take the event; the queue retries with backoff."""

    def __init__(self, attempts: int, outcome: str) -> None:
        super().__init__(f"attempt {attempts} got {outcome}")
        self.attempts = attempts


class StepAside(Exception):
    """The controller or the subscriber has its share of this worker in use: run again a little later. Not an
    attempt: nothing was sent."""


class Shares:
    """How one worker shares its job slots: a controller holds at most `per_controller` of them at once, and a
    subscriber has at most `per_subscriber` deliveries under way and as many waiting for their turn. A job over
    either steps aside, so that one controller's slow or hanging receivers cannot take the slots every other
    controller's deliveries need (the worker runs more jobs at once than one controller may hold)."""

    def __init__(self, *, per_controller: int, per_subscriber: int) -> None:
        self.per_controller = per_controller
        self.per_subscriber = per_subscriber
        self._held: Counter[uuid.UUID] = Counter()
        self._subscribers: dict[uuid.UUID, tuple[asyncio.Semaphore, int]] = {}

    @contextmanager
    def controller(self, controller_id: uuid.UUID) -> Iterator[None]:
        """Hold one of the controller's slots, or step aside."""
        if self._held[controller_id] >= self.per_controller:
            raise StepAside("the controller's share of this worker is in use")
        self._held[controller_id] += 1
        try:
            yield
        finally:
            self._held[controller_id] -= 1
            if not self._held[controller_id]:
                del self._held[controller_id]

    @asynccontextmanager
    async def subscriber(self, webhook_id: uuid.UUID) -> AsyncIterator[None]:
        """Send when the subscriber has a delivery fewer than its share under way; step aside if too many wait."""
        semaphore, users = self._subscribers.get(webhook_id, (asyncio.Semaphore(self.per_subscriber), 0))
        if users >= 2 * self.per_subscriber:
            raise StepAside("the subscriber's share of this worker is in use")
        self._subscribers[webhook_id] = (semaphore, users + 1)
        try:
            async with semaphore:
                yield
        finally:
            semaphore, users = self._subscribers[webhook_id]
            if users > 1:
                self._subscribers[webhook_id] = (semaphore, users - 1)
            else:
                del self._subscribers[webhook_id]


def shares(settings: Settings) -> Shares:
    """The worker's shares, as the operator set them."""
    return Shares(
        per_controller=settings.webhook_controller_concurrency,
        per_subscriber=settings.webhook_subscriber_concurrency,
    )


def receiver_client(settings: Settings) -> httpx.AsyncClient:
    """The HTTP client deliveries go out with: to public https receivers only, unless the settings allow
    private ones (development), on the address it checked; redirects are not followed (one could point inside)."""
    private = bool(settings.webhook_private_addresses)
    transport = receivers.ReceiverTransport(
        permits=(lambda _: True) if private else receivers.public,
        plain_http=settings.environment == "development",
        resolve=receivers.SystemResolver(threads=settings.worker_concurrency),
    )
    return httpx.AsyncClient(transport=transport, timeout=TIMEOUT, follow_redirects=False)


def retry_in(exception: BaseException, runs: int) -> float:
    """Seconds until a delivery job runs again after `exception`, its `runs`-th run (0 the first) having failed.

    A failed attempt waits 4**n seconds after the n-th; a step aside 1, 2, 4 ... up to 30 seconds; any other
    error (the database away, say) 4, 16, 64 ... up to an hour. Only the receiver's refusals ever end a
    delivery (after MAX_ATTEMPTS, as `failed`): its job is never dropped for trouble of our own.
    """
    if isinstance(exception, DeliveryFailed):
        return 4.0**exception.attempts
    if isinstance(exception, StepAside):
        return min(2.0**runs, STEP_ASIDE_MAX)
    return min(4.0 ** (runs + 1), 3600.0)


@dataclass(frozen=True)
class Outgoing:
    """A delivery claimed for sending: everything the POST needs, read in a transaction already committed."""

    controller_id: uuid.UUID
    delivery_id: uuid.UUID
    webhook_id: uuid.UUID
    event_id: uuid.UUID
    url: str
    body: bytes
    secret: str


async def deliver(
    *,
    maker: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
    shares: Shares,
    delivery_id: str,
    controller_id: str,
) -> None:
    """Send one delivery and record the attempt, each in a transaction of its own; raise DeliveryFailed when it
    must be tried again (after its attempt is committed), StepAside when it must wait for its share."""
    with shares.controller(uuid.UUID(controller_id)):
        async with maker() as session, session.begin():
            outgoing = await claim(
                session=session, controller_id=uuid.UUID(controller_id), delivery_id=uuid.UUID(delivery_id)
            )
        if outgoing is None:
            return
        async with shares.subscriber(outgoing.webhook_id):
            attempt = await send(client, outgoing)
    async with maker() as session, session.begin():
        attempts = await record(session=session, outgoing=outgoing, attempt=attempt)
    if attempts is not None:
        raise DeliveryFailed(attempts, str(attempt["status_code"] or attempt["error"]))


async def claim(*, session: AsyncSession, controller_id: uuid.UUID, delivery_id: uuid.UUID) -> Outgoing | None:
    """The delivery to send, or None when there is nothing to send: settled already, or its subscription
    stopped (then it is cancelled)."""
    delivery = await session.scalar(
        scoped(WebhookDelivery, controller_id).where(WebhookDelivery.id == delivery_id).with_for_update()
    )
    if delivery is None or delivery.status is not DeliveryStatus.pending:
        return None
    webhook = await session.get(Webhook, (controller_id, delivery.webhook_id))
    event = await session.get(WebhookEvent, (controller_id, delivery.event_id))
    if webhook is None or event is None:
        return None
    if webhook.deleted_at is not None:
        delivery.status = DeliveryStatus.cancelled
        await session.flush()
        await _drop_transient(session=session, event=event)
        return None
    return Outgoing(
        controller_id=controller_id,
        delivery_id=delivery.id,
        webhook_id=webhook.id,
        event_id=event.id,
        url=webhook.url,
        body=dumps(event.payload),
        secret=default_keyring().unwrap(controller_id, webhook.id, webhook.secret_encrypted).decode(),
    )


async def send(client: httpx.AsyncClient, outgoing: Outgoing, *, deadline: float = DEADLINE) -> dict[str, Any]:
    """POST the event, signed, to the subscriber; the attempt as it is recorded. The answer's body is never
    read (nothing in it matters), and the whole exchange has `deadline` seconds."""
    timestamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "webhook-id": str(outgoing.event_id),
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(outgoing.secret, str(outgoing.event_id), timestamp, outgoing.body),
    }
    started = time.perf_counter()
    status_code, error = None, None
    try:
        async with (
            asyncio.timeout(deadline),
            client.stream("POST", outgoing.url, content=outgoing.body, headers=headers) as response,
        ):
            status_code = response.status_code
    except (httpx.HTTPError, TimeoutError, OSError) as exc:
        error = type(exc).__name__
    return {
        "at": utcnow().isoformat(),
        "status_code": status_code,
        "error": error,
        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
    }


async def record(*, session: AsyncSession, outgoing: Outgoing, attempt: dict[str, Any]) -> int | None:
    """Record the attempt and settle the delivery when it is done; return the number of attempts made when it
    must be tried again, None once it is settled. A delivery taken by the receiver is logged as a disclosure
    in the same transaction."""
    delivery = await session.scalar(
        scoped(WebhookDelivery, outgoing.controller_id)
        .where(WebhookDelivery.id == outgoing.delivery_id)
        .with_for_update()
    )
    webhook = await session.get(Webhook, (outgoing.controller_id, outgoing.webhook_id))
    event = await session.get(WebhookEvent, (outgoing.controller_id, outgoing.event_id))
    assert delivery is not None
    assert webhook is not None
    assert event is not None
    delivery.attempts = [*delivery.attempts, attempt]
    if delivery.status is not DeliveryStatus.pending:
        await session.flush()  # settled meanwhile by another run of the same job: only the attempt is added
        return None
    status_code = attempt["status_code"]
    if status_code is not None and 200 <= status_code < 300:
        delivery.status, delivery.delivered_at = DeliveryStatus.delivered, utcnow()
        await _log_disclosure(session=session, webhook=webhook, event=event, delivery=delivery)
    elif len(delivery.attempts) >= MAX_ATTEMPTS:
        delivery.status = DeliveryStatus.failed
    await session.flush()
    if delivery.status is not DeliveryStatus.pending:
        await _drop_transient(session=session, event=event)
        return None
    return len(delivery.attempts)


async def _drop_transient(*, session: AsyncSession, event: WebhookEvent) -> None:
    keys = TRANSIENT.get(event.type)
    if not keys:
        return
    # The event's deliveries to several subscribers may settle at the same moment, each in its own
    # transaction and each seeing the others still pending: then none would drop the values. Taking the
    # event's row lock first makes them settle one after another, so the last sees the others settled
    # (and the payload as they left it).
    locked = await session.scalar(
        scoped(WebhookEvent, event.controller_id)
        .where(WebhookEvent.id == event.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert locked is not None
    event = locked
    pending = await session.scalar(
        scoped(WebhookDelivery, event.controller_id, WebhookDelivery.id)
        .where(
            WebhookDelivery.event_id == event.id,
            WebhookDelivery.status == DeliveryStatus.pending,
        )
        .limit(1)
    )
    if pending is None:
        data = {k: (None if k in keys else v) for k, v in event.payload.get("data", {}).items()}
        event.payload = {**event.payload, "data": data}


async def _log_disclosure(
    *, session: AsyncSession, webhook: Webhook, event: WebhookEvent, delivery: WebhookDelivery
) -> None:
    """The delivery took the person's data to the subscriber's recipient: log it, committing with the delivery's
    status (GDPR Art. 15(1)(c), 30(1)(d)). Not the erasure event (docs/webhooks.md), nor anything about a person
    erased meanwhile: the row lock waits for an erasure under way, which then takes the entry with the rest."""
    categories = disclosures.event_categories(event.type, event.payload.get("data") or {})
    if categories is None or event.subject_id is None:
        return
    erased = await session.execute(
        scoped(Customer, event.controller_id, Customer.erased_at)
        .where(Customer.id == event.subject_id)
        .with_for_update(read=True)
    )
    row = erased.one_or_none()
    if row is None or row.erased_at is not None:
        return
    await disclosures.record(
        session=session,
        tenant=event.controller_id,
        customer_ids=[event.subject_id],
        recipient=webhook.recipient,
        categories=categories,
        channel=DisclosureChannel.webhook,
        reference=delivery.id,
        at=delivery.delivered_at,
    )
