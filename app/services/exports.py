"""Access (Art. 15) and portability (Art. 20) exports, streamed so that any number of orders fits in memory.

The documents' schemas are versioned (`schema` field) and described in docs/exports.md.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import uuid
import zipfile
from collections.abc import AsyncIterator, Iterable
from typing import Any

from sqlalchemy import and_
from sqlalchemy import select as core_select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlmodel import col, select

from app import audit
from app.errors import NotFound
from app.json import dumps
from app.models.audit import AuditAction, AuditEvent
from app.models.base import utcnow
from app.models.controllers import Controller
from app.models.customers import Customer
from app.models.orders import Order
from app.models.requests import SubjectRequest
from app.models.webhooks import Webhook, WebhookDelivery, WebhookEvent
from app.security import Actor, system_actor
from app.services import authorities, marketing, notices
from app.services.webhooks import recipient_name

ACCESS_SCHEMA = "rekisteri.access/1"
PORTABILITY_SCHEMA = "rekisteri.portability/1"
CHUNK = 500  # rows fetched per round trip
ZIP_CHUNK = 64 * 1024  # compressed bytes sent at a time

# Art. 20 covers what the person gave us and what their use of the service shows; not what we derived.
PROVIDED = (
    "first_name",
    "last_name",
    "organisation",
    "title",
    "business_id",
    "email",
    "phone",
    "street_address",
    "postal_code",
    "city",
    "country",
    "website",
    "preferred_language",
    "newsletter",
    "payment_method",
    "delivery_method",
)
OBSERVED = ("ip_address",)
ORDER_COLUMNS = ("id", "external_id", "order_date", "lines", "total", "currency", "invoice_status", "created_at")
PORTABLE_ORDER_COLUMNS = ("id", "external_id", "order_date", "lines", "total", "currency")


def _texts(fi: str, sv: str, en: str) -> dict[str, str]:
    return {"fi": fi, "sv": sv, "en": en}


# Art. 15(1)(e)-(f): the rights, by article, in the words of the privacy notice (app/data/notice/texts.toml).
RIGHTS = (
    ("access", "15"),
    ("rectification", "16"),
    ("erasure", "17"),
    ("restriction", "18"),
    ("portability", "20"),
    ("objection", "21"),
    ("prohibition", "21(2)-(3)"),
    ("consent", "7(3)"),
    ("complaint", "77"),
    ("judicial_remedy", "79"),
)
_WORDING = {"complaint": "complaint_right"}
# Art. 15(1)(d): the period or, where the notice names none, the criteria that set it: the purpose, and the
# Accounting Act (kirjanpitolaki 1336/1997, chapter 2, section 10) for orders and invoices.
RETENTION_CRITERIA = [
    {
        "category": _texts("Asiakastiedot", "Kunduppgifter", "customer data"),
        "period": _texts(
            "Tietoja säilytetään asiakassuhteen ajan ja sen jälkeen vain niin kauan kuin ne ovat tarpeen "
            "käsittelyn tarkoituksiin tai laki niin edellyttää.",
            "Uppgifterna sparas under kundförhållandet och därefter bara så länge de behövs för ändamålen "
            "med behandlingen eller lagen kräver det.",
            "Kept for the customer relationship and afterwards only as long as the purposes of the processing "
            "need them or the law requires.",
        ),
    },
    {
        "category": _texts("Kirjanpitoaineisto", "Bokföringsmaterial", "accounting records"),
        "period": _texts(
            "Tilauksiin liittyvät kirjanpidon tositteet (esim. laskut) vähintään kuusi vuotta ja kirjanpitokirjat "
            "vähintään 10 vuotta tilikauden päättymisvuoden lopusta (kirjanpitolaki 1336/1997, 2 luku 10 §).",
            "Bokföringsverifikationer för beställningar (t.ex. fakturor) minst sex år och bokföringsböcker minst "
            "10 år från utgången av det år då räkenskapsperioden upphörde (Finlands bokföringslag 1336/1997, "
            "2 kap. 10 §).",
            "Accounting vouchers for orders (e.g. invoices) at least six years, and books of account at least 10 "
            "years, from the end of the year in which the financial year ended (Accounting Act 1336/1997, "
            "chapter 2, section 10).",
        ),
    },
]

_orders = Order.__table__  # type: ignore[attr-defined]
_events = AuditEvent.__table__  # type: ignore[attr-defined]


def record_disclosure(
    session: AsyncSession, actor: Actor, customer_id: uuid.UUID, kind: str, request_id: uuid.UUID | None
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


async def _customer(session: AsyncSession, controller_id: uuid.UUID, customer_id: uuid.UUID) -> Customer:
    customer = await session.scalar(
        select(Customer).where(Customer.controller_id == controller_id, Customer.id == customer_id)
    )
    if customer is None:
        raise NotFound("No such customer.")
    return customer


def _plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    dump = getattr(obj, "model_dump", None)
    return dump(mode="json") if dump is not None else obj


def _local(value: Any, lang: str) -> str | None:
    """A profile text (stored as {"fi": ..., "sv": ..., "en": ...}) in `lang`, else Finnish."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return value.get(lang) or value.get("fi")  # type: ignore[no-any-return]


