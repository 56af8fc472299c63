"""API keys: one per person or system, one role each, stored only as a hash."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import DateTime, LargeBinary
from sqlmodel import Field, SQLModel

from app.models.base import created_at_field, id_field
from app.models.recipients import RecipientId


class Role(enum.StrEnum):
    admin = "admin"
    agent = "agent"
    integration = "integration"
    auditor = "auditor"


class ApiKeyBase(SQLModel):
    name: str = Field(
        min_length=1,
        max_length=200,
        description="The person or system that holds the key (each user has a personal key).",
        schema_extra={"examples": ["Maija Meikäläinen"]},
    )
    role: Role = Field(description="What the key may do: admin, agent, integration or auditor.")


class ApiKeyCreate(ApiKeyBase):
    """A new key: who holds it and in which role, and the recipient it belongs to, if any."""

    model_config = {
        "extra": "forbid",
        "json_schema_extra": {
            "examples": [
                {"name": "Verkkokauppa", "role": "integration"},
                {"name": "Kumppani Oy:n CRM", "role": "integration", "recipient": "partner-crm"},
            ]
        },
    }

    recipient: RecipientId | None = Field(
        default=None,
        description="For a key a recipient's own system uses (a partner, a processor's service): the `id` of "
        "the recipient in the controller's profile (`recipients`). What the key takes out about a person (an "
        "export, a campaign check's answers) is then logged as a disclosure to it (GDPR Art. 15(1)(c), "
        "30(1)(d)). Leave it out for the controller's own people and systems.",
    )


class ApiKey(ApiKeyBase, table=True):
    __tablename__ = "api_key"

    id: uuid.UUID = id_field()
    controller_id: uuid.UUID = Field(foreign_key="controller.id", index=True)
    prefix: str = Field(max_length=16)
    key_hash: bytes = Field(sa_type=LargeBinary, unique=True)
    created_at: dt.datetime = created_at_field()
    last_used_at: dt.datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    revoked_at: dt.datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    # The recipient (of the controller's profile) a system key belongs to: data it takes out is disclosed to it.
    recipient: str | None = Field(default=None)


_EXAMPLE: dict[str, Any] = {
    "id": "3c9a7e52-1d4b-4f6e-8a2c-5b7d9e1f3a5c",
    "name": "Verkkokauppa",
    "role": "integration",
    "prefix": "rk_Q4WoZ1a",
    "recipient": None,
    "created_at": "2026-11-20T09:00:00Z",
    "last_used_at": "2026-11-21T14:02:11Z",
    "revoked_at": None,
}


class ApiKeyPublic(ApiKeyBase):
    """A key as listed: never the secret itself."""

    model_config = {"json_schema_extra": {"examples": [_EXAMPLE]}}

    id: uuid.UUID
    prefix: str = Field(description="The first characters of the key, to recognise it.")
    recipient: str | None = Field(default=None, description="The recipient the key belongs to, if any.")
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class ApiKeyCreated(ApiKeyPublic):
    """A key just created: the only time its secret is shown."""

    model_config = {"json_schema_extra": {"examples": [_EXAMPLE | {"last_used_at": None, "key": "rk_Q4WoZ1a…"}]}}

    key: str = Field(description="The secret; store it now, it cannot be shown again.")


class ApiKeyPage(SQLModel):
    """One page of keys; follow `next` for the rest."""

    items: list[ApiKeyPublic]
    next: str | None
