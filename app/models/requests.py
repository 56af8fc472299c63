"""Data subject requests: every GDPR right the seed notices promise, as one workflow with a legal deadline."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)
from sqlalchemy import Column, Date, DateTime, ForeignKeyConstraint, Index, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field as SQLField
from sqlmodel import SQLModel

from app.models.base import WHITE_SPACE, IsoDateTime, created_at_field, id_field, tenant_field

# Reasons are written to the person: blank ones are no reasons at all (Art. 12(4)). The schema says so too: some
# character that is not white space.
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, pattern=f"[^{WHITE_SPACE}]")]
# The GDPR applies from 25 May 2018 (Art. 99(2)); a request cannot have been received under it earlier.
GDPR_APPLIES = dt.datetime(2018, 5, 25, tzinfo=dt.UTC)


class RequestType(enum.StrEnum):
    access = "access"  # Art. 15
    portability = "portability"  # Art. 20
    rectification = "rectification"  # Art. 16
    restriction = "restriction"  # Art. 18
    objection = "objection"  # Art. 21
    erasure = "erasure"  # Art. 17
    marketing_prohibition = "marketing_prohibition"  # Art. 21(2)-(3), kielto-oikeus


class RequestStatus(enum.StrEnum):
    received = "received"
    awaiting_identity = "awaiting_identity"
    in_progress = "in_progress"
    completed = "completed"
    refused = "refused"
    withdrawn = "withdrawn"


OPEN_STATUSES = (RequestStatus.received, RequestStatus.awaiting_identity, RequestStatus.in_progress)


class RequestChannel(enum.StrEnum):
    letter = "letter"
    email = "email"
    phone = "phone"
    in_person = "in_person"
    web_form = "web_form"
    authorised_agent = "authorised_agent"


class LetterFormat(enum.StrEnum):
    markdown = "markdown"
    html = "html"


class AnswerLanguage(enum.StrEnum):
    fi = "fi"
    sv = "sv"
    en = "en"


class RestrictionGround(enum.StrEnum):
    """GDPR Art. 18(1)."""

    accuracy_contested = "accuracy_contested"  # (a)
    unlawful_processing = "unlawful_processing"  # (b)
    legal_claims = "legal_claims"  # (c)
    objection_pending = "objection_pending"  # (d)


class ObjectionKind(enum.StrEnum):
    direct_marketing = "direct_marketing"  # Art. 21(2)-(3): absolute
    particular_situation = "particular_situation"  # Art. 21(1): weighed against compelling grounds


class ErasureGround(enum.StrEnum):
    """GDPR Art. 17(1)."""

    no_longer_necessary = "no_longer_necessary"  # (a)
    consent_withdrawn = "consent_withdrawn"  # (b)
    objection = "objection"  # (c)
    unlawfully_processed = "unlawfully_processed"  # (d)
    legal_obligation = "legal_obligation"  # (e)
    child_information_society = "child_information_society"  # (f)


class IdentityMethod(enum.StrEnum):
    known_contact = "known_contact"  # came from the e-mail address or phone number on record
    document = "document"  # identity document seen
    strong_authentication = "strong_authentication"  # bank ID, mobile certificate
    in_person = "in_person"
    security_question = "security_question"
    other = "other"


class SubjectRequest(SQLModel, table=True):
    """One request from a data subject, from receipt to answer. Never deleted: it is proof of compliance."""

    __tablename__ = "subject_request"
    __table_args__ = (
        ForeignKeyConstraint(["controller_id", "customer_id"], ["customer.controller_id", "customer.id"]),
        Index("ix_subject_request_controller_id_due_date_id", "controller_id", "due_date", "id"),
        Index("ix_subject_request_controller_id_customer_id", "controller_id", "customer_id"),
    )

    controller_id: uuid.UUID = tenant_field()
    id: uuid.UUID = id_field()
    customer_id: uuid.UUID | None = None
    type: RequestType
    status: RequestStatus = RequestStatus.received
    channel: RequestChannel
    language: str | None = SQLField(default=None, max_length=35)
    answer_language: AnswerLanguage = AnswerLanguage.fi
    received_at: dt.datetime = SQLField(sa_type=DateTime(timezone=True))
    due_date: dt.date = SQLField(sa_type=Date)
    original_due_date: dt.date = SQLField(sa_type=Date)
    details: str | None = SQLField(default=None, sa_type=Text)
    person: dict[str, Any] = SQLField(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    params: dict[str, Any] = SQLField(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    identity_requested_at: dt.datetime | None = SQLField(default=None, sa_type=DateTime(timezone=True))
    identity_method: IdentityMethod | None = None
    identity_verified_by: str | None = None
    identity_verified_at: dt.datetime | None = SQLField(default=None, sa_type=DateTime(timezone=True))
    paused_days: int = 0
    extended_at: dt.datetime | None = SQLField(default=None, sa_type=DateTime(timezone=True))
    extension_months: int | None = None
    extension_reason: str | None = SQLField(default=None, sa_type=Text)
    outcome: dict[str, Any] = SQLField(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    refusal_reasons: str | None = SQLField(default=None, sa_type=Text)
    closed_at: dt.datetime | None = SQLField(default=None, sa_type=DateTime(timezone=True))
    closed_by: str | None = None
    version: int = 1
    created_at: dt.datetime = created_at_field()
    updated_at: dt.datetime | None = SQLField(default=None, sa_type=DateTime(timezone=True))


# --- the API -------------------------------------------------------------------------------------


class VerifyIdentity(BaseModel):
    """How the person's identity was confirmed (only where there was reasonable doubt, Art. 12(6))."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"method": "document", "note": "Passport seen at the shop."}]}
    )

    method: IdentityMethod
    customer_id: uuid.UUID | None = Field(default=None, description="Link the request to this customer.")
    note: str | None = Field(default=None, max_length=2000)


