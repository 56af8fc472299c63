"""The disclosure log: every time data about a person leaves the service to a named recipient (GDPR Art. 15(1)(c),
19, 30(1)(d); CJEU C-154/21), written in the transaction that sends it and erased with the person."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Column, DateTime, Index, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field, SQLModel

from app.models.base import id_field, tenant_field, utcnow


class Disclosure(SQLModel, table=True):
    __tablename__ = "disclosure"
    __table_args__ = (
        Index("ix_disclosure_controller_id_customer_id_disclosed_at", "controller_id", "customer_id", "disclosed_at"),
    )

    controller_id: uuid.UUID = tenant_field()
    id: uuid.UUID = id_field()
    customer_id: uuid.UUID
    recipient: str = Field(description="The recipient's id in the controller's profile.")
    recipient_name: str = Field(description="Its name when the data went to it.")
    categories: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(Text), nullable=False))
    channel: str = Field(description="How the data left: `webhook`, `export` or `campaign`.")
    reference: uuid.UUID | None = Field(default=None, description="The delivery or request it went with.")
    disclosed_at: dt.datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
