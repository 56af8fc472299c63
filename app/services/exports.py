"""What the access (Art. 15) and portability (Art. 20) exports share: rows streamed in constant memory.

The documents themselves are built by `access.document` and `portability.document` / `portability.archive`;
their schemas are versioned (`schema` field) and described in docs/exports.md.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import enum
import functools
import hashlib
import tomllib
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from importlib.resources import files
from typing import Any

import jinja2
from markupsafe import Markup
from sqlalchemy import select as core_select
from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.errors import NotFound
from app.json import dumps
from app.models.customers import Customer
from app.models.exports import ExportFormat, ExportKind
from app.models.orders import Order
from app.services import letters
from app.services.deadlines import HELSINKI
from app.services.letters import format_date
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

HTML = "text/html; charset=utf-8"
NOTHING = "\N{EN DASH}"  # stands in a table's cell for a value not held
PAGE_CHUNK = 64 * 1024  # characters of a page sent at a time

_orders = Order.__table__  # type: ignore[attr-defined]

Maker = Callable[[AsyncSession], AsyncIterator[bytes]]


@dataclasses.dataclass(frozen=True)
class Export:
    """An export ready to stream: what makes its bytes in a session, its media type and its file name; whether
    a browser shows it (else it is saved), and the Content-Security-Policy of a page."""

    make: Maker
    media_type: str
    filename: str
    inline: bool = False
    policy: str | None = None


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
    if fmt is ExportFormat.html:

        def page(session: AsyncSession) -> AsyncIterator[bytes]:
            return access.page(session=session, actor=actor, customer_id=customer_id, lang=lang)

        # Shown in the browser (Art. 12(1): a copy the person can read), and saved under its name.
        return Export(page, HTML, name + ".html", inline=True, policy=page_policy())

    def accessed(session: AsyncSession) -> AsyncIterator[bytes]:
        return access.document(session=session, actor=actor, customer_id=customer_id, lang=lang)

    return Export(accessed, "application/json", name + ".json")


async def load_customer(*, session: AsyncSession, actor: Actor, customer_id: uuid.UUID) -> Customer:
    """The customer the export is about."""
    customer = await session.scalar(scoped(Customer, actor).where(Customer.id == customer_id))
    if customer is None:
        raise NotFound("No such customer.")
    return customer


@functools.cache
def _all_words() -> dict[str, Any]:
    return tomllib.loads((files("app") / "data" / "exports" / "texts.toml").read_text(encoding="utf-8"))


def words(lang: str) -> dict[str, Any]:
    """The access answer's own words in `lang` (app/data/exports/texts.toml)."""
    return _all_words()[lang]  # type: ignore[no-any-return]


def category_words(category: str, lang: str) -> str:
    """A category of data (a disclosure's, or a customer field) in words."""
    said = words(lang)
    return str(said["categories"].get(category) or said["fields"].get(category) or category)


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


# --- pages ----------------------------------------------------------------------------------------------


@functools.cache
def _css() -> str:
    return (files("app") / "data" / "exports" / "access.css").read_text(encoding="utf-8")


def page_policy() -> str:
    """The page's Content-Security-Policy: nothing but its own stylesheet, named by its hash; no scripts, no
    images, nothing from another origin, never framed."""
    digest = base64.b64encode(hashlib.sha256(_css().encode()).digest()).decode()
    return (
        f"default-src 'none'; style-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def _moment(value: dt.datetime, lang: str) -> str:
    local_time = value.astimezone(HELSINKI) if value.tzinfo else value
    clock = f"{local_time:%H:%M}" if lang == "en" else f"{local_time:%H.%M}"
    return f"{format_date(local_time.date(), lang)} {clock}"


@jinja2.pass_context
def _when(context: jinja2.runtime.Context, value: Any) -> str:
    """A date or moment (or its ISO text) as the page's language writes it; a moment in Finnish time."""
    lang = str(context["lang"])
    if value is None:
        return NOTHING
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value) if "T" in value else dt.date.fromisoformat(value)
    if isinstance(value, dt.datetime):
        return _moment(value, lang)
    return format_date(value, lang)


@jinja2.pass_context
def _show(context: jinja2.runtime.Context, value: Any) -> str:
    """Any value of the person's data as text: yes or no, dates in the page's language, lists joined."""
    said = words(str(context["lang"]))
    if value is None or value == "":
        return NOTHING
    if isinstance(value, bool):
        return str(said["yes"] if value else said["no"])
    if isinstance(value, dt.date):
        return _when(context, value)
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, list | tuple):
        return ", ".join(_show(context, item) for item in value)
    if isinstance(value, dict):
        return dumps(value).decode()
    return str(value)


@jinja2.pass_context
def _field(context: jinja2.runtime.Context, name: Any) -> str:
    """A field's name in words."""
    return str(words(str(context["lang"]))["fields"].get(str(name), str(name)))


@functools.cache
def _environment() -> jinja2.Environment:
    # Every template here is a page: all of it escaped. Async: rows are read while the page streams.
    filters: dict[str, Callable[..., Any]] = {"when": _when, "show": _show, "field": _field}
    return letters.environment("exports", filters, escape_all=True, enable_async=True)


async def html(template: str, variables: dict[str, Any]) -> AsyncIterator[bytes]:
    """Render a page of app/data/exports as it streams, `PAGE_CHUNK` characters at a time: rows the variables
    iterate (async generators) are read while the page is sent, so memory stays flat however many there are."""
    pieces: list[str] = []
    size = 0
    page = _environment().get_template(template).generate_async(**variables, css=Markup(_css()))  # noqa: S704
    async for piece in page:
        pieces.append(piece)
        size += len(piece)
        if size >= PAGE_CHUNK:
            yield "".join(pieces).encode()
            pieces.clear()
            size = 0
    if pieces:
        yield "".join(pieces).encode()


__all__ = ["core_select"]
