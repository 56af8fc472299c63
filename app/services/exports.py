"""What the access (Art. 15) and portability (Art. 20) exports share: rows streamed in constant memory.

The documents themselves are built by `access.document` and `portability.document` / `portability.archive`;
their schemas are versioned (`schema` field) and described in docs/exports.md.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

from sqlalchemy import select as core_select
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.actor import Actor
from app.errors import NotFound
from app.json import dumps
from app.models.audit import AuditAction
from app.models.customers import Customer
from app.models.exports import ExportFormat, ExportKind
from app.models.orders import Order
from app.tenancy import scoped

CHUNK = 500  # rows fetched per round trip
ORDER_COLUMNS = (
    "id",
    "external_id",
    "order_date",
    "lines",
    "total",
    "currency",
    "invoice_status",
    "invoice_due_date",
    "settled_date",
    "limitation_interrupted_date",
    "created_at",
)
PORTABLE_ORDER_COLUMNS = ("id", "external_id", "order_date", "lines", "total", "currency")

_orders = Order.__table__  # type: ignore[attr-defined]

Maker = Callable[[AsyncSession], AsyncIterator[bytes]]


@dataclasses.dataclass(frozen=True)
class Export:
    """An export ready to stream: what makes its bytes in a session, its media type and its file name."""

    make: Maker
    media_type: str
    filename: str


def prepare(*, actor: Actor, customer_id: uuid.UUID, kind: ExportKind, fmt: ExportFormat, lang: str) -> Export:
    """Choose the document for the kind and format asked; nothing is read until it streams."""
    # Imported here: access and portability import this module for the rows they share.
    from app.services import access, portability

    name = f"{kind.value}-{customer_id}"
    if fmt is ExportFormat.zip:

        def archive(session: AsyncSession) -> AsyncIterator[bytes]:
            return portability.archive(session=session, actor=actor, customer_id=customer_id)

        return Export(archive, "application/zip", name + ".zip")
    if kind is ExportKind.portability:

        def portable(session: AsyncSession) -> AsyncIterator[bytes]:
            return portability.document(session=session, actor=actor, customer_id=customer_id)

        return Export(portable, "application/json", name + ".json")

    def accessed(session: AsyncSession) -> AsyncIterator[bytes]:
        return access.document(session=session, actor=actor, customer_id=customer_id, lang=lang)

    return Export(accessed, "application/json", name + ".json")


def record_disclosure(
    *, session: AsyncSession, actor: Actor, customer_id: uuid.UUID, kind: str, request_id: uuid.UUID | None
) -> None:
    """An export is a disclosure: it goes into the audit log like a change (commits with the caller)."""
    changes: dict[str, dict[str, Any]] = {"export": {"new": kind}}
    if request_id is not None:
        changes["request_id"] = {"new": str(request_id)}
    audit.record(
        session.sync_session,
        controller_id=actor.controller_id,
        entity="customer",
        entity_id=customer_id,
        action=AuditAction.disclose,
        subject_id=customer_id,
        changes=changes,
    )


async def load_customer(*, session: AsyncSession, actor: Actor, customer_id: uuid.UUID) -> Customer:
    """The customer the export is about."""
    customer = await session.scalar(scoped(Customer, actor).where(Customer.id == customer_id))
    if customer is None:
        raise NotFound("No such customer.")
    return customer


def plain(obj: Any) -> Any:
    """A dataclass or pydantic model as plain JSON-ready data."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    dump = getattr(obj, "model_dump", None)
    return dump(mode="json") if dump is not None else obj


def local(value: Any, lang: str) -> str | None:
    """A profile text (stored as {"fi": ..., "sv": ..., "en": ...}) in `lang`, else Finnish."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return value.get(lang) or value.get("fi")  # type: ignore[no-any-return]


def _row(mapping: Any, columns: Iterable[str]) -> dict[str, Any]:
    return {c: mapping[c] for c in columns}


async def stream_orders(
    *, session: AsyncSession, actor: Actor, customer_id: uuid.UUID, columns: tuple[str, ...]
) -> AsyncIterator[dict[str, Any]]:
    """The customer's orders, oldest first, `CHUNK` rows a round trip."""
    query = (
        scoped(_orders, actor, *(_orders.c[c] for c in columns))
        .where(_orders.c.customer_id == customer_id)
        .order_by(_orders.c.order_date, _orders.c.id)
        .execution_options(yield_per=CHUNK)
    )
    result = await session.stream(query)
    async for row in result:
        yield _row(row._mapping, columns)


async def array(items: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    """A JSON array of the items, sent `CHUNK` items at a time."""
    yield b"["
    first = True
    buffer: list[bytes] = []
    async for item in items:
        buffer.append(dumps(item) if first else b"," + dumps(item))
        first = False
        if len(buffer) >= CHUNK:
            yield b"".join(buffer)
            buffer.clear()
    buffer.append(b"]")
    yield b"".join(buffer)


__all__ = ["core_select"]
