"""Intake of a data subject request: when it arrived, whom in the register it is about, and which language the
answer is written in."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.actor import Actor
from app.errors import Unprocessable
from app.models.base import utcnow
from app.models.controllers import Controller
from app.models.customers import Customer
from app.models.intake import RequestCreate
from app.models.requests import GDPR_APPLIES, AnswerLanguage
from app.services import customers as customer_service
from app.tenancy import scoped


async def _match(*, session: AsyncSession, actor: Actor, data: RequestCreate) -> uuid.UUID | None:
    """The one customer the person's details point to, if exactly one (never a guess between several)."""
    person = data.person
    if person is None:
        return None
    conditions = []
    if person.email:
        conditions.append(col(Customer.email) == person.email)
    if person.phone:
        conditions.append(col(Customer.phone) == person.phone)
    if person.external_id:
        conditions.append(col(Customer.external_id) == person.external_id)
    if not conditions:
        return None
    found = list(
        await session.scalars(
            scoped(Customer, actor, Customer.id).where(col(Customer.erased_at).is_(None), or_(*conditions)).limit(2)
        )
    )
    return found[0] if len(found) == 1 else None


def received_at(data: RequestCreate) -> dt.datetime:
    now = utcnow()
    received_at = data.received_at or now
    if received_at.tzinfo is None:
        raise Unprocessable("received_at needs a time zone.", loc=("body", "received_at"))
    if received_at > now + dt.timedelta(minutes=1):
        raise Unprocessable("received_at is in the future.", loc=("body", "received_at"))
    if received_at < GDPR_APPLIES:
        raise Unprocessable("received_at is before the GDPR applied (25 May 2018).", loc=("body", "received_at"))
    return received_at


async def linked(*, session: AsyncSession, actor: Actor, data: RequestCreate) -> Customer | None:
    """The customer the request is about: the one named, else the one the person's details match."""
    if data.customer_id is not None:
        customer = await session.scalar(scoped(Customer, actor).where(Customer.id == data.customer_id))
        if customer is None:
            raise Unprocessable("No such customer.", loc=("body", "customer_id"))
        return customer
    matched = await _match(session=session, actor=actor, data=data)
    if matched is None:
        return None
    return await customer_service.get_customer(session=session, actor=actor, customer_id=matched)


# The languages answers are written in, by BCP 47 tag or by name (in the language itself, or in fi/sv/en).
_LANGUAGE_NAMES = {
    AnswerLanguage.fi: {"fi", "fin", "finnish", "suomi", "suomeksi", "finska"},
    AnswerLanguage.sv: {"sv", "swe", "swedish", "svenska", "ruotsi", "ruotsiksi", "på svenska"},
    AnswerLanguage.en: {"en", "eng", "english", "englanti", "englanniksi", "engelska"},
}


def _answerable(language: str | None) -> AnswerLanguage | None:
    """The answer language the person's own is, if we answer in it ("en-GB", "English", "suomi")."""
    if not language:
        return None
    written = language.strip().casefold()
    primary = written.replace("_", "-").split("-")[0]
    for answer, names in _LANGUAGE_NAMES.items():
        if written in names or primary in names:
            return answer
    return None


async def answer_language(
    *, session: AsyncSession, actor: Actor, data: RequestCreate, customer: Customer | None
) -> AnswerLanguage:
    if data.answer_language is not None:
        return data.answer_language
    # Art. 12(1): concise and intelligible, so in the language the person wrote in, where we answer in it.
    written = _answerable(data.language)
    if written is not None:
        return written
    preferred: str | None = customer.preferred_language if customer is not None else None
    if preferred is None:
        controller = await session.get(Controller, actor.controller_id)
        preferred = controller.default_language if controller is not None else "fi"
    return AnswerLanguage(preferred)
