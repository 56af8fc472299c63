"""API keys, roles and the authenticated actor; every request is scoped to the key's controller."""

from __future__ import annotations

import hashlib
import ipaddress
import math
import secrets
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy import text
from starlette.datastructures import State
from starlette.types import Scope

from app.actor import Actor, attach
from app.db import Session
from app.errors import DomainError, Forbidden, TooManyRequests, Unauthorized
from app.models.api_keys import Role
from app.tenancy import TENANT_SQL

KEY_PREFIX = "rk_"
_AUTHENTICATE = (
    "SELECT a.id, a.controller_id, a.name, a.role, a.recipient, "  # noqa: S608 -- no input in the text
    f"{TENANT_SQL.format('a.controller_id')} FROM rekisteri_authenticate(:h) a"
)
_bearer = HTTPBearer(auto_error=False, description="An API key made with `rekisteri keys create`.")
MISSING_KEY = "An API key is required: Authorization: Bearer <key>."
UNKNOWN_KEY = "The API key is not valid or has been revoked."
# An address's failed authentications are counted in the rate limit's table, under an id made from the address
# in a namespace of their own (a version-5 UUID: never a key's id, which is random, version 4).
_FAILURES = uuid.UUID("6d1c1f3e-5a0b-4c52-9a43-2f1e8b7d0c11")


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
        raise Unauthorized(MISSING_KEY)
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
        raise await failed_authentication(request.app.state, client_address(request.scope))
    actor = Actor(controller_id=row.controller_id, key_id=row.id, name=row.name, role=row.role, recipient=row.recipient)
    attach(session, actor)
    request.state.key_id = str(actor.key_id)
    await _within_rate(request, row.id)
    return actor


def bearer_key(authorization: str | None) -> str | None:
    """The key of an `Authorization: Bearer <key>` header, read as HTTPBearer reads it; None when there is none."""
    scheme, key = get_authorization_scheme_param(authorization)
    return key if scheme.lower() == "bearer" and key else None


def client_address(scope: Scope) -> str:
    """Who asks, for counting failed authentications: the peer's address as the server gives it.

    Behind a proxy the server trusts (uvicorn's `FORWARDED_ALLOW_IPS`), that is the client's address from
    X-Forwarded-For; from anyone else the header is ignored. An IPv6 address counts as its /64, which one
    machine usually holds whole: its next address is no new client.
    """
    client = scope.get("client")
    host = client[0] if client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is None:
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else address)


async def key_known(state: State, key: str) -> bool:
    """Tell whether a key is live, before anything else is done for its request (its body is not read yet)."""
    async with state.autocommit_engine.connect() as conn:
        found = await conn.execute(text("SELECT id FROM rekisteri_authenticate(:h)"), {"h": hash_key(key)})
        return found.first() is not None


async def failed_authentication(state: State, address: str) -> DomainError:
    """Count a failed authentication from `address`: 401, or 429 once the address has failed too often.

    The count is kept in PostgreSQL like a key's rate (GCRA, shared by every API process): `limit` failures
    at once, then one every window/limit seconds. A missing key is not counted: it costs the service nothing.
    A valid key is never refused for its address's failures, so one broken client behind a shared address
    (or a proxy that is not trusted) does not lock out the others.
    """
    settings = state.settings
    if settings.auth_failure_limit <= 0:
        return Unauthorized(UNKNOWN_KEY)
    async with state.autocommit_engine.connect() as conn:
        wait = await conn.scalar(
            text("SELECT rekisteri_rate_hit(:k, :rate, :burst)"),
            {
                "k": uuid.uuid5(_FAILURES, address),
                "rate": settings.auth_failure_limit / settings.auth_failure_window,
                "burst": settings.auth_failure_limit,
            },
        )
    if wait:
        return TooManyRequests(
            "Too many failed authentications from this address; check the key, and wait before trying again.",
            retry_after=max(1, math.ceil(wait)),
        )
    return Unauthorized(UNKNOWN_KEY)


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