def _controller(controller: Controller) -> dict[str, Any]:
    return {
        "name": controller.name,
        "business_id": controller.business_id,
        "street_address": controller.street_address,
        "postal_code": controller.postal_code,
        "city": controller.city,
        "country": controller.country,
        "phone": controller.phone,
        "email": controller.email,
        "website": controller.website,
        "contact_person": {
            "name": controller.contact_name,
            "title": controller.contact_title,
            "phone": controller.contact_phone,
            "email": controller.contact_email,
        },
        "register": controller.register_name,
    }


async def _recipients(session: AsyncSession, controller_id: uuid.UUID, customer_id: uuid.UUID) -> list[str]:
    """The systems that have received this person's data through webhooks."""
    rows = await session.execute(
        select(Webhook.description, Webhook.url)
        .distinct()
        .join(
            WebhookDelivery,
            and_(
                col(WebhookDelivery.controller_id) == Webhook.controller_id,
                col(WebhookDelivery.webhook_id) == Webhook.id,
            ),
        )
        .join(
            WebhookEvent,
            and_(
                col(WebhookEvent.controller_id) == WebhookDelivery.controller_id,
                col(WebhookEvent.id) == WebhookDelivery.event_id,
            ),
        )
        .where(WebhookEvent.controller_id == controller_id, WebhookEvent.subject_id == customer_id)
    )
    return sorted({recipient_name(d, u) for d, u in rows})


def _information(controller: Controller, customer: Customer, recipients: list[str], lang: str) -> dict[str, Any]:
    """Art. 15(1)(a)-(h) and 15(2), from the controller's profile, tailored to this person."""
    notice: dict[str, Any] = controller.profile.get("notice") or {}
    words = notices.texts(lang)
    held = sorted(
        name
        for name in Customer.model_fields
        if name in PROVIDED + OBSERVED + ("customer_number", "external_id", "source", "kind", "payment_terms")
        and getattr(customer, name) is not None
    )
    return {
        "purposes": [_local(v, lang) for v in notice.get("purposes", [])],
        "legal_basis": _local(notice.get("legal_basis"), lang),
        "provision_requirement": _local(notice.get("provision_requirement"), lang),
        "legitimate_interest": _local(notice.get("legitimate_interest"), lang),
        "categories_of_data": [_local(v, lang) for v in notice.get("data_categories", [])],
        "groups_of_data": [_local(v, lang) for v in notice.get("data_groups", [])],
        "your_data_held": held,
        "recipients": [_local(v, lang) for v in notice.get("recipients", [])],
        "categories_of_recipients": [_local(v, lang) for v in notice.get("recipient_categories", [])],
        "recipients_of_your_data": recipients,
        "regular_disclosures": [_local(v, lang) for v in notice.get("disclosures", [])],
        "transfers_outside_eea": _local(notice.get("transfers"), lang),
        "transfer_safeguards": _local(notice.get("transfer_safeguards"), lang),  # Art. 15(2)
        "retention": [
            {"category": _local(r.get("category"), lang), "period": _local(r.get("period"), lang)}
            for r in notice.get("retention") or RETENTION_CRITERIA
        ],
        "source": {
            "your_record": customer.source,
            "regular_sources": [_local(v, lang) for v in notice.get("sources", [])],
        },
        "automated_decision_making": _local(notice.get("automated_decisions"), lang) or words["not_stated"],
        "restricted_since": customer.restricted_since,
        "erased_at": customer.erased_at,
        "rights": [
            {"right": right, "article": article, "how": words["rights"][_WORDING.get(right, right)][1]}
            for right, article in RIGHTS
        ],
        "complaint_authorities": [_plain(a) for a in authorities.for_person(customer.country)],
    }


