"""Idempotency keys: a retried POST gets the first answer, and writes nothing again."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Column, LargeBinary
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from app.models.base import created_at_field, tenant_field


class IdempotencyRecord(SQLModel, table=True):
    """One key's first request and its answer, written in the transaction that did the work."""

    __tablename__ = "idempotency_key"

    controller_id: uuid.UUID = tenant_field()
    key: str = Field(primary_key=True, max_length=200)
    fingerprint: bytes | None = Field(default=None, sa_type=LargeBinary, description="SHA-256 of method, path, body.")
    status: int | None = None
    body: bytes | None = Field(default=None, sa_type=LargeBinary)
    headers: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    subject_id: uuid.UUID | None = Field(default=None, description="Whose data the answer holds, for erasure.")
    created_at: dt.datetime = created_at_field()
