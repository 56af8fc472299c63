"""The privacy notice (tietosuojaseloste): each published version of what the controller's profile says."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Column, Date, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field as SQLField
from sqlmodel import SQLModel

from app.models.base import created_at_field, id_field, tenant_field


class PrivacyNotice(SQLModel, table=True):
    """One version of the notice: the profile as it was published, never changed afterwards."""

    __tablename__ = "privacy_notice"
    __table_args__ = (UniqueConstraint("controller_id", "version"),)

    controller_id: uuid.UUID = tenant_field()
    id: uuid.UUID = id_field()
    version: int = SQLField(ge=1)
    notice_date: dt.date = SQLField(sa_type=Date, description="Laatimispäivä: the date it was drawn up.")
    profile: dict[str, Any] = SQLField(sa_column=Column(JSONB, nullable=False))
    documents: dict[str, Any] | None = SQLField(
        default=None,
        sa_column=Column(JSONB, nullable=True),
        description="The notice as published, per language (NoticeDocument without its list of versions).",
    )
    published_by: str = SQLField(max_length=200)
    created_at: dt.datetime = created_at_field()


class NoticeLanguage(enum.StrEnum):
    fi = "fi"
    sv = "sv"
    en = "en"


class NoticeFormat(enum.StrEnum):
    json = "json"
    html = "html"
    markdown = "markdown"


class NoticeText(BaseModel):
    """A text of the notice; `lang` says which language it is in (Finnish where no translation was given)."""

    text: str
    lang: NoticeLanguage


class NoticeBlock(BaseModel):
    """A part of a section: a paragraph, a list, lines of an address, or a titled subsection."""

    kind: str = Field(description="`paragraph`, `list`, `lines` or `subsection`.")
    title: str | None = None
    texts: list[NoticeText] = Field(default_factory=list)
    blocks: list[NoticeBlock] = Field(default_factory=list, description="A subsection's own blocks.")


class NoticeSection(BaseModel):
    id: str = Field(description="Stable across versions and languages, e.g. `purposes`, `retention`, `rights`.")
    title: str
    blocks: list[NoticeBlock]


class NoticeVersion(BaseModel):
    """One published version, as the history lists it."""

    version: int
    notice_date: dt.date
    published_at: dt.datetime


_EXAMPLE: dict[str, Any] = {
    "schema": "rekisteri.privacy-notice/1",
    "controller": "sonmark",
    "language": "fi",
    "title": "Tietosuojaseloste",
    "controller_name": "SonMark Oy",
    "business_id": "2477816-7",
    "register_name": "Asiakasrekisteri",
    "version": 2,
    "notice_date": "2026-11-30",
    "published_at": "2026-11-30T08:00:00Z",
    "sections": [
        {
            "id": "purposes",
            "title": "Henkilötietojen käsittelyn tarkoitus",
            "blocks": [{"kind": "list", "texts": [{"text": "Asiakassuhteen hoitaminen", "lang": "fi"}]}],
        }
    ],
    "versions": [
        {"version": 2, "notice_date": "2026-11-30", "published_at": "2026-11-30T08:00:00Z"},
        {"version": 1, "notice_date": "2018-05-23", "published_at": "2026-11-22T10:00:00Z"},
    ],
}


class NoticeDocument(BaseModel):
    """The privacy notice in one language, section by section."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    schema_: str = Field(alias="schema", serialization_alias="schema")
    controller: str = Field(description="The controller's slug, as in `/public/{controller}/privacy-notice`.")
    language: NoticeLanguage
    title: str
    controller_name: str
    business_id: str | None
    register_name: str
    version: int
    notice_date: dt.date = Field(description="Laatimispäivä: the date this version was drawn up.")
    published_at: dt.datetime
    sections: list[NoticeSection]
    versions: list[NoticeVersion] = Field(description="Every published version, newest first.")
