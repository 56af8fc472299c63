"""Restriction of processing (Art. 18) on a customer: the notice before it is lifted, and the lifting."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from app.db import Session
from app.errors import problem_responses
from app.models.customers import CustomerPublic
from app.models.requests import RestrictionNotice
from app.routers._http import IfMatch, expected_versions, shown
from app.security import Staff
from app.services import customers as customer_service
from app.services import restriction

router = APIRouter(prefix="/v1/customers/{customer_id}/restriction", tags=["customers"])


@router.post(
    "/notice",
    summary="Record that the person was told the restriction will be lifted",
    description="Art. 18(3): the person must be told before a restriction is lifted. Record it here; then "
    "`DELETE /v1/customers/{id}/restriction` lifts it.",
    responses=problem_responses(400, 401, 403, 404, 409, 412, 415, 422),
)
async def restriction_notice(
    customer_id: uuid.UUID,
    data: RestrictionNotice,
    session: Session,
    actor: Staff,
    response: Response,
    if_match: IfMatch = None,
) -> CustomerPublic:
    customer = await customer_service.get_customer(
        session=session, actor=actor, customer_id=customer_id, for_update=True
    )
    customer_service.check_version(customer.version, expected_versions(if_match))
    customer = await restriction.record_notice(session=session, actor=actor, customer=customer, data=data)
    return shown(response, customer, CustomerPublic)


@router.delete(
    "",
    summary="Lift a restriction of processing",
    description="Only after the person was told (`POST .../restriction/notice`). Recipients are told (Art. 19).",
    responses=problem_responses(401, 403, 404, 409, 412, 422),
)
async def lift_restriction(
    customer_id: uuid.UUID, session: Session, actor: Staff, response: Response, if_match: IfMatch = None
) -> CustomerPublic:
    customer = await customer_service.get_customer(
        session=session, actor=actor, customer_id=customer_id, for_update=True
    )
    customer_service.check_version(customer.version, expected_versions(if_match))
    await restriction.lift(session=session, actor=actor, customer=customer)
    return shown(response, customer, CustomerPublic)
