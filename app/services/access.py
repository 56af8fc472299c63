"""The right of access (GDPR Art. 15): the person's data and, tailored to them, what the law says they must
be told, as one JSON document streamed in constant memory (schema `rekisteri.access/2`, docs/exports.md)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import select as core_select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlmodel import col

from app import audit, subject_keys
from app.actor import Actor
from app.json import dumps
from app.models.audit import AuditEvent
from app.models.base import utcnow
from app.models.controllers import Controller
from app.models.customers import OBSERVED_FIELDS, PROVIDED_FIELDS, Customer
from app.models.requests import Complete, SubjectRequest
from app.services import authorities, controllers, disclosures, exports, marketing, notice_text, suppression
from app.services.exports import local as _local
from app.services.exports import plain as _plain
from app.tenancy import owned, scoped

SCHEMA = "rekisteri.access/2"
ERASED_OK = True  # what is still held about an erased person may be asked for too
CUSTOMER_OPTIONAL = True  # a person not in the register is told so ("nothing held")

_ALSO_HELD = ("customer_number", "external_id", "source", "kind", "payment_terms")
_events = AuditEvent.__table__  # type: ignore[attr-defined]


async def on_receipt(*, session: AsyncSession, actor: Actor, request: SubjectRequest, customer: Customer) -> None:
    """Nothing happens on receipt: the export is made when the request is completed."""


async def carry_out(
    *, session: AsyncSession, actor: Actor, request: SubjectRequest, customer: Customer, data: Complete
) -> dict[str, Any]:
    """Make the export available with the request; it is generated when downloaded."""
    return {
        "found": True,
        "export": {"kind": request.type.value, "url": f"/v1/requests/{request.id}/export", "formats": ["json"]},
    }


async def on_refusal(*, session: AsyncSession, actor: Actor, request: SubjectRequest, customer: Customer) -> None:
    """A refused access request changes nothing."""


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


# Art. 15(1)(g): the data about the person that came from somewhere; the rest of the record (customer number,
# identifiers, kind, terms) is the controller's own.
_SOURCED = PROVIDED_FIELDS + OBSERVED_FIELDS
OBSERVED = "observed"


def _sources(customer: Customer, held: list[str], lang: str) -> dict[str, Any]:
    """Art. 15(1)(g): where each value came from, in words; a value written before sources were kept stands
    under the record's own source, one with neither is said to have none recorded, and what the service
    observed (the IP address) is said to be observed."""
    said = exports.words(lang)

    def in_words(code: str | None) -> str:
        return str(said["origins"].get(code or "unknown") or said["origins"]["unknown"])

    record = customer.source.value if customer.source is not None else None
    fields = []
    for name in (n for n in held if n in _SOURCED):
        code = OBSERVED if name in OBSERVED_FIELDS else customer.field_sources.get(name) or record
        fields.append(
            {
                "field": name,
                "field_in_words": said["fields"].get(name, name),
                "source": code,
                "in_words": in_words(code),
            }
        )
    return {"your_record": record, "your_record_in_words": in_words(record), "fields": fields}


def _bases(purposes: list[Any], lang: str) -> list[dict[str, Any]]:
    """Each purpose with its Art. 6(1) basis in words (and the interest or the law it names)."""
    bases = notice_text.texts(lang)["bases"]
    return [
        {
            "purpose": _local(p, lang),
            "basis": p.get("basis") if isinstance(p, dict) else None,
            "in_words": bases.get(p.get("basis")) if isinstance(p, dict) and p.get("basis") else None,
            "legitimate_interest": _local(p.get("legitimate_interest"), lang) if isinstance(p, dict) else None,
            "law": _local(p.get("law"), lang) if isinstance(p, dict) else None,
        }
        for p in purposes
    ]


def _held(customer: Customer) -> list[str]:
    """The fields that hold a value for this person."""
    return sorted(
        name
        for name in Customer.model_fields
        if name in PROVIDED_FIELDS + OBSERVED_FIELDS + _ALSO_HELD and getattr(customer, name) is not None
    )


def _information(
    controller: Controller, customer: Customer, received: list[disclosures.Received], lang: str
) -> dict[str, Any]:
    """Art. 15(1)(a)-(h) and 15(2), from the controller's profile, tailored to this person."""
    notice: dict[str, Any] = controller.profile.get("notice") or {}
    words = notice_text.texts(lang)
    held = _held(customer)
    actual, others = disclosures.recipients_of(received, disclosures.register_of(controller.profile), lang)
    return {
        "purposes": [_local(v, lang) for v in notice.get("purposes", [])],
        "legal_bases": _bases(notice.get("purposes", []), lang),
        "legal_basis": _local(notice.get("legal_basis"), lang),
        "provision_requirement": _local(notice.get("provision_requirement"), lang),
        "legitimate_interest": _local(notice.get("legitimate_interest"), lang),
        "categories_of_data": [_local(v, lang) for v in notice.get("data_categories", [])],
        "groups_of_data": [_local(v, lang) for v in notice.get("data_groups", [])],
        "your_data_held": held,
        # Art. 15(1)(c), CJEU C-154/21: who actually received the person's data, then everyone else it may go to.
        "recipients_of_your_data": actual,
        "other_recipients": others,
        "recipients": [_local(v, lang) for v in notice.get("recipients", [])],
        "categories_of_recipients": [_local(v, lang) for v in notice.get("recipient_categories", [])],
        "regular_disclosures": [_local(v, lang) for v in notice.get("disclosures", [])],
        "transfers_outside_eea": _local(notice.get("transfers"), lang),
        "transfer_safeguards": _local(notice.get("transfer_safeguards"), lang),  # Art. 15(2)
        "retention": [
            {"category": _local(r.get("category"), lang), "period": _local(r.get("period"), lang)}
            for r in notice.get("retention") or RETENTION_CRITERIA
        ],
        "source": {
            **_sources(customer, held, lang),
            "regular_sources": [_local(v, lang) for v in notice.get("sources", [])],
        },
        "automated_decision_making": _local(notice.get("automated_decisions"), lang) or words["not_stated"],
        "restricted_at": customer.restricted_at,
        "erased_at": customer.erased_at,
        "rights": [
            {"right": right, "article": article, "how": words["rights"][_WORDING.get(right, right)][1]}
            for right, article in RIGHTS
        ],
        "complaint_authorities": [
            _plain(a) for a in authorities.for_person(customer.country, controllers.region(controller))
        ],
    }


