"""Orders (tilaukset, toimeksiannot): what a customer bought and whether the invoice is settled."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from decimal import Decimal
from typing import Annotated, Any

import pycountry
from pydantic import BaseModel, BeforeValidator, ConfigDict, WithJsonSchema
from sqlalchemy import Date, DateTime, ForeignKeyConstraint, Index, Numeric, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Column, Field, SQLModel

from app.models.base import IsoDate, TextDecimal, created_at_field, id_field, tenant_field


class InvoiceStatus(enum.StrEnum):
    open = "open"
    paid = "paid"
    in_collection = "in_collection"
    credited = "credited"


def _decimal(pattern: str, example: str) -> WithJsonSchema:
    # Amounts travel as decimal strings, never as binary floats.
    return WithJsonSchema({"type": "string", "pattern": pattern, "examples": [example]})


Money = Annotated[
    Decimal, TextDecimal, Field(max_digits=14, decimal_places=2), _decimal(r"^-?[0-9]{1,12}(\.[0-9]{1,2})?$", "99.80")
]
Price = Annotated[
    Decimal, TextDecimal, Field(max_digits=12, decimal_places=2), _decimal(r"^-?[0-9]{1,10}(\.[0-9]{1,2})?$", "49.90")
]
Quantity = Annotated[
    Decimal, TextDecimal, Field(ge=0, max_digits=12, decimal_places=3), _decimal(r"^[0-9]{1,9}(\.[0-9]{1,3})?$", "2")
]

# ISO 4217 codes, listed in the OpenAPI document; lower case is accepted on input.
Currency = enum.StrEnum(  # type: ignore[misc]
    "Currency", {code: code for code in sorted(c.alpha_3 for c in pycountry.currencies)}
)


def _upper(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


CurrencyCode = Annotated[Currency, BeforeValidator(_upper)]


class OrderLine(BaseModel):
    """One line of an order."""

    model_config = ConfigDict(extra="forbid")

    description: str = Field(min_length=1, max_length=500)
    quantity: Quantity
    unit_price: Price
    sku: str | None = Field(default=None, max_length=100)


_EXAMPLE: dict[str, Any] = {
    "external_id": "order-2026-0001",
    "order_date": "2026-11-20",
    "lines": [{"description": "Kaiutin", "quantity": "2", "unit_price": "49.90", "sku": "SPK-1"}],
    "total": "99.80",
    "currency": "EUR",
    "invoice_status": "open",
}


# Erasure holds an unpaid invoice as a legal claim (GDPR Art. 17(3)(e)) until it is settled or time-barred: three
# years from the due date unless the limitation was interrupted, when three years run again from that day (Act on
# the limitation of debts 728/2003, sections 4, 10 and 11). A settlement's voucher belongs to the financial year of
# the settlement (Accounting Act 1336/1997 2:10).
_DUE = "The invoice's due date; the limitation period (3 years, Act 728/2003) runs from it. Default: the order date."
_SETTLED = "When the invoice was settled (paid or credited). Default: today, when the status becomes paid or credited."
_INTERRUPTED = "The last day the limitation was interrupted (e.g. a reminder or a collection step, Act 728/2003 s. 10)."
_SETTLED_STATUSES = [InvoiceStatus.paid.value, InvoiceStatus.credited.value]
# A settlement date is for a settled invoice (services/orders.py), stated in the schema: a new order's status is
# the body's (open when left out); a change's is the body's when it names one, else the order's (no schema's).
_SETTLED_ON_CREATE: dict[str, Any] = {
    "if": {"required": ["settled_date"], "properties": {"settled_date": {"type": "string"}}},
    "then": {"required": ["invoice_status"], "properties": {"invoice_status": {"enum": _SETTLED_STATUSES}}},
}
_SETTLED_ON_UPDATE: dict[str, Any] = {
    "if": {
        "required": ["settled_date", "invoice_status"],
        "properties": {"settled_date": {"type": "string"}, "invoice_status": {"type": "string"}},
    },
    "then": {"properties": {"invoice_status": {"enum": _SETTLED_STATUSES}}},
}


class OrderCreate(BaseModel):
    """A new order for the customer in the path."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_EXAMPLE], **_SETTLED_ON_CREATE})

    external_id: str | None = Field(default=None, min_length=1, max_length=200)
    order_date: IsoDate
    lines: list[OrderLine] = Field(default_factory=list, max_length=10000)
    total: Money
    currency: CurrencyCode = Field(default="EUR", description="ISO 4217.")
    invoice_status: InvoiceStatus = InvoiceStatus.open
    invoice_due_date: IsoDate | None = Field(default=None, description=_DUE)
    settled_date: IsoDate | None = Field(default=None, description=_SETTLED)
    limitation_interrupted_date: IsoDate | None = Field(default=None, description=_INTERRUPTED)


