"""Tenancy's one door: every query of register data is scoped to a controller here, and here alone the
transaction is told its controller for PostgreSQL's row-level security.

Isolation is enforced twice (docs/architecture.md): services build their statements with `scoped` (or add
`owned` to a statement they build otherwise), and the policies on every table compare `controller_id` with
the transaction's setting `rekisteri.controller_id`, which `set_tenant` makes (or `TENANT_SQL`, where the
setting rides on a statement that finds the controller, to save a round trip). A service never writes
`Model.controller_id == ...` by hand.
"""

from __future__ import annotations

import uuid
from typing import Any, TypeVar, overload

from sqlalchemy import ColumnElement, FromClause, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select
from sqlmodel.sql.expression import Select, SelectOfScalar

from app.actor import Actor, attach

M = TypeVar("M")
C = TypeVar("C")
Tenant = Actor | uuid.UUID  # an actor acts for its controller; a background job names the controller itself

SETTING = "rekisteri.controller_id"
# The setting for the rest of the transaction (`true`: local), from a controller id the statement provides.
TENANT_SQL = f"set_config('{SETTING}', CAST({{}} AS text), true)"


def controller_of(tenant: Tenant) -> uuid.UUID:
    """The controller a tenant stands for."""
    return tenant.controller_id if isinstance(tenant, Actor) else tenant


def _controller_column(entity: Any) -> Any:
    return entity.c.controller_id if isinstance(entity, FromClause) else entity.controller_id


def owned(entity: Any, tenant: Tenant) -> ColumnElement[bool]:
    """The condition that a row of `entity` (a model or a table) belongs to the tenant's controller."""
    condition: ColumnElement[bool] = _controller_column(entity) == controller_of(tenant)
    return condition


def same_tenant(left: Any, right: Any) -> ColumnElement[bool]:
    """The join condition that two rows belong to one controller (keys are composite with it)."""
    condition: ColumnElement[bool] = _controller_column(left) == _controller_column(right)
    return condition


@overload
def scoped(entity: type[M], tenant: Tenant) -> SelectOfScalar[M]: ...
@overload
def scoped(entity: Any, tenant: Tenant, column: C, /) -> SelectOfScalar[C]: ...
@overload
def scoped(entity: Any, tenant: Tenant, *columns: Any) -> Select[Any]: ...
def scoped(entity: Any, tenant: Tenant, *columns: Any) -> Any:
    """SELECT the entity (or `columns` of it) from the rows of the tenant's controller alone."""
    return select(*(columns or (entity,))).where(owned(entity, tenant))


async def set_tenant(session: AsyncSession, tenant: Tenant) -> None:
    """Scope the session's transaction to one controller for the row-level security policies."""
    await session.execute(text(f"SELECT {TENANT_SQL.format(':cid')}"), {"cid": str(controller_of(tenant))})


async def enter(session: AsyncSession, actor: Actor) -> None:
    """Start register work in the session as `actor`: its controller's rows, its name on every change."""
    attach(session, actor)
    await set_tenant(session, actor)
