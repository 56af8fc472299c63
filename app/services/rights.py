"""The rights a data subject request exercises, one module each, and the table that finds one by type.

Each module (`access`, `portability`, `rectification`, `restriction`, `objection`, `erasure`, `prohibition`)
offers the same keyword-only entry points, described by `Right`; the lifecycle in `app.services.requests`
calls them and does everything around them (deadlines, identity, status, letters). A new right is a new
module with these entry points, a `RequestType` and a row in `RIGHTS` (docs/architecture.md).
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.models.customers import Customer
from app.models.requests import Complete, RequestType, SubjectRequest
from app.services import access, erasure, objection, portability, prohibition, rectification, restriction


class Right(Protocol):
    """What each right's module does at each step of a request; the lifecycle around it is here."""

    ERASED_OK: bool  # may be carried out for a person whose data was erased
    CUSTOMER_OPTIONAL: bool  # may be completed for a person not in the register ("nothing held")

    async def on_receipt(
        self, *, session: AsyncSession, actor: Actor, request: SubjectRequest, customer: Customer
    ) -> None:
        """What applies the moment the request arrives, before any answer (the person is not erased)."""

    async def carry_out(
        self, *, session: AsyncSession, actor: Actor, request: SubjectRequest, customer: Customer, data: Complete
    ) -> dict[str, Any]:
        """Do what the right requires; return the outcome the answer letter tells."""

    async def on_refusal(
        self, *, session: AsyncSession, actor: Actor, request: SubjectRequest, customer: Customer
    ) -> None:
        """What the refusal undoes (it is the person's notice, Art. 18(3))."""


RIGHTS: dict[RequestType, Right] = {
    RequestType.access: access,
    RequestType.portability: portability,
    RequestType.rectification: rectification,
    RequestType.restriction: restriction,
    RequestType.objection: objection,
    RequestType.erasure: erasure,
    RequestType.marketing_prohibition: prohibition,
}
