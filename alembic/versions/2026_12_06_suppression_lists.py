"""Suppression lists (ASML's Kielto register, the controller's own do-not-contact lists) and their entries.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from sqlalchemy.dialects import postgresql

from alembic import op
from app.config import get_settings

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "suppression_list",
        sa.Column("controller_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("list_date", sa.Date(), nullable=True),
        sa.Column("channels", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("entry_count", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["controller_id"], ["controller.id"], name=op.f("fk_suppression_list_controller_id_controller")
        ),
        sa.PrimaryKeyConstraint("controller_id", "id", name=op.f("pk_suppression_list")),
    )
    op.create_table(
        "suppression_entry",
        sa.Column("controller_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("list_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Enum("email", "phone", "postal_address", name="entrykind"), nullable=False),
        sa.Column("digest", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["controller_id", "list_id"],
            ["suppression_list.controller_id", "suppression_list.id"],
            name=op.f("fk_suppression_entry_controller_id_list_id_suppression_list"),
        ),
        sa.ForeignKeyConstraint(
            ["controller_id"], ["controller.id"], name=op.f("fk_suppression_entry_controller_id_controller")
        ),
        sa.PrimaryKeyConstraint("controller_id", "id", name=op.f("pk_suppression_entry")),
    )
    op.create_index(
        "uq_suppression_entry_controller_id_digest_list_id",
        "suppression_entry",
        ["controller_id", "digest", "list_id"],
        unique=True,
    )
    op.create_index(
        "ix_suppression_entry_controller_id_list_id_id", "suppression_entry", ["controller_id", "list_id", "id"]
    )
    role = get_settings().app_db_role
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON suppression_list TO {role}")
    # Entries are added and removed, never edited.
    op.execute(f"GRANT SELECT, INSERT, DELETE ON suppression_entry TO {role}")
    for table in ("suppression_list", "suppression_entry"):
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant ON {table} USING (controller_id = rekisteri_tenant()) "
            "WITH CHECK (controller_id = rekisteri_tenant())"
        )
        op.execute(
            f"CREATE CONSTRAINT TRIGGER audited AFTER INSERT OR UPDATE OR DELETE ON {table} "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_required()"
        )


def downgrade() -> None:
    op.drop_index("ix_suppression_entry_controller_id_list_id_id", table_name="suppression_entry")
    op.drop_index("uq_suppression_entry_controller_id_digest_list_id", table_name="suppression_entry")
    op.drop_table("suppression_entry")
    op.drop_table("suppression_list")
    op.execute("DROP TYPE entrykind")
