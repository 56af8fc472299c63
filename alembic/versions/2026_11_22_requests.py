"""Data subject requests; restriction details on customers; what erasure may change.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from sqlalchemy.dialects import postgresql

from alembic import op
from app.config import get_settings

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENUMS = {
    "requesttype": (
        "access",
        "portability",
        "rectification",
        "restriction",
        "objection",
        "erasure",
        "marketing_prohibition",
    ),
    "requeststatus": ("received", "awaiting_identity", "in_progress", "completed", "refused", "withdrawn"),
    "requestchannel": ("letter", "email", "phone", "in_person", "web_form", "authorised_agent"),
    "answerlanguage": ("fi", "sv", "en"),
    "identitymethod": (
        "known_contact",
        "document",
        "strong_authentication",
        "in_person",
        "security_question",
        "other",
    ),
}


def _enum(name: str) -> sa.Enum:
    return sa.Enum(*ENUMS[name], name=name)


def upgrade() -> None:
    op.create_table(
        "subject_request",
        sa.Column("controller_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column("type", _enum("requesttype"), nullable=False),
        sa.Column("status", _enum("requeststatus"), nullable=False),
        sa.Column("channel", _enum("requestchannel"), nullable=False),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=35), nullable=True),
        sa.Column("answer_language", _enum("answerlanguage"), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("original_due_date", sa.Date(), nullable=False),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column("person", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("params", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("identity_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("identity_method", _enum("identitymethod"), nullable=True),
        sa.Column("identity_verified_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("identity_verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_days", sa.Integer(), nullable=False),
        sa.Column("extended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("extension_months", sa.Integer(), nullable=True),
        sa.Column("extension_reason", sa.Text(), nullable=True),
        sa.Column("outcome", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("refusal_reasons", sa.Text(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["controller_id", "customer_id"],
            ["customer.controller_id", "customer.id"],
            name=op.f("fk_subject_request_controller_id_customer_id_customer"),
        ),
        sa.ForeignKeyConstraint(
            ["controller_id"], ["controller.id"], name=op.f("fk_subject_request_controller_id_controller")
        ),
        sa.PrimaryKeyConstraint("controller_id", "id", name=op.f("pk_subject_request")),
        sa.CheckConstraint("extension_months IS NULL OR extension_months BETWEEN 1 AND 2", name="extension"),
        sa.CheckConstraint("paused_days >= 0", name="paused_days"),
    )
    op.create_index(
        "ix_subject_request_controller_id_due_date_id", "subject_request", ["controller_id", "due_date", "id"]
    )
    op.create_index("ix_subject_request_controller_id_customer_id", "subject_request", ["controller_id", "customer_id"])
    op.add_column("customer", sa.Column("restriction_ground", sqlmodel.sql.sqltypes.AutoString(40), nullable=True))
    op.add_column(
        "customer",
        sa.Column("restriction_fields", postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'"), nullable=False),
    )
    op.add_column("customer", sa.Column("restriction_notice", postgresql.JSONB(astext_type=sa.Text()), nullable=True))

    role = get_settings().app_db_role
    # Requests are proof that the controller answered: never deleted, erased of personal values only.
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON subject_request TO {role}")
    op.execute("ALTER TABLE subject_request ENABLE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY tenant ON subject_request USING (controller_id = rekisteri_tenant()) "
        "WITH CHECK (controller_id = rekisteri_tenant())"
    )
    op.execute(
        "CREATE CONSTRAINT TRIGGER audited AFTER INSERT OR UPDATE OR DELETE ON subject_request "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_required()"
    )
    # Erasure removes the person's marketing history (audited like every change) and the personal
    # values in their past webhook events.
    op.execute(f"GRANT DELETE ON marketing_event TO {role}")
    op.execute(f"GRANT UPDATE (payload) ON webhook_event TO {role}")


def downgrade() -> None:
    role = get_settings().app_db_role
    op.execute(f"REVOKE UPDATE (payload) ON webhook_event FROM {role}")
    op.execute(f"REVOKE DELETE ON marketing_event FROM {role}")
    op.drop_column("customer", "restriction_notice")
    op.drop_column("customer", "restriction_fields")
    op.drop_column("customer", "restriction_ground")
    op.drop_index("ix_subject_request_controller_id_customer_id", table_name="subject_request")
    op.drop_index("ix_subject_request_controller_id_due_date_id", table_name="subject_request")
    op.drop_table("subject_request")
    for name in ENUMS:
        op.execute(f"DROP TYPE {name}")
