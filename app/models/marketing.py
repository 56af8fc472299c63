"""Marketing prohibitions and consents (kielto-oikeus), kept as an append-only history per customer and channel."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from sqlalchemy import DateTime, ForeignKeyConstraint, Index
from sqlmodel import Field as SQLField
from sqlmodel import SQLModel

from app.models.base import Flag, IsoDateTime, created_at_field, id_field, tenant_field


class Channel(enum.StrEnum):
    direct_mail = "direct_mail"
    telemarketing = "telemarketing"
    # Act 917/2014 § 200(1): automated calling systems and voice messages are not telemarketing by a person.
    automated_calls = "automated_calls"
    electronic = "electronic"
    market_research = "market_research"
    partner_disclosure = "partner_disclosure"
    list_publication = "list_publication"
    profiling = "profiling"


class ReceivedVia(enum.StrEnum):
    letter = "letter"
    email = "email"
    phone = "phone"
    in_person = "in_person"
    web = "web"


class MarketingAction(enum.StrEnum):
    prohibited = "prohibited"
    prohibition_lifted = "prohibition_lifted"
    consent_granted = "consent_granted"
    consent_withdrawn = "consent_withdrawn"
    opt_out_offered = "opt_out_offered"
    objected = "objected"
    objection_withdrawn = "objection_withdrawn"


class Reason(enum.StrEnum):
    """Why a marketing check answered as it did; stable machine codes."""

    unknown_subject = "unknown_subject"
    erased = "erased"
    restricted = "restricted"
    objection = "objection"
    prohibited = "prohibited"
    suppressed = "suppressed"
    consent = "consent"
    no_consent = "no_consent"
    consent_withdrawn = "consent_withdrawn"
    existing_customer = "existing_customer"
    business_contact = "business_contact"
    not_prohibited = "not_prohibited"
    invalid_identifier = "invalid_identifier"


class MarketingEvent(SQLModel, table=True):
    """One thing that happened to a customer's marketing permissions; never changed afterwards."""

    __tablename__ = "marketing_event"
    __table_args__ = (
        ForeignKeyConstraint(["controller_id", "customer_id"], ["customer.controller_id", "customer.id"]),
        Index("ix_marketing_event_controller_id_customer_id", "controller_id", "customer_id", "occurred_at"),
    )

    controller_id: uuid.UUID = tenant_field()
    id: uuid.UUID = id_field()
    customer_id: uuid.UUID
    channel: Channel | None = SQLField(default=None, description="None: every channel (an objection).")
    action: MarketingAction
    occurred_at: dt.datetime = SQLField(sa_type=DateTime(timezone=True))
    received_via: ReceivedVia | None = None
    source: str | None = SQLField(default=None, max_length=500)
    wording: str | None = SQLField(default=None, max_length=5000)
    recorded_by_key_id: uuid.UUID | None = None
    recorded_by: str
    created_at: dt.datetime = created_at_field()


class ChannelChange(BaseModel):
    """What should hold for one channel from now on; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    prohibited: Flag | None = Field(default=None, description="The person forbids marketing on this channel.")
    consent: Flag | None = Field(default=None, description="The person consents (true) or withdraws (false).")
    opt_out_offered: Flag | None = Field(
        default=None,
        description="Electronic only: the person was offered a free opt-out when their contact details were "
        "collected (Act 917/2014 § 200). Only true can be recorded.",
    )


def _change_schema(channel: Channel) -> dict[str, Any]:
    """What may be recorded for one channel, as the schema states it (the rules are services/marketing.py's)."""
    fields = ChannelChange.model_fields
    either: dict[str, Any] = {"anyOf": [{"type": "boolean"}, {"type": "null"}]}
    # Act 917/2014 § 200(2): an opt-out offer is a fact of the electronic channel, recorded once it was made.
    offered: dict[str, Any] = {"anyOf": [{"const": True}, {"type": "null"}]} if channel is Channel.electronic else {}
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "prohibited": either | {"description": fields["prohibited"].description},
            "consent": either | {"description": fields["consent"].description},
            "opt_out_offered": (offered or {"type": "null"}) | {"description": fields["opt_out_offered"].description},
        },
    }


