"""The controller (rekisterinpitäjä): the tenant every register row belongs to."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Date, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Column, Field, SQLModel

from app.models.base import created_at_field, id_field


class Controller(SQLModel, table=True):
    """One controller: its identity as its privacy notice states it, and the full profile."""

    id: uuid.UUID = id_field()
    slug: str = Field(max_length=63, unique=True)
    name: str = Field(max_length=200)
    business_id: str | None = Field(default=None, max_length=9)
    street_address: str | None = None
    postal_code: str | None = Field(default=None, max_length=20)
    city: str | None = None
    country: str = Field(default="FI", max_length=2)
    phone: str | None = Field(default=None, max_length=20)
    email: str | None = None
    website: str | None = None
    contact_name: str | None = None
    contact_title: str | None = None
    contact_phone: str | None = Field(default=None, max_length=20)
    contact_email: str | None = None
    register_name: str = Field(max_length=200)
    notice_date: dt.date | None = Field(default=None, sa_type=Date)
    default_language: str = Field(default="fi", max_length=2)
    profile: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    # A profile saved but not published (incomplete, or not yet meant to be): the notice keeps its version.
    draft_profile: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB, nullable=True))
    created_at: dt.datetime = created_at_field()
    updated_at: dt.datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class ControllerPublic(SQLModel):
    """A controller as the API shows it."""

    id: uuid.UUID
    slug: str
    name: str
    business_id: str | None
    register_name: str


EXAMPLE_PROFILE: dict[str, Any] = {
    "default_language": "fi",
    "controller": {"name": "SonMark Oy", "business_id": "2477816-7", "city": "Espoo", "country": "FI"},
    "contact_person": {"name": "Ülar Mihkelson", "title": "toimitusjohtaja", "email": "ular.mihkelson@sonmark.fi"},
    "register": {"name": "Asiakasrekisteri", "notice_date": "2026-12-01"},
    "notice": {
        "purposes": [{"fi": "Asiakassuhteen hoitaminen", "en": "Managing the customer relationship"}],
        "retention": [
            {
                "category": {"fi": "Asiakastiedot", "en": "Customer data"},
                "period": {"fi": "10 vuotta asiakkuuden päättymisestä.", "en": "10 years from the end."},
                "enforce": {"applies_to": "customer", "years": 10},
            }
        ],
    },
}


class ControllerProfilePublic(BaseModel):
    """The controller, its profile, and the version of the privacy notice it is published as."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "8f0e7a52-5b7e-4d53-9a54-2b1d0d1f3c11",
                    "slug": "sonmark",
                    "notice_version": 3,
                    "notice_date": "2026-12-01",
                    "updated_at": "2026-12-01T09:00:00Z",
                    "profile": EXAMPLE_PROFILE,
                }
            ]
        }
    )

    id: uuid.UUID
    slug: str
    notice_version: int = Field(description="The version of the privacy notice in force; the ETag is its number.")
    notice_date: dt.date = Field(description="Laatimispäivä of that version.")
    updated_at: dt.datetime | None
    profile: dict[str, Any] = Field(
        description="The profile, as in the TOML files of examples/ (docs/privacy-notice.md)."
    )
