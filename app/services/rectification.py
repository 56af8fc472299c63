"""The right to rectification (GDPR Art. 16): the corrections the person asked for, applied through the
audited path unless refused with reasons, and told to every recipient (Art. 19)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.errors import Unprocessable, message_of
from app.models.customers import SUBJECT_REQUEST, Customer, CustomerUpdate
from app.models.requests import Complete, SubjectRequest
from app.models.webhooks import EventType
from app.services import customers as customer_service
from app.services import webhooks

ERASED_OK = False
CUSTOMER_OPTIONAL = False


def check(corrections: dict[str, Any]) -> None:
    """Refuse at intake a correction that could never be applied (not a field, not a valid value)."""
    try:
        CustomerUpdate.model_validate(corrections)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = ("body", "rectification", "corrections", *(str(p) for p in error["loc"]))
        raise Unprocessable(f"Not a valid correction: {message_of(error)}.", loc=loc) from None


async def on_receipt(*, session: AsyncSession, actor: Actor, request: SubjectRequest, customer: Customer) -> None:
    """Nothing changes on receipt: the corrections are weighed first."""


async def carry_out(
    *, session: AsyncSession, actor: Actor, request: SubjectRequest, customer: Customer, data: Complete
) -> dict[str, Any]:
    """Apply the corrections but those refused (each with its reason)."""
    corrections: dict[str, Any] = request.params["corrections"]
    unknown = sorted(set(data.refuse_fields) - set(corrections))
    if unknown:
        raise Unprocessable(
            "refuse_fields names fields the person did not ask to correct: " + ", ".join(unknown),
            loc=("body", "refuse_fields"),
        )
    return await rectify(
        session=session, actor=actor, customer=customer, corrections=corrections, refused=data.refuse_fields
    )


async def on_refusal(*, session: AsyncSession, actor: Actor, request: SubjectRequest, customer: Customer) -> None:
    """A refused rectification changes nothing."""


async def rectify(
    *, session: AsyncSession, actor: Actor, customer: Customer, corrections: dict[str, Any], refused: dict[str, str]
) -> dict[str, Any]:
    """Apply the corrections not refused, through the audited path; tell the recipients."""
    refused = dict(refused)
    if customer.restricted_at is not None:
        # GDPR Art. 18(2): while restricted, only the correction under review may change the data.
        for name in corrections:
            if name not in customer.restriction_fields and name not in refused:
                refused[name] = "Processing is restricted; only the contested fields may be corrected meanwhile."
    wanted = {k: v for k, v in corrections.items() if k not in refused}
    checked = CustomerUpdate.model_validate(wanted)
    values = checked.model_dump(include=set(wanted))
    as_json = checked.model_dump(mode="json", include=set(wanted))
    applied = sorted(k for k, v in values.items() if getattr(customer, k) != v)
    # The person's own correction (Art. 16): they provided these values.
    customer_service.apply(customer, values, source=SUBJECT_REQUEST)
    await session.flush()
    recipients: list[str] = []
    if applied:
        recipients = await webhooks.enqueue(
            session=session,
            actor=actor,
            event_type=EventType.customer_rectified,
            subject_id=customer.id,
            data={
                "customer_id": str(customer.id),
                "external_id": customer.external_id,
                "fields": {k: as_json[k] for k in applied},
            },
        )
    return {"applied": sorted(values), "changed": applied, "refused": refused, "recipients_notified": recipients}
