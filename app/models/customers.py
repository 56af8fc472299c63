"""Customers (rekisteröity, asiakas): every data category the seed notices list."""

from __future__ import annotations

import datetime as dt
import enum
import ipaddress
import uuid
from typing import Annotated, Any

import pycountry
from pydantic import BaseModel, ConfigDict, WithJsonSchema, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema
from sqlalchemy import Boolean, Column, Date, DateTime, Index, Text, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel

from app.models.base import WHITE_SPACE, Flag, IsoDate, created_at_field, id_field, tenant_field
from app.validators import Email, InvalidValue, normalise_business_id, normalise_country, normalise_phone

CountryCode = Annotated[str, WithJsonSchema({"type": "string", "enum": sorted(c.alpha_2 for c in pycountry.countries)})]
IpAddress = Annotated[str, WithJsonSchema({"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]})]
# A Y-tunnus's form, 1234567-8 (old ids have six digits), as app.validators takes it (surrounding space stripped);
# the schema states it, and the check digit, which no pattern can, is validated.
BUSINESS_ID_FORM = f"^[{WHITE_SPACE}]*[0-9]{{6,7}}-[0-9][{WHITE_SPACE}]*$"


class CustomerKind(enum.StrEnum):
    private = "private"
    business = "business"


class DataSource(enum.StrEnum):
    registration = "registration"
    purchase = "purchase"
    update_service = "update_service"
    partner = "partner"
    customer_service = "customer_service"


# Where a field's value came from: a write's DataSource, or the person's own correction (Art. 16).
SUBJECT_REQUEST = "data_subject_request"
# Art. 20(1): what the person provided; an address service or a partner is not the person.
NOT_PROVIDED = frozenset({DataSource.update_service.value, DataSource.partner.value})


class Language(enum.StrEnum):
    fi = "fi"
    sv = "sv"
    en = "en"


class CustomerFields(SQLModel):
    """The data categories; all optional so that PATCH can send any subset."""

    external_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="The calling system's own id for the customer; unique per controller.",
    )
    customer_number: str | None = Field(default=None, max_length=100)
    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)
    organisation: str | None = Field(
        default=None, max_length=300, description="The organisation or company the person represents."
    )
    title: str | None = Field(default=None, max_length=200, description="The person's title there.")
    business_id: str | None = Field(
        default=None,
        max_length=9,
        schema_extra={"pattern": BUSINESS_ID_FORM},
        description="Finnish business ID (Y-tunnus), 1234567-8 (old ids: 123456-7), check digit validated.",
    )
    email: Email | None = None
    phone: str | None = Field(
        default=None,
        min_length=1,
        max_length=32,
        description="Any format; stored as E.164. A number its country's plan does not have is refused.",
    )
    street_address: str | None = Field(default=None, max_length=300)
    postal_code: str | None = Field(default=None, max_length=20)
    city: str | None = Field(default=None, max_length=200)
    country: CountryCode | None = Field(default=None, max_length=2, description="ISO 3166-1 alpha-2.")
    website: str | None = Field(default=None, max_length=500)
    ip_address: IpAddress | None = Field(default=None, max_length=45, description="IPv4 or IPv6 address.")
    preferred_language: Language | None = None
    payment_method: str | None = Field(default=None, max_length=100)
    payment_terms: str | None = Field(default=None, max_length=100)
    delivery_method: str | None = Field(default=None, max_length=100)
    newsletter: Flag | None = Field(default=None, sa_type=Boolean, description="Subscribed to the newsletter.")
    relationship_start_date: IsoDate | None = Field(default=None, sa_type=Date)
    relationship_end_date: IsoDate | None = Field(default=None, sa_type=Date)
    source: DataSource | None = Field(default=None, description="Where the data came from.")
    kind: CustomerKind | None = Field(default=None, description="Private person or business contact.")

    @field_validator("business_id")
    @classmethod
    def _business_id(cls, value: str | None) -> str | None:
        return normalise_business_id(value)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return normalise_phone(value)

    @field_validator("country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        return normalise_country(value)

    @field_validator("ip_address")
    @classmethod
    def _ip(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return str(ipaddress.ip_address(value.strip()))
        except ValueError:
            raise InvalidValue("not an IPv4 or IPv6 address") from None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return None if value is None else value.lower()

    @model_validator(mode="after")
    def _dates_in_order(self) -> CustomerFields:
        start, end = self.relationship_start_date, self.relationship_end_date
        if start is not None and end is not None and end < start:
            raise ValueError("relationship_end_date is before relationship_start_date")
        return self


_EXAMPLE: dict[str, Any] = {
    "external_id": "shop-10042",
    "first_name": "Maija",
    "last_name": "Meikäläinen",
    "email": "maija.meikalainen@example.fi",
    "phone": "040 123 4567",
    "street_address": "Esimerkkikatu 1 A 2",
    "postal_code": "00100",
    "city": "Helsinki",
    "country": "FI",
    "preferred_language": "fi",
    "kind": "private",
    "source": "registration",
    "newsletter": False,
}


IDENTIFYING = ("first_name", "last_name", "organisation", "email", "phone")
# Field groups that the rules share, each listed once: who the person or their organisation is, where post
# reaches them, how else to reach them.
NAME_FIELDS = ("first_name", "last_name", "organisation", "business_id")
POSTAL_FIELDS = ("street_address", "postal_code", "city", "country")
CONTACT_FIELDS = ("title", "email", "phone")
# GDPR Art. 20: what the person gave us, and what their use of the service shows; not what we derived.
PROVIDED_FIELDS = (
    *NAME_FIELDS,
    *CONTACT_FIELDS,
    *POSTAL_FIELDS,
    "website",
    "preferred_language",
    "newsletter",
    "payment_method",
    "delivery_method",
)
OBSERVED_FIELDS = ("ip_address",)


class CustomerCreate(CustomerFields):
    """A new customer: at least a name, an organisation, an e-mail or a phone number."""

    model_config = {
        "extra": "forbid",
        "json_schema_extra": {
            "examples": [_EXAMPLE],
            "anyOf": [
                {"required": [name], "properties": {name: {"type": "string", "minLength": 1}}} for name in IDENTIFYING
            ],
        },
    }

    @model_validator(mode="after")
    def _identifiable(self) -> CustomerCreate:
        if not any(getattr(self, name) for name in IDENTIFYING):
            raise ValueError("give at least one of first_name, last_name, organisation, email, phone")
        return self


class CustomerUpdate(CustomerFields):
    """Fields to change; those left out stay as they are, null clears a field."""

    model_config = {
        "extra": "forbid",
        "json_schema_extra": {"examples": [{"email": "maija@example.fi", "city": "Espoo"}]},
    }

    kind: CustomerKind | SkipJsonSchema[None] = Field(default=None, description="Private person or business contact.")

    @model_validator(mode="after")
    def _kind_stays(self) -> CustomerUpdate:
        if "kind" in self.model_fields_set and self.kind is None:
            raise ValueError("kind cannot be cleared; it is private or business")
        return self


class Customer(CustomerFields, table=True):
    __table_args__ = (
        Index(
            "uq_customer_controller_id_external_id",
            "controller_id",
            "external_id",
            unique=True,
            postgresql_where=text("external_id IS NOT NULL"),
        ),
        Index("ix_customer_controller_id_email", "controller_id", "email"),
        Index("ix_customer_controller_id_phone", "controller_id", "phone"),
        Index("ix_customer_controller_id_created_at_id", "controller_id", "created_at", "id"),
    )

    controller_id: uuid.UUID = tenant_field()
    id: uuid.UUID = id_field()
    kind: CustomerKind = Field(default=CustomerKind.private)
    version: int = Field(default=1)
    created_at: dt.datetime = created_at_field()
    updated_at: dt.datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    # GDPR Art. 18: while restricted, the data is only stored (no marketing, no disclosure).
    restricted_at: dt.datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    restriction_ground: str | None = Field(default=None, max_length=40)
    # Art. 18(1)(a): while the accuracy is contested, only the disputed fields may be corrected.
    restriction_fields: list[str] = Field(
        default_factory=list, sa_column=Column(ARRAY(Text), nullable=False, server_default=text("'{}'"))
    )
    # Art. 18(3): the person must be told before the restriction is lifted.
    restriction_notice: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB, nullable=True))
    # GDPR Art. 17: erased; what the law requires is kept, blocked from every other use.
    erased_at: dt.datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    # Art. 15(1)(g), 20(1): where each field's value came from, as written (field -> a FieldSource).
    field_sources: dict[str, str] = Field(
        default_factory=dict, sa_column=Column(JSONB, nullable=False, server_default=text("'{}'"))
    )


class CustomerPublic(CustomerFields):
    """A customer as the API returns it."""

    model_config = {
        "json_schema_extra": {
            "examples": [
                _EXAMPLE
                | {
                    "id": "0b7e4c1e-3f0a-4d5e-9a7b-2f6c1d8e9a01",
                    "phone": "+358401234567",
                    "version": 1,
                    "created_at": "2026-11-20T10:15:00Z",
                    "updated_at": None,
                }
            ]
        }
    }

    id: uuid.UUID
    kind: CustomerKind
    version: int = Field(description="Changes on every update; the ETag carries it.")
    created_at: dt.datetime
    updated_at: dt.datetime | None
    restricted_at: dt.datetime | None = Field(
        default=None, description="Processing restricted (Art. 18): the data is only stored."
    )
    restriction_ground: str | None = Field(default=None, description="The Art. 18(1) ground.")
    restriction_fields: list[str] = Field(
        default_factory=list, description="While restricted, the only fields that may be corrected."
    )
    erased_at: dt.datetime | None = Field(
        default=None, description="Erased (Art. 17): what is left is kept by law, blocked from other use."
    )
    field_sources: dict[str, str] = Field(
        default_factory=dict,
        description="Where each field's value came from when it was written: the write's `source` (or the "
        "customer's), or `data_subject_request` for a correction the person asked for. A field written before "
        "sources were kept has none here; the customer's `source` stands for it.",
    )


class CustomerPage(SQLModel):
    """One page of customers; follow `next` for the rest."""

    items: list[CustomerPublic]
    next: str | None = Field(description="URL of the next page, or null on the last one.")


class ImportErrorLine(BaseModel):
    line: int = Field(description="The line's number in the body, from 1.")
    errors: list[dict[str, Any]] = Field(description="What is wrong with it: `loc`, `msg`, `type` (never the value).")


class ImportResult(BaseModel):
    """What an import did."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "lines": 3,
                    "created": 1,
                    "updated": 1,
                    "unchanged": 0,
                    "failed": 1,
                    "errors": [{"line": 2, "errors": [{"loc": ["email"], "msg": "…", "type": "value_error"}]}],
                    "errors_omitted": 0,
                }
            ]
        }
    )

    lines: int
    created: int
    updated: int
    unchanged: int
    failed: int = Field(description="Lines that applied nothing; each is in `errors` (the first 1,000).")
    errors: list[ImportErrorLine]
    errors_omitted: int = Field(description="Failed lines not listed in `errors`.")
