"""Shared pieces of the schema: naming convention, identifiers, timestamps."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import DateTime, text
from sqlmodel import Field, SQLModel

metadata = SQLModel.metadata
metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    """Return the current time, timezone-aware."""
    return dt.datetime.now(dt.UTC)


def id_field() -> uuid.UUID:
    """A client-side primary key, known before the row is flushed (the audit log needs it)."""
    return Field(default_factory=uuid.uuid4, primary_key=True)  # type: ignore[no-any-return]


def created_at_field() -> dt.datetime:
    return Field(  # type: ignore[no-any-return]
        default_factory=utcnow,
        sa_type=DateTime(timezone=True),
        sa_column_kwargs={"server_default": text("now()"), "nullable": False},
    )


def tenant_field() -> uuid.UUID:
    """The controller a row belongs to: part of every key, checked by row-level security."""
    return Field(foreign_key="controller.id", primary_key=True)  # type: ignore[no-any-return]
