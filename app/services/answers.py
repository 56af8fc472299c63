"""What the answer letter to the person says: the request's present state, the person, the controller and
the authorities they may complain to, gathered into a `LetterContext` for `app.services.letters` to render."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.errors import Conflict
from app.models.controllers import Controller
from app.models.customers import Customer
from app.models.recipients import ProfileRecipient
from app.models.requests import OPEN_STATUSES, AnswerLanguage, RequestStatus, SubjectRequest
from app.services import authorities, controllers, deadlines, disclosures, exports, notice_text
from app.services.letters import LetterContext, LetterKind
from app.tenancy import scoped

_KINDS: dict[RequestStatus, LetterKind] = {
    RequestStatus.completed: "completion",
    RequestStatus.refused: "refusal",
    RequestStatus.awaiting_identity: "identity",
}


def _kind(request: SubjectRequest) -> LetterKind:
    kind = _KINDS.get(request.status)
    if kind is None and request.extension_months is not None and request.status in OPEN_STATUSES:
        kind = "extension"
    if kind is None:
        raise Conflict(
            "Nothing to tell the person yet: a letter exists once the request is completed, refused or extended, "
            "or while proof of identity is awaited."
        )
    return kind


def _for_letter(outcome: dict[str, Any]) -> dict[str, Any]:
    """The outcome as the letter tells it: the export goes with the letter, not as an API path."""
    if "export" not in outcome:
        return outcome
    return {**outcome, "export": {k: v for k, v in outcome["export"].items() if k != "url"}}


def _addressee(request: SubjectRequest, customer: Customer | None) -> tuple[str | None, list[str]]:
    """The person's name and postal address lines: the register's, else what the request gave."""
    person = request.person
    first = (customer.first_name if customer else None) or person.get("first_name")
    last = (customer.last_name if customer else None) or person.get("last_name")
    name = " ".join(p for p in (first, last) if p) or None
    source: Any = customer if customer is not None and customer.erased_at is None else None
    street = getattr(source, "street_address", None) or person.get("street_address")
    postal_parts = (
        getattr(source, "postal_code", None) or person.get("postal_code"),
        getattr(source, "city", None) or person.get("city"),
    )
    postal = " ".join(p for p in postal_parts if p)
    return name, [line for line in (street, postal) if line]


def _request(request: SubjectRequest) -> dict[str, Any]:
    return {
        "id": str(request.id),
        "type": request.type.value,
        "received_on": deadlines.local_date(request.received_at),
        "due_date": request.due_date,
        "original_due_date": request.original_due_date,
        "extension_months": request.extension_months,
        "extension_reason": request.extension_reason,
        "closed_on": deadlines.local_date(request.closed_at) if request.closed_at else None,
        "identity_reason": request.outcome.get("identity_reason"),
        "params": request.params,
    }


async def letter_context(
    *, session: AsyncSession, actor: Actor, request: SubjectRequest, language: AnswerLanguage | None
) -> LetterContext:
    """What the answer letter for the request's present state says."""
    kind = _kind(request)
    controller = await session.get(Controller, actor.controller_id)
    assert controller is not None
    customer = None
    if request.customer_id is not None:
        customer = await session.scalar(scoped(Customer, actor).where(Customer.id == request.customer_id))
    name, address = _addressee(request, customer)
    country = (customer.country if customer else None) or request.person.get("country")
    lang = (language or request.answer_language).value
    named = disclosures.register_of(controller.profile)
    disclosed = await _disclosed(session=session, actor=actor, request=request, customer=customer)
    return LetterContext(
        kind=kind,
        language=(language or request.answer_language).value,
        controller=controllers.contact(controller),
        request=_request(request),
        today=deadlines.today(),
        person_name=name,
        person_address=address,
        outcome=_for_letter(request.outcome),
        refusal_reasons=request.refusal_reasons,
        authorities=[dataclasses.asdict(a) for a in authorities.for_person(country, controllers.region(controller))],
        recipients=list(request.outcome.get("recipients_notified", [])),
        disclosed=[
            {**d, "category": disclosures.describe(named.get(d["recipient"]), lang)["category_in_words"]}
            for d in disclosed
        ],
        named_recipients=_named_recipients(controller, named, lang, {d["recipient"] for d in disclosed}),
    )


async def _disclosed(
    *, session: AsyncSession, actor: Actor, request: SubjectRequest, customer: Customer | None
) -> list[dict[str, Any]]:
    """Who received the person's data, and from when to when (Art. 15(1)(c), 19; CJEU C-154/21): as the
    erasure found it before the log went with the data, else from the log as it stands."""
    if "disclosed_to" in request.outcome:
        return list(request.outcome["disclosed_to"])
    if customer is None or customer.erased_at is not None:
        return []
    received = await disclosures.received(session=session, tenant=actor, customer_id=customer.id)
    return [disclosures.as_outcome(found) for found in received]


def _named_recipients(
    controller: Controller, named: dict[str, ProfileRecipient], lang: str, disclosed: set[str]
) -> list[str]:
    """The other recipients the controller's profile names (Art. 13(1)(e)): those of its register that have not
    received the person's data, each with its category, then the recipients and categories its notice names."""
    category = notice_text.texts(lang)["recipient_categories"]
    register = [f"{r.name} ({category[r.category]})" for r in named.values() if r.id not in disclosed]
    notice: dict[str, Any] = controller.profile.get("notice") or {}
    texts = [*notice.get("recipients", []), *notice.get("recipient_categories", [])]
    return register + [text for text in (exports.local(value, lang) for value in texts) if text]
