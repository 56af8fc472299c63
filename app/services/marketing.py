"""Marketing permissions: record prohibitions and consents, and answer "may we?" under Finnish and EU law."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.actor import Actor
from app.errors import Conflict, Unprocessable
from app.models.base import utcnow
from app.models.customers import CustomerKind
from app.models.disclosures import DisclosureChannel
from app.models.marketing import (
    Channel,
    ChannelState,
    Decision,
    HistoryEntry,
    MarketingAction,
    MarketingEvent,
    MarketingState,
    MarketingUpdate,
)
from app.models.profile import DEFAULT_SALE_WINDOW_MONTHS
from app.models.webhooks import EventType
from app.services import disclosures, suppression, webhooks
from app.services.customers import get_customer
from app.services.marketing_rules import Facts, decide
from app.tenancy import owned

# Per customer and channel: for each kind of event, when the latest one was recorded (which decides: what the
# register learnt last holds, whatever date the person's letter bears) and the time it says it happened (shown);
# and what decides beyond them: kind, restriction, erasure, and for the existing-customer exception the latest
# sale within the profile's window (`marketing.existing_customer_months`), where the person's contact details
# came from, and whether the relationship has ended; the person's identifiers, to screen against the
# suppression lists when any list forbids the channel (`screened`).
_ACTIONS = (
    "prohibited",
    "prohibition_lifted",
    "consent_granted",
    "consent_withdrawn",
    "opt_out_offered",
    "objected",
    "objection_withdrawn",
)
_AGGREGATES = ",\n".join(
    f"max(e.created_at) FILTER (WHERE e.action = '{a}') AS {a}_rec, "
    f"(array_agg(e.occurred_at ORDER BY e.created_at DESC) FILTER (WHERE e.action = '{a}'))[1] AS {a}_at"
    for a in _ACTIONS
)
_FACTS = text(
    """
    SELECT c.id, c.kind, c.restricted_at, c.erased_at,
           c.source IS NOT NULL AND c.source::text = 'purchase' AS collected_at_sale,
           c.relationship_end_date IS NOT NULL AND c.relationship_end_date < current_date AS relationship_ended,
           w.months AS sale_window_months,
           (SELECT max(o.order_date) FROM customer_order o
            WHERE o.controller_id = c.controller_id AND o.customer_id = c.id AND o.invoice_status <> 'credited'
              AND o.order_date <= current_date AND o.order_date >= current_date - make_interval(months => w.months)
           ) AS recent_sale_date,
           c.email, c.phone, c.first_name, c.last_name, c.street_address, c.postal_code,
           ch.channel::text = ANY(ARRAY(
               SELECT unnest(l.channels) FROM suppression_list l WHERE l.controller_id = :controller_id
           )) AS screened,
           ch.channel::text AS channel, m.*
    FROM customer c
    CROSS JOIN (
        SELECT coalesce(
            (SELECT (profile #>> '{marketing,existing_customer_months}')::int
             FROM controller WHERE id = :controller_id),
            :default_months
        ) AS months
    ) w
    CROSS JOIN unnest(CAST(:channels AS channel[])) AS ch(channel)
    LEFT JOIN LATERAL (
        SELECT {aggregates}
        FROM marketing_event e
        WHERE e.controller_id = c.controller_id AND e.customer_id = c.id
          AND (e.channel = ch.channel OR e.channel IS NULL)
    ) m ON true
    WHERE c.controller_id = :controller_id AND c.id = ANY(:ids)
    """.replace("{aggregates}", _AGGREGATES)
)


def _params(actor: Actor, channels: Sequence[Channel], customer_ids: Collection[uuid.UUID]) -> dict[str, Any]:
    return {
        "channels": [c.value for c in channels],
        "controller_id": actor.controller_id,
        "ids": list(customer_ids),
        "default_months": DEFAULT_SALE_WINDOW_MONTHS,
    }


def _on(on_rec: dt.datetime | None, off_rec: dt.datetime | None, on_at: dt.datetime | None) -> dt.datetime | None:
    """When a state was switched on, if the latest recorded switch is on (off wins a tie: deny when unsure)."""
    if on_rec is None or (off_rec is not None and off_rec >= on_rec):
        return None
    return on_at


def _facts(row: Any) -> Facts:
    consented_at = _on(row.consent_granted_rec, row.consent_withdrawn_rec, row.consent_granted_at)
    return Facts(
        kind=CustomerKind(row.kind),
        restricted=row.restricted_at is not None,
        erased=row.erased_at is not None,
        collected_at_sale=bool(row.collected_at_sale),
        relationship_ended=bool(row.relationship_ended),
        sale_window_months=row.sale_window_months,
        recent_sale_date=row.recent_sale_date,
        prohibited_at=_on(row.prohibited_rec, row.prohibition_lifted_rec, row.prohibited_at),
        consented_at=consented_at,
        consent_withdrawn_at=row.consent_withdrawn_at if consented_at is None else None,
        opt_out_offered_at=row.opt_out_offered_at,
        objected_at=_on(row.objected_rec, row.objection_withdrawn_rec, row.objected_at),
    )


async def read_facts(
    *,
    session: AsyncSession,
    actor: Actor,
    customer_ids: Collection[uuid.UUID],
    channels: Sequence[Channel],
    also: Collection[bytes] = (),
) -> tuple[dict[uuid.UUID, dict[Channel, Facts]], suppression.Hits]:
    """The facts of many customers on some channels, screened against the suppression lists; with the lists
    that hold the digests `also` (a campaign's identifiers of people who may not be in the register)."""
    if not customer_ids and not also:
        return {}, {}
    rows = list(await session.execute(_FACTS, _params(actor, channels, customer_ids))) if customer_ids else []
    people: dict[uuid.UUID, dict[bytes, Any]] = {}
    if any(row.screened for row in rows):
        matcher = suppression.Matcher(actor.controller_id)
        people = {row.id: matcher.person(row) for row in rows if row.screened}
    digests = {d for found in people.values() for d in found} | set(also)
    hits = await suppression.hits(session=session, actor=actor, digests=digests, channels=channels)
    facts: dict[uuid.UUID, dict[Channel, Facts]] = {}
    for row in rows:
        channel = Channel(row.channel)
        found = _facts(row)
        if row.id in people:
            found = replace(found, suppressed_by=suppression.suppressing(hits, people[row.id], channel))
        facts.setdefault(row.id, {})[channel] = found
    return facts, hits


async def facts_for(
    *, session: AsyncSession, actor: Actor, customer_ids: Sequence[uuid.UUID], channel: Channel
) -> dict[uuid.UUID, Facts]:
    """Read the facts for many customers and one channel."""
    facts, _ = await read_facts(session=session, actor=actor, customer_ids=customer_ids, channels=[channel])
    return {cid: per[channel] for cid, per in facts.items()}


async def check(
    *, session: AsyncSession, actor: Actor, customer_id: uuid.UUID, channel: Channel, own_similar_products: bool
) -> Decision:
    """May we market to this customer on this channel? Answered to a key tied to a recipient, a disclosure."""
    facts = await facts_for(session=session, actor=actor, customer_ids=[customer_id], channel=channel)
    found = facts.get(customer_id)
    if found is not None and not found.erased:
        await disclosures.record_for_key(
            session=session,
            actor=actor,
            customer_ids=[customer_id],
            categories=disclosures.CHECK_CATEGORIES,
            channel=DisclosureChannel.marketing_check,
        )
    return decide(channel, found, own_similar_products=own_similar_products).for_channel(channel)


_ON_OFF = {
    "prohibited": (MarketingAction.prohibited, MarketingAction.prohibition_lifted),
    "consent": (MarketingAction.consent_granted, MarketingAction.consent_withdrawn),
}


def _changes(data: MarketingUpdate, current: dict[Channel, Facts]) -> Iterable[tuple[Channel | None, MarketingAction]]:
    """The events that take the current state to the requested one; nothing for what already holds."""
    if data.objection is not None:
        objected = current[Channel.electronic].objected_at is not None
        if data.objection != objected:
            yield None, MarketingAction.objected if data.objection else MarketingAction.objection_withdrawn
    for channel, change in data.channels.items():
        facts = current[channel]
        if change.prohibited is not None and change.prohibited != (facts.prohibited_at is not None):
            yield channel, _ON_OFF["prohibited"][0 if change.prohibited else 1]
        if change.consent is not None and change.consent != (facts.consented_at is not None):
            yield channel, _ON_OFF["consent"][0 if change.consent else 1]
        if change.opt_out_offered is not None:
            if channel is not Channel.electronic or not change.opt_out_offered:
                raise Unprocessable(
                    "opt_out_offered can only be recorded as true, for the electronic channel.",
                    loc=("body", "channels", channel.value, "opt_out_offered"),
                )
            if facts.opt_out_offered_at is None:
                yield channel, MarketingAction.opt_out_offered


async def _all_facts(*, session: AsyncSession, actor: Actor, customer_id: uuid.UUID) -> dict[Channel, Facts]:
    """The facts for one customer on every channel."""
    facts, _ = await read_facts(session=session, actor=actor, customer_ids=[customer_id], channels=list(Channel))
    found = facts[customer_id]
    return {channel: found[channel] for channel in Channel}


async def update(
    *, session: AsyncSession, actor: Actor, customer_id: uuid.UUID, data: MarketingUpdate
) -> MarketingState:
    """Bring the customer's permissions to what `data` says, recording only what changes (so PUT repeats safely)."""
    customer = await get_customer(session=session, actor=actor, customer_id=customer_id, for_update=True)
    if customer.erased_at is not None:
        raise Conflict("The person's data was erased: every channel is denied and nothing more is recorded.")
    now = utcnow()
    occurred_at = data.occurred_at or now
    if occurred_at.tzinfo is None:
        raise Unprocessable("occurred_at needs a time zone.", loc=("body", "occurred_at"))
    if occurred_at > now + dt.timedelta(minutes=1):  # a minute of clock skew
        raise Unprocessable("occurred_at is in the future.", loc=("body", "occurred_at"))
    if any(c.consent for c in data.channels.values()) and not data.wording:
        # GDPR Art. 7(1): the controller must be able to show what the person consented to.
        raise Unprocessable("A consent needs the wording the person agreed to.", loc=("body", "wording"))
    current = await _all_facts(session=session, actor=actor, customer_id=customer_id)
    changes = list(_changes(data, current))
    for channel, action in changes:
        session.add(
            MarketingEvent(
                controller_id=actor.controller_id,
                customer_id=customer_id,
                channel=channel,
                action=action,
                occurred_at=occurred_at,
                received_via=data.received_via,
                source=data.source,
                wording=data.wording if action is MarketingAction.consent_granted else None,
                recorded_by_key_id=actor.key_id,
                recorded_by=actor.name,
            )
        )
    await session.flush()
    result = await _state(session=session, actor=actor, customer_id=customer_id)
    if changes:
        # Systems that keep their own mailing lists must apply the change too.
        await webhooks.enqueue(
            session=session,
            actor=actor,
            event_type=EventType.marketing_changed,
            subject_id=customer_id,
            data={
                "customer_id": str(customer_id),
                "external_id": customer.external_id,
                "decisions": {
                    s.channel.value: {"allowed": s.decision.allowed, "reason": s.decision.reason.value}
                    for s in result.channels
                },
            },
        )
    return result


async def state(*, session: AsyncSession, actor: Actor, customer_id: uuid.UUID) -> MarketingState:
    """The customer's permissions per channel, with the decision for each and the whole history."""
    await get_customer(session=session, actor=actor, customer_id=customer_id)
    return await _state(session=session, actor=actor, customer_id=customer_id)


async def _state(*, session: AsyncSession, actor: Actor, customer_id: uuid.UUID) -> MarketingState:
    current = await _all_facts(session=session, actor=actor, customer_id=customer_id)
    history = await session.scalars(
        select(MarketingEvent)
        .where(owned(MarketingEvent, actor), MarketingEvent.customer_id == customer_id)
        .order_by(col(MarketingEvent.created_at))
    )
    return MarketingState(
        customer_id=customer_id,
        objected_at=current[Channel.electronic].objected_at,
        channels=[
            ChannelState(
                channel=channel,
                prohibited_at=facts.prohibited_at,
                consent_given_at=facts.consented_at,
                consent_withdrawn_at=facts.consent_withdrawn_at,
                opt_out_offered_at=facts.opt_out_offered_at,
                decision=decide(channel, facts).for_channel(channel),
            )
            for channel, facts in current.items()
        ],
        history=[HistoryEntry.model_validate(e, from_attributes=True) for e in history],
    )
