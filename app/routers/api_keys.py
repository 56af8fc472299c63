"""API keys: issue, list and revoke (admins only)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from app.db import Session
from app.errors import problem_responses
from app.models.api_keys import ApiKeyCreate, ApiKeyCreated, ApiKeyPage, ApiKeyPublic
from app.pagination import cut, decode_uuid
from app.routers._http import Cursor, Limit
from app.security import Admin
from app.services import api_keys as service

router = APIRouter(prefix="/v1/api-keys", tags=["api-keys"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Issue a key",
    description="Issues a key for one person or system in one role. The secret is in this answer only; "
    "only its hash is stored. Name the key after who holds it: every change they make is logged under it. A "
    "key that a recipient's own system uses (a partner, a processor's service) names that `recipient` of the "
    "controller's profile: the exports it downloads and the marketing checks answered to it are logged as "
    "disclosures to it, and the recipient stays in the register until the key is revoked.",
    responses=problem_responses(400, 401, 403, 415, 422),
)
async def create_key(data: ApiKeyCreate, session: Session, actor: Admin, response: Response) -> ApiKeyCreated:
    key, secret = await service.create_key(session=session, actor=actor, controller_id=actor.controller_id, data=data)
    response.headers["Location"] = f"/v1/api-keys/{key.id}"
    return ApiKeyCreated(**ApiKeyPublic.model_validate(key, from_attributes=True).model_dump(), key=secret)


@router.get(
    "",
    summary="List keys",
    description="Lists the controller's keys (never their secrets), with when each was last used.",
    responses=problem_responses(400, 401, 403, 422),
)
async def list_keys(
    request: Request,
    session: Session,
    actor: Admin,
    limit: Limit = 50,
    cursor: Cursor = None,
    include_revoked: Annotated[bool, Query(description="Also list revoked keys.")] = False,
) -> ApiKeyPage:
    keys = await service.list_keys(
        session=session,
        actor=actor,
        after=decode_uuid(cursor) if cursor else None,
        limit=limit + 1,
        include_revoked=include_revoked,
    )
    keys, next_url = cut(keys, limit, request.url, lambda key: str(key.id))
    return ApiKeyPage(items=[ApiKeyPublic.model_validate(k, from_attributes=True) for k in keys], next=next_url)


@router.delete(
    "/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke a key",
    description="Revokes a key at once. It stays listed (with `include_revoked`) for the audit trail.",
    responses=problem_responses(401, 403, 404, 422),
)
async def revoke_key(key_id: uuid.UUID, session: Session, actor: Admin) -> None:
    await service.revoke_key(session=session, actor=actor, key_id=key_id)
