"""Shared pieces of the schema: naming convention, identifiers, timestamps."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from decimal import Decimal
from typing import Annotated

from pydantic import BeforeValidator
from sqlalchemy import DateTime, text
from sqlmodel import Field, SQLModel

from app.validators import InvalidValue

# Unicode's White_Space, spelt out for a character class: what pydantic's patterns (`\s` in Rust's regex) and
# `str_strip_whitespace` take for space. A JSON Schema's `\s` is ECMAScript's, which differs (it has U+FEFF and
# not U+0085), so a schema that said `\s` would let tools send text the service reads otherwise.
WHITE_SPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"

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


_NUMERIC = re.compile(r"[+-]?[0-9]*\.?[0-9]*(e[+-]?[0-9]+)?", re.IGNORECASE)


def _text_date(value: object) -> object:
    # Pydantic would read a number (or numeric text) as a Unix timestamp; the API documents ISO 8601 text.
    if isinstance(value, dt.date) or (isinstance(value, str) and not _NUMERIC.fullmatch(value.strip())):
        return value
    raise InvalidValue("give an ISO 8601 date as text, e.g. 2026-11-22")


IsoDate = Annotated[dt.date, BeforeValidator(_text_date)]
IsoDateTime = Annotated[dt.datetime, BeforeValidator(_text_date)]


def _only_bool(value: object) -> object:
    if isinstance(value, bool):
        return value
    raise InvalidValue("give true or false")


def _text_decimal(value: object) -> object:
    # Amounts are decimal text ("49.90"): a JSON number may already have lost digits as a binary float.
    if isinstance(value, str | Decimal):
        return value
    raise InvalidValue('give the amount as decimal text, e.g. "49.90"')


Flag = Annotated[bool, BeforeValidator(_only_bool)]
TextDecimal = BeforeValidator(_text_decimal)
