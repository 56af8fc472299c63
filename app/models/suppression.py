"""Suppression lists: do-not-contact registers (ASML's Kielto service, the controller's own lists) that the
marketing check screens every answer against, for people in the register and for people who are not."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Column, Date, DateTime, ForeignKeyConstraint, Index, LargeBinary, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field as SQLField
from sqlmodel import SQLModel

from app.models.base import WHITE_SPACE, IsoDate, created_at_field, id_field, tenant_field
from app.models.marketing import Channel


class EntryKind(enum.StrEnum):
    """What an entry matches: an e-mail address, a phone number, or a name at a postal address."""

    email = "email"
    phone = "phone"
    postal_address = "postal_address"


class SuppressionList(SQLModel, table=True):
    """One do-not-contact list and the channels it forbids."""

    __tablename__ = "suppression_list"

    controller_id: uuid.UUID = tenant_field()
    id: uuid.UUID = id_field()
    name: str = SQLField(max_length=200)
    source: str | None = SQLField(default=None, max_length=500)
    list_date: dt.date | None = SQLField(default=None, sa_type=Date)
    channels: list[str] = SQLField(sa_column=Column(ARRAY(Text), nullable=False))
    entry_count: int = SQLField(default=0)
    version: int = SQLField(default=1)
    created_at: dt.datetime = created_at_field()
    updated_at: dt.datetime | None = SQLField(default=None, sa_type=DateTime(timezone=True))


class SuppressionEntry(SQLModel, table=True):
    """One person on a list, kept as a keyed digest of what identifies them (docs/marketing.md)."""

    __tablename__ = "suppression_entry"
    __table_args__ = (
        ForeignKeyConstraint(["controller_id", "list_id"], ["suppression_list.controller_id", "suppression_list.id"]),
        # The check looks entries up by digest; a list holds each digest once.
        Index("uq_suppression_entry_controller_id_digest_list_id", "controller_id", "digest", "list_id", unique=True),
        Index("ix_suppression_entry_controller_id_list_id_id", "controller_id", "list_id", "id"),
    )

    controller_id: uuid.UUID = tenant_field()
    id: uuid.UUID = id_field()
    list_id: uuid.UUID
    kind: EntryKind
    digest: bytes = SQLField(sa_column=Column(LargeBinary, nullable=False))
    created_at: dt.datetime = created_at_field()


_EXAMPLE: dict[str, Any] = {
    "name": "ASML Kielto 2026-12",
    "source": "Suomen Asiakkuusmarkkinointiliitto ASML, Kielto-palvelu (Robinson-rekisteri)",
    "list_date": "2026-12-01",
    "channels": ["direct_mail", "telemarketing"],
}


_NON_BLANK = f"^[^\\x00]*[^{WHITE_SPACE}\\x00][^\\x00]*$"


def _channels(value: list[Channel]) -> list[Channel]:
    if not value:
        raise ValueError("name at least one channel the list forbids")
    return sorted(set(value), key=list(Channel).index)


class SuppressionListCreate(BaseModel):
    """A new, empty list; its entries are uploaded to `/v1/suppression-lists/{id}/entries`."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [_EXAMPLE]})

    name: str = Field(
        min_length=1,
        max_length=200,
        pattern=_NON_BLANK,
        description="Shown in every decision the list denies: make it tell your lists apart.",
    )
    source: str | None = Field(default=None, max_length=500, description="Where the list comes from.")
    list_date: IsoDate | None = Field(default=None, description="The date of the list's contents (its extract).")
    channels: list[Channel] = Field(min_length=1, max_length=len(Channel), description="The channels a match denies.")

    _check_channels = field_validator("channels")(_channels)


class SuppressionListUpdate(BaseModel):
    """Fields to change; those left out stay as they are."""

    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [{"list_date": "2027-01-01"}]}
    )

    name: str | None = Field(default=None, min_length=1, max_length=200, pattern=_NON_BLANK)
    source: str | None = Field(default=None, max_length=500)
    list_date: IsoDate | None = None
    channels: list[Channel] | None = Field(default=None, min_length=1, max_length=len(Channel))

    @field_validator("channels")
    @classmethod
    def _some_channels(cls, value: list[Channel] | None) -> list[Channel] | None:
        return None if value is None else _channels(value)


class SuppressionListPublic(BaseModel):
    """A list as the API shows it: never its entries, which are personal data kept as digests."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                _EXAMPLE
                | {
                    "id": "4f5e6d7c-8b9a-4c3d-9e2f-1a0b9c8d7e6f",
                    "entry_count": 48211,
                    "version": 2,
                    "created_at": "2026-12-02T08:00:00Z",
                    "updated_at": "2026-12-02T08:03:11Z",
                }
            ]
        }
    )

    id: uuid.UUID
    name: str
    source: str | None
    list_date: dt.date | None
    channels: list[Channel]
    entry_count: int = Field(description="Entries: one per e-mail, phone number or name and address.")
    version: int = Field(description="Changes on every change of the list or its entries; the ETag carries it.")
    created_at: dt.datetime
    updated_at: dt.datetime | None


class SuppressionListPage(BaseModel):
    """One page of lists; follow `next` for the rest."""

    items: list[SuppressionListPublic]
    next: str | None = Field(description="URL of the next page, or null on the last one.")


class UploadErrorLine(BaseModel):
    line: int = Field(description="The line's number in the body, from 1 (the CSV header is line 1).")
    errors: list[dict[str, Any]] = Field(description="What is wrong with it: `loc`, `msg`, `type` (never the value).")


class UploadResult(BaseModel):
    """What an upload did to the list."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "list": _EXAMPLE
                    | {
                        "id": "4f5e6d7c-8b9a-4c3d-9e2f-1a0b9c8d7e6f",
                        "entry_count": 3,
                        "version": 2,
                        "created_at": "2026-12-02T08:00:00Z",
                        "updated_at": "2026-12-02T08:03:11Z",
                    },
                    "lines": 3,
                    "added": 2,
                    "removed": 5,
                    "kept": 1,
                    "failed": 0,
                    "errors": [],
                    "errors_omitted": 0,
                }
            ]
        }
    )

    list_: SuppressionListPublic = Field(alias="list")
    lines: int = Field(description="Lines read (a CSV header not counted).")
    added: int = Field(description="Entries new to the list.")
    removed: int = Field(description="Entries no longer in the list (a replacement only).")
    kept: int = Field(description="Entries the list held already.")
    failed: int = Field(description="Lines that added nothing; each is in `errors` (the first 1,000).")
    errors: list[UploadErrorLine]
    errors_omitted: int = Field(description="Failed lines not listed in `errors`.")


class SuppressionMatch(BaseModel):
    """A list entry that matches a person (in the access answer: GDPR Art. 15(1)(g), where it came from)."""

    list_name: str
    source: str | None
    list_date: dt.date | None
    channels: list[Channel]
    matched_on: EntryKind = Field(description="Which of the person's details is on the list.")
    added_at: dt.datetime = Field(description="When the entry was added to the list.")