def _row(mapping: Any, columns: Iterable[str]) -> dict[str, Any]:
    return {c: mapping[c] for c in columns}


async def _stream_orders(
    session: AsyncSession, controller_id: uuid.UUID, customer_id: uuid.UUID, columns: tuple[str, ...]
) -> AsyncIterator[dict[str, Any]]:
    query = (
        core_select(*(_orders.c[c] for c in columns))
        .where(_orders.c.controller_id == controller_id, _orders.c.customer_id == customer_id)
        .order_by(_orders.c.order_date, _orders.c.id)
        .execution_options(yield_per=CHUNK)
    )
    result = await session.stream(query)
    async for row in result:
        yield _row(row._mapping, columns)


async def _subjects(session: AsyncSession, controller_id: uuid.UUID, customer_id: uuid.UUID) -> set[uuid.UUID]:
    ids = await session.scalars(
        select(SubjectRequest.id).where(
            SubjectRequest.controller_id == controller_id,
            SubjectRequest.customer_id == customer_id,
        )
    )
    return {customer_id, *ids}


async def _stream_audit(
    session: AsyncSession, controller_id: uuid.UUID, customer_id: uuid.UUID
) -> AsyncIterator[dict[str, Any]]:
    subjects = await _subjects(session, controller_id, customer_id)
    keyring = audit.default_keyring()

    def keys(sync: Session) -> dict[uuid.UUID, bytes | None]:
        return audit.subject_keys(sync, keyring, controller_id, subjects, create=False)

    found = await session.run_sync(keys)
    query = (
        core_select(_events)
        .where(_events.c.controller_id == controller_id, _events.c.subject_id.in_(subjects))
        .order_by(_events.c.seq)
        .execution_options(yield_per=CHUNK)
    )
    result = await session.stream(query)
    async for row in result:
        changes = audit.read_changes(row, found.get(row.subject_id))
        yield {
            "seq": row.seq,
            "occurred_at": row.occurred_at,
            "by_role": row.actor_role,
            "entity": row.entity,
            "entity_id": row.entity_id,
            "action": row.action,
            "fields": list(row.fields),
            "changes": changes,
        }


