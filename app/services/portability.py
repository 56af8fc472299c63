"""The right to data portability (GDPR Art. 20): what the person provided, and what their use of the service
shows, as one JSON document (schema `rekisteri.portability/1`) or CSV files in a zip, streamed."""

from __future__ import annotations

import csv
import io
import uuid
import zipfile
from collections.abc import AsyncIterator, Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.json import dumps
from app.models.base import utcnow
from app.models.controllers import Controller
from app.models.customers import (
    NOT_PROVIDED,
    OBSERVED_FIELDS,
    PROVIDED_FIELDS,
    SUBJECT_REQUEST,
    Customer,
    DataSource,
)
from app.models.requests import Complete, SubjectRequest
from app.services import exports, marketing

SCHEMA = "rekisteri.portability/1"
ZIP_CHUNK = 64 * 1024  # compressed bytes sent at a time
ERASED_OK = True  # what is still held about an erased person may be asked for too
CUSTOMER_OPTIONAL = True  # a person not in the register is told so ("nothing held")


async def on_receipt(*, session: AsyncSession, actor: Actor, request: SubjectRequest, customer: Customer) -> None:
    """Nothing happens on receipt: the export is made when the request is completed."""


async def carry_out(
    *, session: AsyncSession, actor: Actor, request: SubjectRequest, customer: Customer, data: Complete
) -> dict[str, Any]:
    """Make the export available with the request, as JSON or a zip of CSV files."""
    return {
        "found": True,
        "export": {"kind": request.type.value, "url": f"/v1/requests/{request.id}/export", "formats": ["json", "zip"]},
    }


async def on_refusal(*, session: AsyncSession, actor: Actor, request: SubjectRequest, customer: Customer) -> None:
    """A refused portability request changes nothing."""


# Art. 20(1): why each field is in the export, by where its value came from (customer.field_sources).
WHY = {
    DataSource.registration.value: "you gave it when you registered",
    DataSource.purchase.value: "you gave it when you bought from us",
    DataSource.customer_service.value: "you gave it to our customer service",
    SUBJECT_REQUEST: "you gave it as a correction of your data",
    None: "you gave it, as far as our records show (where it came from was not recorded)",
}
LEFT_OUT = {
    DataSource.update_service.value: "obtained from an address update service, not provided by you",
    DataSource.partner.value: "obtained from a partner, not provided by you",
}
OBSERVED_WHY = "observed from your use of our service"


def _source(customer: Customer, name: str) -> str | None:
    """Where the field's value came from: as written, else the record's source (written before they were kept)."""
    return customer.field_sources.get(name) or (customer.source.value if customer.source is not None else None)


def _portable(customer: Customer) -> dict[str, dict[str, Any]]:
    """The fields Art. 20(1) covers, each with why it is included; and those left out, with why."""
    held = {name: getattr(customer, name) for name in PROVIDED_FIELDS if getattr(customer, name) is not None}
    sources = {name: _source(customer, name) for name in held}
    provided = {name: value for name, value in held.items() if sources[name] not in NOT_PROVIDED}
    observed = {name: getattr(customer, name) for name in OBSERVED_FIELDS if getattr(customer, name) is not None}
    return {
        "provided": provided,
        "observed": observed,
        "why_included": {name: WHY.get(sources[name], WHY[None]) for name in provided}
        | dict.fromkeys(observed, OBSERVED_WHY),
        "left_out": {name: LEFT_OUT[source] for name, source in sources.items() if source in NOT_PROVIDED},
    }


async def _head(*, session: AsyncSession, actor: Actor, customer_id: uuid.UUID) -> dict[str, Any]:
    controller = await session.get(Controller, actor.controller_id)
    assert controller is not None
    customer = await exports.load_customer(session=session, actor=actor, customer_id=customer_id)
    state = await marketing.state(session=session, actor=actor, customer_id=customer_id)
    return {
        "schema": SCHEMA,
        "generated_at": utcnow(),
        "controller": {"name": controller.name, "business_id": controller.business_id},
        **_portable(customer),
        "marketing_choices": [
            {
                "channel": h.channel,
                "action": h.action,
                "occurred_at": h.occurred_at,
                "received_via": h.received_via,
                "wording": h.wording,
            }
            for h in state.history
        ],
    }


