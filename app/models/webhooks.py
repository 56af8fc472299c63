"""Webhooks: subscriptions, the outbox of events, and every delivery attempt."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field
from sqlalchemy import Column, DateTime, Index, LargeBinary, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field as SQLField
from sqlmodel import SQLModel

from app.models.base import created_at_field, id_field, tenant_field
from app.models.recipients import RECIPIENT_ID


class EventType(enum.StrEnum):
    marketing_changed = "marketing.changed"
    # GDPR Art. 19: recipients are told of every rectification, erasure or restriction.
    customer_rectified = "customer.rectified"
    customer_restricted = "customer.restricted"
    customer_restriction_lifted = "customer.restriction_lifted"
    customer_erased = "customer.erased"


class DeliveryStatus(enum.StrEnum):
    pending = "pending"
    delivered = "delivered"
    failed = "failed"
    cancelled = "cancelled"


class Webhook(SQLModel, table=True):
    __tablename__ = "webhook"

    controller_id: uuid.UUID = tenant_field()
    id: uuid.UUID = id_field()
    url: str = SQLField(max_length=2000)
    events: list[str] = SQLField(default_factory=list, sa_column=Column(ARRAY(Text), nullable=False))
    description: str | None = SQLField(default=None, max_length=500)
    # The recipient (of the controller's profile) the subscriber is: its deliveries are disclosures to it.
    recipient: str
    secret_encrypted: bytes = SQLField(sa_type=LargeBinary)
    created_at: dt.datetime = created_at_field()
    deleted_at: dt.datetime | None = SQLField(default=None, sa_type=DateTime(timezone=True))


class WebhookEvent(SQLModel, table=True):
    """The outbox: written in the transaction of the change, delivered by a worker after it commits."""

    __tablename__ = "webhook_event"

    controller_id: uuid.UUID = tenant_field()
    id: uuid.UUID = id_field()
    type: str
    subject_id: uuid.UUID | None = None
    payload: dict[str, Any] = SQLField(sa_column=Column(JSONB, nullable=False))
    created_at: dt.datetime = created_at_field()


class WebhookDelivery(SQLModel, table=True):
    """One event for one subscriber: delivered once, however many workers run."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("controller_id", "webhook_id", "event_id"),
        Index("ix_webhook_delivery_controller_id_webhook_id_created_at", "controller_id", "webhook_id", "created_at"),
    )

    controller_id: uuid.UUID = tenant_field()
    id: uuid.UUID = id_field()
    webhook_id: uuid.UUID
    event_id: uuid.UUID
    status: DeliveryStatus = DeliveryStatus.pending
    attempts: list[dict[str, Any]] = SQLField(default_factory=list, sa_column=Column(JSONB, nullable=False))
    delivered_at: dt.datetime | None = SQLField(default=None, sa_type=DateTime(timezone=True))
    created_at: dt.datetime = created_at_field()


class WebhookCreate(BaseModel):
    """A subscription: where to POST, and which events (all when empty)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://shop.example.fi/hooks/rekisteri",
                    "events": ["marketing.changed"],
                    "recipient": "web-shop",
                }
            ]
        },
    )

    url: AnyHttpUrl = Field(description="Receives a POST per event, signed per Standard Webhooks.")
    events: list[EventType] = Field(default_factory=list, description="Event types to receive; empty: all.")
    description: str | None = Field(default=None, max_length=500)
    recipient: str = Field(
        pattern=RECIPIENT_ID,
        description="The `id` of the recipient in the controller's profile (`recipients`) that receives the "
        "events: each delivery about a person is logged as a disclosure to it (GDPR Art. 15(1)(c), 30(1)(d)).",
    )


_EXAMPLE: dict[str, Any] = {
    "id": "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b",
    "url": "https://shop.example.fi/hooks/rekisteri",
    "events": ["marketing.changed"],
    "description": None,
    "recipient": "web-shop",
    "created_at": "2026-11-20T09:00:00Z",
}


class WebhookPublic(BaseModel):
    """A subscription as listed; the signing secret is never shown again."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    id: uuid.UUID
    url: str
    events: list[str]
    description: str | None
    recipient: str = Field(description="The recipient (of the controller's profile) the subscriber is.")
    created_at: dt.datetime


class WebhookCreated(WebhookPublic):
    """A new subscription with its signing secret, shown this once."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [_EXAMPLE | {"secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}]}
    )

    secret: str = Field(description="Verify each delivery's webhook-signature with it (Standard Webhooks).")


class WebhookPage(BaseModel):
    items: list[WebhookPublic]
    next: str | None


class Attempt(BaseModel):
    at: dt.datetime
    status_code: int | None
    error: str | None
    duration_ms: float


class DeliveryPublic(BaseModel):
    """One event's delivery to one subscriber, with every attempt."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
                    "event_id": "9f8e7d6c-5b4a-4c3d-2e1f-0a9b8c7d6e5f",
                    "event_type": "marketing.changed",
                    "status": "delivered",
                    "attempts": [
                        {"at": "2026-11-20T09:00:01Z", "status_code": 503, "error": None, "duration_ms": 41.0},
                        {"at": "2026-11-20T09:00:05Z", "status_code": 200, "error": None, "duration_ms": 38.2},
                    ],
                    "delivered_at": "2026-11-20T09:00:05Z",
                    "created_at": "2026-11-20T09:00:00Z",
                }
            ]
        }
    )

    id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    status: DeliveryStatus
    attempts: list[Attempt]
    delivered_at: dt.datetime | None
    created_at: dt.datetime


class DeliveryPage(BaseModel):
    items: list[DeliveryPublic]
    next: str | None
