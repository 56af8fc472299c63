"""The controller (rekisterinpitäjä): the tenant every register row belongs to."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

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
    "controller": {
        "name": "SonMark Oy",
        "business_id": "2477816-7",
        "street_address": "Koskelontie 18 B",
        "postal_code": "02920",
        "city": "Espoo",
        "country": "FI",
        "phone": "+358405658606",
    },
    "contact_person": {"name": "Ülar Mihkelson", "title": "toimitusjohtaja", "email": "ular.mihkelson@sonmark.fi"},
    "dpo": {"appointed": False},
    "register": {"name": "Asiakasrekisteri", "notice_date": "2026-12-01"},
    "recipients": [
        {
            "id": "accounting-firm",
            "name": "Tilitoimisto Esimerkki Oy",
            "category": "processor",
            "data": [{"fi": "Laskutustiedot", "en": "Billing data"}],
            "purpose": {"fi": "Kirjanpito", "en": "Bookkeeping"},
            "country": "FI",
        }
    ],
    "notice": {
        "purposes": [
            {"fi": "Asiakassuhteen hoitaminen", "en": "Managing the customer relationship", "basis": "contract"},
            {
                "fi": "Kirjanpito",
                "en": "Bookkeeping",
                "basis": "legal_obligation",
                "law": {"fi": "Kirjanpitolaki 1336/1997", "en": "Accounting Act 1336/1997"},
            },
        ],
        "provision_requirement": {
            "fi": "Tiedot tarvitaan tilauksen toimittamiseen; ilman niitä emme voi toimittaa tilausta.",
            "en": "The data is needed to deliver an order; without it we cannot deliver.",
        },
        "data_categories": [{"fi": "Nimi ja yhteystiedot", "en": "Name and contact details"}],
        "sources": [{"fi": "Asiakas itse", "en": "The customer"}],
        "retention": [
            {
                "category": {"fi": "Asiakastiedot", "en": "Customer data"},
                "period": {"fi": "10 vuotta asiakkuuden päättymisestä.", "en": "10 years from the end."},
                "enforce": {"applies_to": "customer", "years": 10},
            }
        ],
        "automated_decisions": {
            "fi": "Automaattista päätöksentekoa tai profilointia ei ole.",
            "en": "There is no automated decision-making or profiling.",
        },
    },
}


class ProfileProblem(BaseModel):
    """One reason a profile may not be published (app/services/profile_check.py, docs/privacy-notice.md)."""

    kind: Literal["missing", "outdated", "invalid"] = Field(
        description="`missing`: an item GDPR Art. 13-14 require is not stated; `outdated`: a text says what the law "
        "has overtaken; `invalid`: a version published before today's schema no longer validates against it."
    )
    loc: list[str | int] = Field(description='Where in the profile, e.g. `["notice", "purposes", 2, "basis"]`.')
    article: str = Field(description="The provision the rule rests on, e.g. `GDPR Art. 13(1)(c), 6(1)`.")
    message: str = Field(description="What is wrong and what to do, in English.")


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
                    "problems": [],
                    "draft": False,
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
    problems: list[ProfileProblem] = Field(
        default_factory=list,
        description="What the version in force lacks or says that the law has overtaken. Empty for every version "
        "published since notices are checked; a version published before may list problems, and stays public "
        "until a complete profile replaces it.",
    )
    draft: bool = Field(default=False, description="Whether a draft is saved (`GET /v1/controller/draft`).")


class ControllerDraft(BaseModel):
    """A profile saved but not published, and what keeps it from being published."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "profile": {**EXAMPLE_PROFILE, "dpo": None},
                    "complete": False,
                    "problems": [
                        {
                            "kind": "missing",
                            "loc": ["dpo"],
                            "article": "GDPR Art. 13(1)(b), 37(7)",
                            "message": "State the data protection officer's contact details, or "
                            "`{ appointed = false }` if none is appointed.",
                        }
                    ],
                }
            ]
        }
    )

    profile: dict[str, Any] = Field(description="The draft, in the fields of `PUT /v1/controller`.")
    complete: bool = Field(description="Whether it may be published as it is: `problems` is empty.")
    problems: list[ProfileProblem] = Field(description="Each missing or outdated item, with its article.")