class RequestIdentity(BaseModel):
    """Ask the person for more information to confirm who they are."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "The letter gives an address we do not have on record."}]},
    )

    reason: Reason = Field(max_length=2000, description="What raised the reasonable doubt.")


class Extend(BaseModel):
    """Art. 12(3): one extension of up to two further months, with reasons, before the first deadline."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"months": 2, "reason": "The request covers ten years of orders in two systems."}]
        },
    )

    months: Literal[1, 2] = 2
    reason: Reason = Field(max_length=5000, description="Shown to the person.")


class Complete(BaseModel):
    """Carry out the request; what happens depends on its type."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"refuse_fields": {"city": "The address is confirmed by the population register."}}]
        },
    )

    refuse_fields: dict[str, Annotated[Reason, Field(max_length=2000)]] = Field(
        default_factory=dict,
        description="Rectification only: fields not corrected, each with the reason (the rest are applied).",
    )
    release_business_contact: Reason | None = Field(
        default=None,
        max_length=2000,
        description="Erasure only: erase a business contact's details although the business relationship goes "
        "on (they are kept by default where the ground is Art. 17(1)(a) or (c)); the reasons are kept with the "
        "request and audited.",
    )
    note: str | None = Field(default=None, max_length=5000, description="Added to the answer.")


class Refuse(BaseModel):
    """Refuse the request, with reasons (Art. 12(4))."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"reasons": "The same request was answered on 2026-10-02 and nothing has changed since."}]
        },
    )

    reasons: Reason = Field(max_length=10000, description="Why; written to the person, so without others' data.")


class Withdraw(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"note": "The person called to say the matter is settled."}]}
    )

    note: str | None = Field(default=None, max_length=2000)


class Transition(BaseModel):
    status: RequestStatus
    at: dt.datetime
    by: str


_PUBLIC_EXAMPLE: dict[str, Any] = {
    "id": "5f0c2a8e-7b1d-4c3e-9a6f-0d2e4b6c8a1f",
    "type": "access",
    "status": "in_progress",
    "customer_id": "0b7e4c1e-3f0a-4d5e-9a7b-2f6c1d8e9a01",
    "channel": "letter",
    "language": "fi",
    "answer_language": "fi",
    "received_at": "2026-11-20T09:00:00+02:00",
    "due_date": "2026-12-21",
    "original_due_date": "2026-12-21",
    "overdue": False,
    "details": "Pyytää kaikki tietonsa.",
    "person": {},
    "params": {},
    "identity_requested_at": None,
    "identity_method": "known_contact",
    "identity_verified_by": "Asiakaspalvelu / Liisa",
    "identity_verified_at": "2026-11-21T08:30:00Z",
    "paused_days": 0,
    "extended_at": None,
    "extension_months": None,
    "extension_reason": None,
    "outcome": {},
    "refusal_reasons": None,
    "closed_at": None,
    "closed_by": None,
    "version": 2,
    "created_at": "2026-11-21T08:00:00Z",
    "updated_at": "2026-11-21T08:30:00Z",
}


class RequestPublic(BaseModel):
    """A request and where it stands."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [_PUBLIC_EXAMPLE]})

    id: uuid.UUID
    type: RequestType
    status: RequestStatus
    customer_id: uuid.UUID | None
    channel: RequestChannel
    language: str | None
    answer_language: AnswerLanguage
    received_at: dt.datetime
    due_date: dt.date = Field(description="When the answer is due (Art. 12(3)), after any extension or pause.")
    original_due_date: dt.date
    overdue: bool = Field(description="Open past its due date; the due date itself is still in time.")
    details: str | None
    person: dict[str, Any]
    params: dict[str, Any] = Field(description="The type-specific fields given at intake.")
    identity_requested_at: dt.datetime | None
    identity_method: IdentityMethod | None
    identity_verified_by: str | None
    identity_verified_at: dt.datetime | None
    paused_days: int = Field(description="Days the clock stood still while waiting for proof of identity.")
    extended_at: dt.datetime | None
    extension_months: int | None
    extension_reason: str | None
    outcome: dict[str, Any] = Field(description="What completing the request did (type-specific).")
    refusal_reasons: str | None
    closed_at: dt.datetime | None
    closed_by: str | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime | None


class RequestPage(BaseModel):
    """One page of requests, soonest due first; follow `next` for the rest."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [_PUBLIC_EXAMPLE], "next": None}]})

    items: list[RequestPublic]
    next: str | None


class RestrictionNotice(BaseModel):
    """Art. 18(3): the person was told, before it happens, that the restriction will be lifted."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"via": "letter", "notified_at": "2026-11-22T10:00:00+02:00"}]}
    )

    notified_at: IsoDateTime | None = Field(default=None, description="When the person was told (default: now).")
    via: RequestChannel
    note: str | None = Field(default=None, max_length=2000)
