"""The right to forbid marketing (Finnish kielto-oikeus; GDPR Art. 21(2)-(3)): the named channels, or every
channel when none is named, are prohibited the moment the request arrives, whatever happens to it later."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.models.customers import Customer
from app.models.marketing import Channel, ChannelChange, MarketingUpdate, ReceivedVia
from app.models.requests import Complete, RequestChannel, SubjectRequest
from app.services import marketing

ERASED_OK = False
CUSTOMER_OPTIONAL = False

_VIA = {
    RequestChannel.letter: ReceivedVia.letter,
    RequestChannel.email: ReceivedVia.email,
    RequestChannel.phone: ReceivedVia.phone,
    RequestChannel.in_person: ReceivedVia.in_person,
    RequestChannel.web_form: ReceivedVia.web,
}


async def record(*, session: AsyncSession, actor: Actor, request: SubjectRequest, update: MarketingUpdate) -> None:
    """Record a marketing change a request asked for, dated and sourced as the request arrived."""
    assert request.customer_id is not None
    update = update.model_copy(
        update={
            "received_via": _VIA.get(request.channel),
            "occurred_at": request.received_at,
            "source": f"request {request.id}",
        }
    )
    await marketing.update(session=session, actor=actor, customer_id=request.customer_id, data=update)


async def on_receipt(*, session: AsyncSession, actor: Actor, request: SubjectRequest, customer: Customer) -> None:
    """Prohibit the named channels (all when none) at once: a prohibition needs no weighing."""
    channels = [Channel(c) for c in request.params.get("channels") or Channel]
    update = MarketingUpdate(channels={c: ChannelChange(prohibited=True) for c in channels})
    await record(session=session, actor=actor, request=request, update=update)


async def carry_out(
    *, session: AsyncSession, actor: Actor, request: SubjectRequest, customer: Customer, data: Complete
) -> dict[str, Any]:
    """Confirm the prohibition (recorded again only where something changed since receipt)."""
    await on_receipt(session=session, actor=actor, request=request, customer=customer)
    return {"channels": request.params.get("channels") or []}


async def on_refusal(*, session: AsyncSession, actor: Actor, request: SubjectRequest, customer: Customer) -> None:
    """A prohibition applied on receipt stays: refusing the request does not resume marketing."""