ChannelChanges = Annotated[
    dict[Channel, ChannelChange],
    WithJsonSchema(
        {
            "type": "object",
            "additionalProperties": False,
            "properties": {channel.value: _change_schema(channel) for channel in Channel},
            "description": "What holds from now on, channel by channel; channels left out stay as they are.",
        }
    ),
]
# GDPR Art. 7(1): a consent is recorded with the wording the person agreed to.
_CONSENT_NEEDS_WORDING: dict[str, Any] = {
    "if": {
        "required": ["channels"],
        "properties": {
            "channels": {
                "anyOf": [
                    {
                        "required": [c.value],
                        "properties": {c.value: {"required": ["consent"], "properties": {"consent": {"const": True}}}},
                    }
                    for c in Channel
                ]
            }
        },
    },
    "then": {"required": ["wording"], "properties": {"wording": {"type": "string", "minLength": 1}}},
}


class MarketingUpdate(BaseModel):
    """Changes to a customer's marketing permissions, with how they were received."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "channels": {"electronic": {"consent": True}, "telemarketing": {"prohibited": True}},
                    "received_via": "web",
                    "source": "checkout form, shop.example.fi",
                    "wording": "Haluan sähköpostia tarjouksista. / Send me offers by e-mail.",
                }
            ],
            **_CONSENT_NEEDS_WORDING,
        },
    )

    channels: ChannelChanges = Field(default_factory=dict)
    objection: Flag | None = Field(
        default=None,
        description="An objection to direct marketing (GDPR Art. 21(2)-(3)): denies every channel at once.",
    )
    received_via: ReceivedVia | None = Field(default=None, description="How the person told us.")
    occurred_at: IsoDateTime | None = Field(
        default=None, description="When the person said so (default: now); a letter may be older."
    )
    source: str | None = Field(default=None, max_length=500, description="Where: form, call, letter reference.")
    wording: str | None = Field(
        default=None,
        max_length=5000,
        description="For a consent: the exact text the person agreed to (required with any `consent: true`).",
    )


class Decision(BaseModel):
    """May we market to this person on this channel, and why."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "channel": "electronic",
                    "allowed": False,
                    "reason": "no_consent",
                    "detail": "Electronic marketing to a private person needs their prior consent.",
                }
            ]
        }
    )

    channel: Channel
    allowed: bool
    reason: Reason
    detail: str


class ChannelState(BaseModel):
    channel: Channel
    prohibited_at: dt.datetime | None
    consent_given_at: dt.datetime | None
    consent_withdrawn_at: dt.datetime | None
    opt_out_offered_at: dt.datetime | None
    decision: Decision = Field(description="The answer for a campaign not limited to own similar products.")


class HistoryEntry(BaseModel):
    id: uuid.UUID
    channel: Channel | None
    action: MarketingAction
    occurred_at: dt.datetime
    received_via: ReceivedVia | None
    source: str | None
    wording: str | None
    recorded_by: str
    recorded_by_key_id: uuid.UUID | None


class MarketingState(BaseModel):
    """A customer's marketing permissions: the current state per channel, and every change that led to it."""

    customer_id: uuid.UUID
    objected_at: dt.datetime | None
    channels: list[ChannelState]
    history: list[HistoryEntry]

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "customer_id": "0b7e4c1e-3f0a-4d5e-9a7b-2f6c1d8e9a01",
                    "objected_at": None,
                    "channels": [
                        {
                            "channel": "electronic",
                            "prohibited_at": None,
                            "consent_given_at": "2026-11-20T10:15:00Z",
                            "consent_withdrawn_at": None,
                            "opt_out_offered_at": None,
                            "decision": {
                                "channel": "electronic",
                                "allowed": True,
                                "reason": "consent",
                                "detail": "The person consented on 2026-11-20.",
                            },
                        }
                    ],
                    "history": [
                        {
                            "id": "9d1c7a2b-4e5f-4a6b-8c7d-0e1f2a3b4c5d",
                            "channel": "electronic",
                            "action": "consent_granted",
                            "occurred_at": "2026-11-20T10:15:00Z",
                            "received_via": "web",
                            "source": "checkout form, shop.example.fi",
                            "wording": "Haluan sähköpostia tarjouksista.",
                            "recorded_by": "Verkkokauppa",
                            "recorded_by_key_id": "3c9a7e52-1d4b-4f6e-8a2c-5b7d9e1f3a5c",
                        }
                    ],
                }
            ]
        }
    )
