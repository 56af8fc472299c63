"""The controller (rekisterinpitäjä): the tenant every register row belongs to."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

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
    created_at: dt.datetime = created_at_field()
    updated_at: dt.datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class ControllerPublic(SQLModel):
    """A controller as the API shows it."""

    id: uuid.UUID
    slug: str
    name: str
    business_id: str | None
    register_name: str
