"""The right of access (GDPR Art. 15): the person's data and, tailored to them, what the law says they must
be told, as one JSON document streamed in constant memory (schema `rekisteri.access/1`, docs/exports.md)."""

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
from app.models.webhooks import Webhook, WebhookDelivery, WebhookEvent
from app.services import authorities, controllers, exports, marketing, notice_text, suppression
from app.services.exports import local as _local
from app.services.exports import plain as _plain
from app.services.webhooks import recipient_name
from app.tenancy import owned, same_tenant, scoped

SCHEMA = "rekisteri.access/1"
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


async def _recipients(*, session: AsyncSession, actor: Actor, customer_id: uuid.UUID) -> list[str]:
    """The systems that have received this person's data through webhooks."""
    rows = await session.execute(
        scoped(Webhook, actor, Webhook.description, Webhook.url)
        .distinct()
        .join(WebhookDelivery, same_tenant(WebhookDelivery, Webhook) & (WebhookDelivery.webhook_id == Webhook.id))
        .join(WebhookEvent, same_tenant(WebhookEvent, WebhookDelivery) & (WebhookEvent.id == WebhookDelivery.event_id))
        .where(WebhookEvent.subject_id == customer_id)
    )
    return sorted({recipient_name(d, u) for d, u in rows})


def _information(controller: Controller, customer: Customer, recipients: list[str], lang: str) -> dict[str, Any]:
    """Art. 15(1)(a)-(h) and 15(2), from the controller's profile, tailored to this person."""
    notice: dict[str, Any] = controller.profile.get("notice") or {}
    words = notice_text.texts(lang)
    held = sorted(
        name
        for name in Customer.model_fields
        if name
        in PROVIDED_FIELDS + OBSERVED_FIELDS + ("customer_number", "external_id", "source", "kind", "payment_terms")
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


async def document(*, session: AsyncSession, actor: Actor, customer_id: uuid.UUID, lang: str) -> AsyncIterator[bytes]:
    """The access answer: all the person's data and the information Art. 15 requires, as one JSON object."""
    controller = await session.get(Controller, actor.controller_id)
    assert controller is not None
    customer = await exports.load_customer(session=session, actor=actor, customer_id=customer_id)
    recipients = await _recipients(session=session, actor=actor, customer_id=customer_id)
    state = await marketing.state(session=session, actor=actor, customer_id=customer_id)
    # The do-not-contact lists the person is on: personal data too, and from a source they should know of.
    listed = await suppression.matches_of(session=session, actor=actor, customer=customer)
    requests = await session.scalars(
        scoped(SubjectRequest, actor)
        .where(SubjectRequest.customer_id == customer_id)
        .order_by(col(SubjectRequest.received_at))
    )
    head = {
        "schema": SCHEMA,
        "generated_at": utcnow(),
        "controller": controllers.contact(controller),
        "information": _information(controller, customer, recipients, lang),
        "customer": customer.model_dump(exclude={"controller_id"}),
        "marketing": state.model_dump(mode="json"),
        "suppression_lists": [m.model_dump(mode="json") for m in listed],
        "requests": [r.model_dump(exclude={"controller_id"}) for r in requests],
    }
    yield dumps(head)[:-1] + b',"orders":'
    orders = exports.stream_orders(session=session, actor=actor, customer_id=customer_id, columns=exports.ORDER_COLUMNS)
    async for chunk in exports.array(orders):
        yield chunk
    yield b',"audit_history":'
    async for chunk in exports.array(_stream_audit(session=session, actor=actor, customer_id=customer_id)):
        yield chunk
    yield b"}"