def _orders(
    *, session: AsyncSession, actor: Actor, customer_id: uuid.UUID, columns: tuple[str, ...] = ()
) -> AsyncIterator[dict[str, Any]]:
    return exports.stream_orders(
        session=session, actor=actor, customer_id=customer_id, columns=columns or exports.PORTABLE_ORDER_COLUMNS
    )


async def document(*, session: AsyncSession, actor: Actor, customer_id: uuid.UUID) -> AsyncIterator[bytes]:
    """What the person provided or generated by their use (Art. 20), as one JSON object."""
    head = await _head(session=session, actor=actor, customer_id=customer_id)
    yield dumps(head)[:-1] + b',"orders":'
    async for chunk in exports.array(_orders(session=session, actor=actor, customer_id=customer_id)):
        yield chunk
    yield b"}"


class _Sink(io.RawIOBase):
    """A write-only, unseekable file that hands what is written to the streaming response."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        # The compressor hands over an empty string for most rows: keep none, or they go out as empty chunks.
        if data:
            self.parts.append(bytes(data))
            self.size += len(data)
        return len(data)

    def full(self) -> bool:
        return self.size >= ZIP_CHUNK

    def take(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        self.size = 0
        return out


def _csv_row(values: Iterable[Any]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerow(["" if v is None else (v.value if hasattr(v, "value") else v) for v in values])
    return out.getvalue().encode()


README = """Rekisteri data portability export ({schema})

person.csv              the data you provided and observed from your use (field, value, why it is here)
marketing_choices.csv   your marketing consents, prohibitions and objections
orders.csv              your orders, one per line
order_lines.csv         the lines of each order (order_id refers to orders.csv)

The same data as one JSON document: ask for format=json. Schema: docs/exports.md.
"""


def _small_files(zipped: zipfile.ZipFile, head: dict[str, Any]) -> None:
    zipped.writestr("README.txt", README.format(schema=SCHEMA))
    with zipped.open("person.csv", "w") as f:
        f.write(_csv_row(["field", "value", "why_included"]))
        for name, value in {**head["provided"], **head["observed"]}.items():
            f.write(_csv_row([name, value, head["why_included"][name]]))
    with zipped.open("marketing_choices.csv", "w") as f:
        f.write(_csv_row(["channel", "action", "occurred_at", "received_via", "wording"]))
        for h in head["marketing_choices"]:
            f.write(_csv_row([h["channel"], h["action"], h["occurred_at"], h["received_via"], h["wording"]]))


_LINE_COLUMNS = ("description", "quantity", "unit_price", "sku")


async def archive(*, session: AsyncSession, actor: Actor, customer_id: uuid.UUID) -> AsyncIterator[bytes]:
    """The portability export as CSV files in a zip, written as it streams."""
    head = await _head(session=session, actor=actor, customer_id=customer_id)
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        _small_files(zipped, head)
        if sink.size:
            yield sink.take()
        with zipped.open("orders.csv", "w", force_zip64=True) as f:
            f.write(_csv_row(["order_id", "external_id", "order_date", "total", "currency"]))
            async for order in _orders(session=session, actor=actor, customer_id=customer_id):
                f.write(_csv_row([order[c] for c in ("id", "external_id", "order_date", "total", "currency")]))
                if sink.full():
                    yield sink.take()
        if sink.size:
            yield sink.take()
        with zipped.open("order_lines.csv", "w", force_zip64=True) as f:
            f.write(_csv_row(["order_id", "line", *_LINE_COLUMNS]))
            async for order in _orders(session=session, actor=actor, customer_id=customer_id, columns=("id", "lines")):
                for number, line in enumerate(order["lines"], 1):
                    f.write(_csv_row([order["id"], number, *(line.get(c) for c in _LINE_COLUMNS)]))
                if sink.full():
                    yield sink.take()
    yield sink.take()
