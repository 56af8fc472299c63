"""The audit log: append-only, hash-chained events, and the per-subject keys that encrypt their values."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import BigInteger, Column, DateTime, Index, LargeBinary, Text, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field as SQLField
from sqlmodel import SQLModel

from app.models.base import created_at_field, tenant_field


class AuditAction(enum.StrEnum):
    create = "create"
    update = "update"
    delete = "delete"
    erase = "erase"
    disclose = "disclose"


class AuditEvent(SQLModel, table=True):
    """One change or disclosure. Rows are never updated or deleted (PostgreSQL refuses)."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_controller_id_subject_id", "controller_id", "subject_id"),
        Index("ix_audit_event_controller_id_entity_id", "controller_id", "entity_id"),
        Index("ix_audit_event_controller_id_txid_entity_id", "controller_id", "txid", "entity_id"),
    )

    controller_id: uuid.UUID = tenant_field()
    seq: int = SQLField(sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})
    occurred_at: dt.datetime = SQLField(sa_type=DateTime(timezone=True))
    txid: int = SQLField(
        sa_type=BigInteger,
        sa_column_kwargs={"server_default": text("(pg_current_xact_id()::text)::bigint"), "nullable": False},
    )
    request_id: str | None = None
    actor_key_id: uuid.UUID | None = None
    actor_name: str
    actor_role: str
    entity: str
    entity_id: uuid.UUID
    action: AuditAction
    subject_id: uuid.UUID | None = None
    fields: list[str] = SQLField(sa_column=Column(ARRAY(Text), nullable=False))
    encrypted: bool
    changes: bytes = SQLField(sa_type=LargeBinary)
    prev_hash: bytes = SQLField(sa_type=LargeBinary)
    hash: bytes = SQLField(sa_type=LargeBinary)


class AuditHead(SQLModel, table=True):
    """The newest event of a controller's chain, sealed with a MAC: removing events from the end shows."""

    __tablename__ = "audit_head"

    controller_id: uuid.UUID = SQLField(foreign_key="controller.id", primary_key=True)
    seq: int = SQLField(sa_type=BigInteger)
    hash: bytes = SQLField(sa_type=LargeBinary)
    mac: bytes = SQLField(sa_type=LargeBinary)


class SubjectKey(SQLModel, table=True):
    """The data key of one data subject, wrapped by the master key; destroyed on erasure."""

    __tablename__ = "subject_key"

    controller_id: uuid.UUID = tenant_field()
    subject_id: uuid.UUID = SQLField(primary_key=True)
    wrapped_key: bytes | None = SQLField(default=None, sa_type=LargeBinary)
    created_at: dt.datetime = created_at_field()
    destroyed_at: dt.datetime | None = SQLField(default=None, sa_type=DateTime(timezone=True))


class FieldChange(BaseModel):
    old: Any = None
    new: Any = None


class AuditEventPublic(BaseModel):
    """An audit event as auditors see it: values decrypted while the subject's key exists."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "seq": 42,
                    "occurred_at": "2026-11-21T14:02:11Z",
                    "request_id": "5f0c2a9e8d7b4c3a",
                    "actor_key_id": "3c9a7e52-1d4b-4f6e-8a2c-5b7d9e1f3a5c",
                    "actor_name": "Liisa Asiakaspalvelu",
                    "actor_role": "agent",
                    "entity": "customer",
                    "entity_id": "0b7e4c1e-3f0a-4d5e-9a7b-2f6c1d8e9a01",
                    "action": "update",
                    "subject_id": "0b7e4c1e-3f0a-4d5e-9a7b-2f6c1d8e9a01",
                    "fields": ["city", "updated_at"],
                    "changes": {
                        "city": {"old": "Helsinki", "new": "Espoo"},
                        "updated_at": {"old": None, "new": "2026-11-21T14:02:11Z"},
                    },
                    "erased": False,
                    "hash": "9f2c…",
                }
            ]
        }
    )

    seq: int
    occurred_at: dt.datetime
    request_id: str | None
    actor_key_id: uuid.UUID | None
    actor_name: str
    actor_role: str
    entity: str
    entity_id: uuid.UUID
    action: AuditAction
    subject_id: uuid.UUID | None
    fields: list[str]
    changes: dict[str, FieldChange] | None = Field(
        description="Old and new value per field; null when the subject's key was destroyed by erasure."
    )
    erased: bool = Field(description="The subject was erased: the values can no longer be read.")
    hash: str = Field(description="This event's link in the hash chain (hex).")


class AuditPage(BaseModel):
    """One page of audit events, oldest first; follow `next` for the rest."""

    items: list[AuditEventPublic]
    next: str | None


class AuditVerification(BaseModel):
    """The result of checking the hash chain."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"ok": True, "events_checked": 1204, "first_broken_seq": None, "reason": None},
                {"ok": False, "events_checked": 41, "first_broken_seq": 42, "reason": "the event was altered"},
            ]
        }
    )

    ok: bool
    events_checked: int
    first_broken_seq: int | None = Field(description="The first event whose link does not hold, if any.")
    reason: str | None = None
