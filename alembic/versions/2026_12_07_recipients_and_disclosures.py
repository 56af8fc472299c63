"""Recipients and disclosures: webhooks and API keys name the recipient (of the profile's register) they
belong to, a disclosure log per person, and a controller's draft profile.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op
from app.config import get_settings

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("webhook", sa.Column("recipient", sa.Text(), nullable=True))
    op.add_column("api_key", sa.Column("recipient", sa.Text(), nullable=True))
    # A profile saved but not published: the public notice keeps the last complete version.
    op.add_column("controller", sa.Column("draft_profile", postgresql.JSONB(), nullable=True))
    op.create_table(
        "disclosure",
        sa.Column("controller_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.Column("recipient_name", sa.Text(), nullable=False),
        sa.Column("categories", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("reference", sa.Uuid(), nullable=True),
        sa.Column("disclosed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["controller_id"], ["controller.id"], name=op.f("fk_disclosure_controller_id_controller")
        ),
        sa.PrimaryKeyConstraint("controller_id", "id", name=op.f("pk_disclosure")),
    )
    op.create_index(
        "ix_disclosure_controller_id_customer_id_disclosed_at",
        "disclosure",
        ["controller_id", "customer_id", "disclosed_at"],
    )
    role = get_settings().app_db_role
    # The log is written and erased with the person, never edited.
    op.execute(f"GRANT SELECT, INSERT, DELETE ON disclosure TO {role}")
    op.execute("ALTER TABLE disclosure ENABLE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY tenant ON disclosure USING (controller_id = rekisteri_tenant()) "
        "WITH CHECK (controller_id = rekisteri_tenant())"
    )


def downgrade() -> None:
    op.drop_index("ix_disclosure_controller_id_customer_id_disclosed_at", table_name="disclosure")
    op.drop_table("disclosure")
    op.drop_column("controller", "draft_profile")
    op.drop_column("api_key", "recipient")
    op.drop_column("webhook", "recipient")