async def _array(items: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
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


async def access_document(
    session: AsyncSession, controller_id: uuid.UUID, customer_id: uuid.UUID, lang: str
) -> AsyncIterator[bytes]:
    """The access answer: all the person's data and the information Art. 15 requires, as one JSON object."""
    controller = await session.get(Controller, controller_id)
    assert controller is not None
    customer = await _customer(session, controller_id, customer_id)
    recipients = await _recipients(session, controller_id, customer_id)
    actor = system_actor(controller_id, "export")
    state = await marketing.state(session=session, actor=actor, customer_id=customer_id)
    requests = await session.scalars(
        select(SubjectRequest)
        .where(
            SubjectRequest.controller_id == controller_id,
            SubjectRequest.customer_id == customer_id,
        )
        .order_by(col(SubjectRequest.received_at))
    )
    head = {
        "schema": ACCESS_SCHEMA,
        "generated_at": utcnow(),
        "controller": _controller(controller),
        "information": _information(controller, customer, recipients, lang),
        "customer": customer.model_dump(exclude={"controller_id"}),
        "marketing": state.model_dump(mode="json"),
        "requests": [r.model_dump(exclude={"controller_id"}) for r in requests],
    }
    yield dumps(head)[:-1] + b',"orders":'
    async for chunk in _array(_stream_orders(session, controller_id, customer_id, ORDER_COLUMNS)):
        yield chunk
    yield b',"audit_history":'
    async for chunk in _array(_stream_audit(session, controller_id, customer_id)):
        yield chunk
    yield b"}"


async def _portable_head(session: AsyncSession, controller_id: uuid.UUID, customer_id: uuid.UUID) -> dict[str, Any]:
    controller = await session.get(Controller, controller_id)
    assert controller is not None
    customer = await _customer(session, controller_id, customer_id)
    actor = system_actor(controller_id, "export")
    state = await marketing.state(session=session, actor=actor, customer_id=customer_id)
    return {
        "schema": PORTABILITY_SCHEMA,
        "generated_at": utcnow(),
        "controller": {"name": controller.name, "business_id": controller.business_id},
        "provided": {k: getattr(customer, k) for k in PROVIDED if getattr(customer, k) is not None},
        "observed": {k: getattr(customer, k) for k in OBSERVED if getattr(customer, k) is not None},
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


async def portability_document(
    session: AsyncSession, controller_id: uuid.UUID, customer_id: uuid.UUID
) -> AsyncIterator[bytes]:
    """What the person provided or generated by their use (Art. 20), as one JSON object."""
    head = await _portable_head(session, controller_id, customer_id)
    yield dumps(head)[:-1] + b',"orders":'
    async for chunk in _array(_stream_orders(session, controller_id, customer_id, PORTABLE_ORDER_COLUMNS)):
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

person.csv              the data you provided (field, value) and observed from your use
marketing_choices.csv   your marketing consents, prohibitions and objections
orders.csv              your orders, one per line
order_lines.csv         the lines of each order (order_id refers to orders.csv)

The same data as one JSON document: ask for format=json. Schema: docs/exports.md.
"""


async def portability_zip(
    session: AsyncSession, controller_id: uuid.UUID, customer_id: uuid.UUID
) -> AsyncIterator[bytes]:
    """The portability export as CSV files in a zip, written as it streams."""
    head = await _portable_head(session, controller_id, customer_id)
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", README.format(schema=PORTABILITY_SCHEMA))
        with archive.open("person.csv", "w") as f:
            f.write(_csv_row(["field", "value"]))
            for name, value in {**head["provided"], **head["observed"]}.items():
                f.write(_csv_row([name, value]))
        with archive.open("marketing_choices.csv", "w") as f:
            f.write(_csv_row(["channel", "action", "occurred_at", "received_via", "wording"]))
            for h in head["marketing_choices"]:
                f.write(_csv_row([h["channel"], h["action"], h["occurred_at"], h["received_via"], h["wording"]]))
        if sink.size:
            yield sink.take()
        with archive.open("orders.csv", "w", force_zip64=True) as f:
            f.write(_csv_row(["order_id", "external_id", "order_date", "total", "currency"]))
            async for order in _stream_orders(session, controller_id, customer_id, PORTABLE_ORDER_COLUMNS):
                f.write(_csv_row([order[c] for c in ("id", "external_id", "order_date", "total", "currency")]))
                if sink.full():
                    yield sink.take()
        if sink.size:
            yield sink.take()
        with archive.open("order_lines.csv", "w", force_zip64=True) as f:
            f.write(_csv_row(["order_id", "line", "description", "quantity", "unit_price", "sku"]))
            async for order in _stream_orders(session, controller_id, customer_id, ("id", "lines")):
                for number, line in enumerate(order["lines"], 1):
                    f.write(
                        _csv_row(
                            [
                                order["id"],
                                number,
                                line.get("description"),
                                line.get("quantity"),
                                line.get("unit_price"),
                                line.get("sku"),
                            ]
                        )
                    )
                if sink.full():
                    yield sink.take()
    yield sink.take()