async def _subjects(*, session: AsyncSession, actor: Actor, customer_id: uuid.UUID) -> set[uuid.UUID]:
    ids = await session.scalars(
        scoped(SubjectRequest, actor, SubjectRequest.id).where(SubjectRequest.customer_id == customer_id)
    )
    return {customer_id, *ids}


async def _stream_audit(
    *, session: AsyncSession, actor: Actor, customer_id: uuid.UUID
) -> AsyncIterator[dict[str, Any]]:
    subjects = await _subjects(session=session, actor=actor, customer_id=customer_id)
    keyring = subject_keys.default_keyring()

    def keys(sync: Session) -> dict[uuid.UUID, bytes | None]:
        return subject_keys.subject_keys(sync, keyring, actor.controller_id, subjects, create=False)

    found = await session.run_sync(keys)
    query = (
        core_select(_events)
        .where(owned(_events, actor), _events.c.subject_id.in_(subjects))
        .order_by(_events.c.seq)
        .execution_options(yield_per=exports.CHUNK)
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


async def _gather(*, session: AsyncSession, actor: Actor, customer_id: uuid.UUID, lang: str) -> dict[str, Any]:
    """Everything the answer holds but the rows it streams (orders, audit history)."""
    controller = await session.get(Controller, actor.controller_id)
    assert controller is not None
    customer = await exports.load_customer(session=session, actor=actor, customer_id=customer_id)
    received = await disclosures.received(session=session, tenant=actor, customer_id=customer_id)
    requests = await session.scalars(
        scoped(SubjectRequest, actor)
        .where(SubjectRequest.customer_id == customer_id)
        .order_by(col(SubjectRequest.received_at))
    )
    return {
        "contact": controllers.contact(controller),
        "information": _information(controller, customer, received, lang),
        "customer": customer,
        "state": await marketing.state(session=session, actor=actor, customer_id=customer_id),
        # The do-not-contact lists the person is on: personal data too, and from a source they should know of.
        "listed": await suppression.matches_of(session=session, actor=actor, customer=customer),
        "requests": list(requests),
    }


async def document(*, session: AsyncSession, actor: Actor, customer_id: uuid.UUID, lang: str) -> AsyncIterator[bytes]:
    """The access answer: all the person's data and the information Art. 15 requires, as one JSON object."""
    parts = await _gather(session=session, actor=actor, customer_id=customer_id, lang=lang)
    head = {
        "schema": SCHEMA,
        "generated_at": utcnow(),
        "controller": parts["contact"],
        "information": parts["information"],
        "customer": parts["customer"].model_dump(exclude={"controller_id"}),
        "marketing": parts["state"].model_dump(mode="json"),
        "suppression_lists": [m.model_dump(mode="json") for m in parts["listed"]],
        "requests": [r.model_dump(exclude={"controller_id"}) for r in parts["requests"]],
    }
    yield dumps(head)[:-1] + b',"orders":'
    orders = exports.stream_orders(session=session, actor=actor, customer_id=customer_id, columns=exports.ORDER_COLUMNS)
    async for chunk in exports.array(orders):
        yield chunk
    yield b',"audit_history":'
    async for chunk in exports.array(_stream_audit(session=session, actor=actor, customer_id=customer_id)):
        yield chunk
    yield b"}"


# The person's fields as the page's first table shows them, in this order; the rest of the record below them.
_PAGE_FIELDS = (
    *("first_name", "last_name", "organisation", "title", "business_id", "email", "phone"),
    *("street_address", "postal_code", "city", "country", "website", "ip_address", "preferred_language"),
    *("newsletter", "payment_method", "payment_terms", "delivery_method", "customer_number", "external_id"),
    *("kind", "source", "relationship_start_date", "relationship_end_date", "created_at", "updated_at"),
    *("restricted_at", "restriction_ground", "restriction_fields", "erased_at", "id"),
)


def _in_words(name: str, value: Any, said: dict[str, Any]) -> Any:
    """A coded value of the person's record as the page says it: where it came from, what kind of customer, which
    language."""
    if value is None:
        return None
    table = {"source": "origins", "kind": "kinds", "preferred_language": "languages"}.get(name)
    return said[table].get(str(value), value) if table else value


async def page(*, session: AsyncSession, actor: Actor, customer_id: uuid.UUID, lang: str) -> AsyncIterator[bytes]:
    """The access answer as a page the person can read and print (Art. 12(1), 15(3)), in `lang`: the same
    information and data as `document`, in words, the data as tables; orders and audit history streamed."""
    parts = await _gather(session=session, actor=actor, customer_id=customer_id, lang=lang)
    customer: Customer = parts["customer"]
    said = exports.words(lang)
    rows = [(name, _in_words(name, getattr(customer, name), said)) for name in _PAGE_FIELDS]
    order = {name: n for n, name in enumerate(_PAGE_FIELDS)}
    parts["information"]["source"]["fields"].sort(key=lambda f: order.get(f["field"], len(order)))
    variables = {
        **parts,
        "info": parts["information"],
        "lang": lang,
        "w": said,
        "not_stated": notice_text.texts(lang)["not_stated"],
        "generated_at": utcnow(),
        "person_name": " ".join(p for p in (customer.first_name, customer.last_name) if p) or None,
        "customer_rows": [(name, value) for name, value in rows if value not in (None, [], "")],
        "order_columns": [c for c in exports.ORDER_COLUMNS if c != "id"],
        "orders": exports.stream_orders(
            session=session, actor=actor, customer_id=customer_id, columns=exports.ORDER_COLUMNS
        ),
        "audit": _stream_audit(session=session, actor=actor, customer_id=customer_id),
    }
    async for chunk in exports.html("access.html.j2", variables):
        yield chunk