class OrderUpdate(BaseModel):
    """Fields to change on an order; usually the invoice status."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"invoice_status": "paid"}], **_SETTLED_ON_UPDATE}
    )

    external_id: str | None = Field(default=None, min_length=1, max_length=200)
    order_date: IsoDate | None = None
    lines: list[OrderLine] | None = Field(default=None, max_length=10000)
    total: Money | None = None
    currency: CurrencyCode | None = None
    invoice_status: InvoiceStatus | None = None
    invoice_due_date: IsoDate | None = Field(default=None, description=_DUE)
    settled_date: IsoDate | None = Field(default=None, description=_SETTLED)
    limitation_interrupted_date: IsoDate | None = Field(default=None, description=_INTERRUPTED)


class Order(SQLModel, table=True):
    __tablename__ = "customer_order"
    __table_args__ = (
        ForeignKeyConstraint(["controller_id", "customer_id"], ["customer.controller_id", "customer.id"]),
        Index(
            "uq_customer_order_controller_id_external_id",
            "controller_id",
            "external_id",
            unique=True,
            postgresql_where=text("external_id IS NOT NULL"),
        ),
        Index("ix_customer_order_controller_id_customer_id", "controller_id", "customer_id", "order_date"),
    )

    controller_id: uuid.UUID = tenant_field()
    id: uuid.UUID = id_field()
    customer_id: uuid.UUID
    external_id: str | None = Field(default=None, max_length=200)
    order_date: dt.date = Field(sa_type=Date)
    lines: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    total: Decimal = Field(sa_type=Numeric(14, 2))
    currency: str = Field(max_length=3)
    invoice_status: InvoiceStatus = Field(default=InvoiceStatus.open)
    # NULL on orders recorded before these were kept: an unpaid one is then held until settled, as before.
    invoice_due_date: dt.date | None = Field(default=None, sa_type=Date)
    settled_date: dt.date | None = Field(default=None, sa_type=Date)
    limitation_interrupted_date: dt.date | None = Field(default=None, sa_type=Date)
    version: int = Field(default=1)
    created_at: dt.datetime = created_at_field()
    updated_at: dt.datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class OrderPublic(BaseModel):
    """An order as the API returns it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                _EXAMPLE
                | {
                    "id": "6a1f0d2c-8b3e-4f5a-9c7d-1e2f3a4b5c6d",
                    "customer_id": "0b7e4c1e-3f0a-4d5e-9a7b-2f6c1d8e9a01",
                    "invoice_due_date": "2026-12-04",
                    "settled_date": None,
                    "limitation_interrupted_date": None,
                    "version": 1,
                    "created_at": "2026-11-20T10:16:00Z",
                    "updated_at": None,
                }
            ]
        }
    )

    id: uuid.UUID
    customer_id: uuid.UUID
    external_id: str | None
    order_date: dt.date
    lines: list[OrderLine]
    total: Money
    currency: str
    invoice_status: InvoiceStatus
    invoice_due_date: dt.date | None
    settled_date: dt.date | None
    limitation_interrupted_date: dt.date | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime | None


class OrderPage(BaseModel):
    """One page of orders; follow `next` for the rest."""

    items: list[OrderPublic]
    next: str | None
