"""The audit log: read it and verify its hash chain (auditors and admins)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request

from app.db import Session
from app.errors import problem_responses
from app.models.audit import AuditPage, AuditVerification
from app.models.base import IsoDateTime
from app.pagination import cut, decode_int, encode_cursor
from app.routers._http import Cursor, Limit
from app.security import Auditor
from app.services import audit as service

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get(
    "",
    summary="Read the audit log",
    description="Every change of register data, oldest first: when, which key and the person behind it, which "
    "request, which entity, and each field's old and new value (decrypted for you; `erased` when the "
    "subject's key was destroyed). Filters combine.",
    responses=problem_responses(400, 401, 403, 422),
)
async def list_events(
    request: Request,
    session: Session,
    actor: Auditor,
    limit: Limit = 50,
    cursor: Cursor = None,
    entity: Annotated[str | None, Query(max_length=50, description="customer, order, api_key, ...")] = None,
    entity_id: uuid.UUID | None = None,
    subject_id: Annotated[uuid.UUID | None, Query(description="The customer whose data it is.")] = None,
    actor_key_id: Annotated[uuid.UUID | None, Query(description="The key that made the change.")] = None,
    since: Annotated[IsoDateTime | None, Query(description="From this time (inclusive), ISO 8601.")] = None,
    until: Annotated[IsoDateTime | None, Query(description="Before this time, ISO 8601.")] = None,
) -> AuditPage:
    events = await service.list_events(
        session=session,
        actor=actor,
        where=service.AuditFilter(entity, entity_id, subject_id, actor_key_id, since, until),
        after=decode_int(cursor) if cursor else None,
        limit=limit + 1,
    )
    events, next_url = cut(events, limit, request.url, lambda event: encode_cursor(event.seq))
    return AuditPage(items=events, next=next_url)


@router.get(
    "/verify",
    summary="Verify the audit log",
    description="Recomputes the hash chain of the controller's audit log from its first event and reports the "
    "first event that was altered or removed. `ok` is false if any link fails.",
    responses=problem_responses(401, 403),
)
async def verify(session: Session, actor: Auditor) -> AuditVerification:
    return await service.verify(session=session, actor=actor)
