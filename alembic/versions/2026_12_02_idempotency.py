"""Idempotency keys for the POSTs that integrations retry.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op
from app.config import get_settings

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idempotency_key",
        sa.Column("controller_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("fingerprint", sa.LargeBinary(), nullable=True),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column("headers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["controller_id"], ["controller.id"], name=op.f("fk_idempotency_key_controller_id_controller")
        ),
        sa.PrimaryKeyConstraint("controller_id", "key", name=op.f("pk_idempotency_key")),
    )
    op.create_index("ix_idempotency_key_created_at", "idempotency_key", ["created_at"])
    op.create_index("ix_idempotency_key_controller_id_subject_id", "idempotency_key", ["controller_id", "subject_id"])
    role = get_settings().app_db_role
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON idempotency_key TO {role}")
    op.execute("ALTER TABLE idempotency_key ENABLE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY tenant ON idempotency_key USING (controller_id = rekisteri_tenant()) "
        "WITH CHECK (controller_id = rekisteri_tenant())"
    )


def downgrade() -> None:
    op.drop_table("idempotency_key")
