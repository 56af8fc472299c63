"""The disclosure log: every time data about a person leaves the service to a named recipient (GDPR Art. 15(1)(c),
19, 30(1)(d); CJEU C-154/21), written in the transaction that sends it and erased with the person."""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from pydantic import BaseModel, ConfigDict
from pydantic import Field as PydanticField
from sqlalchemy import Column, DateTime, Index, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field, SQLModel

from app.models.base import id_field, tenant_field, utcnow


class Disclosure(SQLModel, table=True):
    __tablename__ = "disclosure"
    __table_args__ = (
        Index("ix_disclosure_controller_id_customer_id_disclosed_at", "controller_id", "customer_id", "disclosed_at"),
    )

    controller_id: uuid.UUID = tenant_field()
    id: uuid.UUID = id_field()
    customer_id: uuid.UUID
    recipient: str = Field(description="The recipient's id in the controller's profile.")
    recipient_name: str = Field(description="Its name when the data went to it.")
    categories: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(Text), nullable=False))
    channel: str = Field(description="How the data left: a DisclosureChannel.")
    reference: uuid.UUID | None = Field(default=None, description="The delivery or request it went with.")
    disclosed_at: dt.datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class DisclosureChannel(enum.StrEnum):
    """How the data left: a webhook delivery, an export downloaded by the recipient's key, a campaign check or
    a single marketing check answered to it."""

    webhook = "webhook"
    export = "export"
    campaign = "campaign"
    marketing_check = "marketing_check"


class DisclosurePublic(BaseModel):
    """One disclosure of the person's data to a recipient of the register."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f",
                    "recipient": "web-shop",
                    "recipient_name": "Verkkokauppa Oy",
                    "categories": ["identifiers", "marketing"],
                    "channel": "webhook",
                    "reference": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
                    "disclosed_at": "2026-12-07T10:00:00Z",
                }
            ]
        },
    )

    id: uuid.UUID
    recipient: str = PydanticField(description="The recipient's id in the controller's profile (`recipients`).")
    recipient_name: str = PydanticField(description="Its name when the data went to it.")
    categories: list[str] = PydanticField(
        description="The categories of data: `identifiers`, `marketing`, `restriction`, `customer`, `provided`, "
        "`orders`, `requests`, `audit_history`, or a customer field's name (e.g. `email`) for a rectification."
    )
    channel: DisclosureChannel
    reference: uuid.UUID | None = PydanticField(
        description="The webhook delivery, or the access or portability request, it went with."
    )
    disclosed_at: dt.datetime


class DisclosurePage(BaseModel):
    """One page of a person's disclosures, newest first; follow `next` for the rest."""

    items: list[DisclosurePublic]
    next: str | None
