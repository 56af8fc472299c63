"""The right to object (GDPR Art. 21): to direct marketing, absolute and immediate (21(2)-(3)); on grounds of
the person's particular situation, processing is restricted while it is weighed (Art. 18(1)(d)), and upheld,
the data is erased but what a hold keeps (Art. 17(1)(c)); refused, the restriction ends with the refusal."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.models.base import utcnow
from app.models.customers import Customer
from app.models.marketing import MarketingUpdate
from app.models.requests import Complete, ErasureGround, ObjectionKind, RestrictionGround, SubjectRequest
from app.services import erasure, holds, prohibition, restriction

ERASED_OK = False
CUSTOMER_OPTIONAL = False


def _to_marketing(request: SubjectRequest) -> bool:
    return bool(request.params.get("kind") == ObjectionKind.direct_marketing.value)


async def on_receipt(*, session: AsyncSession, actor: Actor, request: SubjectRequest, customer: Customer) -> None:
    """Stop direct marketing at once, or restrict processing while a particular situation is weighed."""
    if _to_marketing(request):
        # Art. 21(3): absolute and immediate.
        await prohibition.record(session=session, actor=actor, request=request, update=MarketingUpdate(objection=True))
    else:
        # Art. 18(1)(d): restricted while it is weighed whether the controller's grounds override.
        await restriction.restrict(
            session=session, actor=actor, customer=customer, ground=RestrictionGround.objection_pending, fields=[]
        )


async def carry_out(
    *, session: AsyncSession, actor: Actor, request: SubjectRequest, customer: Customer, data: Complete
) -> dict[str, Any]:
    """Uphold the objection."""
    if _to_marketing(request):
        await on_receipt(session=session, actor=actor, request=request, customer=customer)
        return {"kind": ObjectionKind.direct_marketing.value}
    # Upheld, no compelling grounds override (Art. 21(1)): the processing ends, so the data goes (Art. 17(1)(c))
    # through the erasure path and its holds; a restriction has nothing left to restrict.
    rules = await holds.policy(session=session, actor=actor, ground=ErasureGround.objection)
    erased = await erasure.erase(session=session, actor=actor, customer=customer, request_id=request.id, policy=rules)
    await erasure.forget_requests(session=session, actor=actor, customer_id=customer.id)
    restriction.end(customer)
    return {"kind": ObjectionKind.particular_situation.value, "upheld": True, "ground": rules.ground.value, **erased}


async def on_refusal(*, session: AsyncSession, actor: Actor, request: SubjectRequest, customer: Customer) -> None:
    """The controller's grounds override: the restriction while it was weighed ends.

    The refusal itself is the notice the person gets before that (Art. 18(3)). Not if the person is
    restricted on a ground of their own, or another objection is still weighed.
    """
    if _to_marketing(request) or customer.restriction_ground != RestrictionGround.objection_pending.value:
        return
    if await restriction.objection_pending(session=session, actor=actor, customer=customer, other_than=request.id):
        return
    await restriction.lift(
        session=session,
        actor=actor,
        customer=customer,
        notice={"at": (request.closed_at or utcnow()).isoformat(), "via": "refusal", "request_id": str(request.id)},
        other_than=request.id,
    )
