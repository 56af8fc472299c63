"""API keys, roles and the authenticated actor; every request is scoped to the key's controller."""

from __future__ import annotations

import hashlib
import math
import secrets
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import text

from app.actor import Actor, attach
from app.db import Session
from app.errors import Forbidden, TooManyRequests, Unauthorized
from app.models.api_keys import Role
from app.tenancy import TENANT_SQL

KEY_PREFIX = "rk_"
_AUTHENTICATE = (
    "SELECT a.id, a.controller_id, a.name, a.role, a.recipient, "  # noqa: S608 -- no input in the text
    f"{TENANT_SQL.format('a.controller_id')} FROM rekisteri_authenticate(:h) a"
)
_bearer = HTTPBearer(auto_error=False, description="An API key made with `rekisteri keys create`.")


def generate_key() -> str:
    """Make a new secret key (256 bits)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> bytes:
    """The stored form of a key: keys are random, so a plain SHA-256 cannot be reversed."""
    return hashlib.sha256(key.encode()).digest()


async def authenticate(
    request: Request,
    session: Session,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """Resolve the bearer key to an actor and scope the transaction to its controller."""
    if credentials is None or not credentials.credentials:
        raise Unauthorized("An API key is required: Authorization: Bearer <key>.")
    # The lookup goes through a SECURITY DEFINER function: the application role cannot read api_key
    # rows of a controller before it knows which controller it acts for.
    # One round trip: find the key and scope the transaction to its controller.
    row = (
        await session.execute(
            text(_AUTHENTICATE),
            {"h": hash_key(credentials.credentials)},
        )
    ).one_or_none()
    if row is None:
        raise Unauthorized("The API key is not valid or has been revoked.")
    actor = Actor(controller_id=row.controller_id, key_id=row.id, name=row.name, role=row.role, recipient=row.recipient)
    attach(session, actor)
    request.state.key_id = str(actor.key_id)
    await _within_rate(request, row.id)
    return actor


async def _within_rate(request: Request, key_id: uuid.UUID) -> None:
    """Refuse the key's request with 429 past its rate (GCRA, counted in PostgreSQL across every process)."""
    settings = request.app.state.settings
    if settings.rate_limit_per_second <= 0:
        return
    # A connection of its own in autocommit: the key's counter row is locked for one statement only.
    async with request.app.state.autocommit_engine.connect() as conn:
        wait = await conn.scalar(
            text("SELECT rekisteri_rate_hit(:k, :rate, :burst)"),
            {"k": key_id, "rate": settings.rate_limit_per_second, "burst": settings.rate_limit_burst},
        )
    if wait:
        raise TooManyRequests(
            f"This key makes more than {settings.rate_limit_per_second:g} requests a second; slow down.",
            retry_after=max(1, math.ceil(wait)),
        )


def require(*roles: Role) -> Callable[..., Awaitable[Actor]]:
    """A dependency admitting only the given roles."""
    allowed = {role.value for role in roles}

    async def dependency(actor: Annotated[Actor, Depends(authenticate)]) -> Actor:
        if actor.role not in allowed:
            raise Forbidden(f"This needs the role {' or '.join(sorted(allowed))}; the key has {actor.role}.")
        return actor

    dependency.roles = allowed  # type: ignore[attr-defined]  # read by the route-role tests
    return dependency


Admin = Annotated[Actor, Depends(require(Role.admin))]
Staff = Annotated[Actor, Depends(require(Role.admin, Role.agent))]
Writer = Annotated[Actor, Depends(require(Role.admin, Role.agent, Role.integration))]
Auditor = Annotated[Actor, Depends(require(Role.admin, Role.auditor))]
Officer = Annotated[Actor, Depends(require(Role.admin, Role.agent, Role.auditor))]
AnyRole = Annotated[Actor, Depends(require(*Role))]
