"""API keys: issue (shown once), list, revoke."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.errors import NotFound
from app.models.api_keys import ApiKey, ApiKeyCreate
from app.models.base import utcnow
from app.security import generate_key, hash_key
from app.services import disclosures
from app.tenancy import scoped


async def create_key(
    *, session: AsyncSession, actor: Actor, controller_id: uuid.UUID, data: ApiKeyCreate
) -> tuple[ApiKey, str]:
    """Issue a key for a person or system; return it with its secret, which is not stored."""
    if data.recipient is not None:
        # What a recipient's key takes out is logged as disclosed to it: the register must name it.
        await disclosures.require_recipient(
            session=session, tenant=controller_id, recipient_id=data.recipient, loc=("body", "recipient")
        )
    secret = generate_key()
    key = ApiKey(
        controller_id=controller_id,
        name=data.name,
        role=data.role,
        prefix=secret[:10],
        key_hash=hash_key(secret),
        recipient=data.recipient,
    )
    session.add(key)
    await session.flush()
    return key, secret


async def list_keys(
    *, session: AsyncSession, actor: Actor, after: uuid.UUID | None, limit: int, include_revoked: bool
) -> list[ApiKey]:
    """List the controller's keys by id."""
    query = scoped(ApiKey, actor)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))  # type: ignore[union-attr]
    if after is not None:
        query = query.where(ApiKey.id > after)
    rows = await session.scalars(query.order_by(ApiKey.id).limit(limit))  # type: ignore[arg-type]
    return list(rows)


async def revoke_key(*, session: AsyncSession, actor: Actor, key_id: uuid.UUID) -> ApiKey:
    """Revoke a key at once; it stays listed, with when it was revoked."""
    key = await session.scalar(scoped(ApiKey, actor).where(ApiKey.id == key_id).with_for_update())
    if key is None:
        raise NotFound("No such API key.")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        await session.flush()
    return key
