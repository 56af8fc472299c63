"""Marketing prohibitions and consents; restriction and erasure marks on customers.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 05:02:07.820057
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op
from app.config import get_settings

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "marketing_event",
        sa.Column("controller_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column(
            "channel",
            sa.Enum(
                "direct_mail",
                "telemarketing",
                "electronic",
                "market_research",
                "partner_disclosure",
                "list_publication",
                "profiling",
                name="channel",
            ),
            nullable=True,
        ),
        sa.Column(
            "action",
            sa.Enum(
                "prohibited",
                "prohibition_lifted",
                "consent_granted",
                "consent_withdrawn",
                "opt_out_offered",
                "objected",
                "objection_withdrawn",
                name="marketingaction",
            ),
            nullable=False,
        ),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "received_via", sa.Enum("letter", "email", "phone", "in_person", "web", name="receivedvia"), nullable=True
        ),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("wording", sqlmodel.sql.sqltypes.AutoString(length=5000), nullable=True),
        sa.Column("recorded_by_key_id", sa.Uuid(), nullable=True),
        sa.Column("recorded_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["controller_id", "customer_id"],
            ["customer.controller_id", "customer.id"],
            name=op.f("fk_marketing_event_controller_id_customer_id_customer"),
        ),
        sa.ForeignKeyConstraint(
            ["controller_id"], ["controller.id"], name=op.f("fk_marketing_event_controller_id_controller")
        ),
        sa.PrimaryKeyConstraint("controller_id", "id", name=op.f("pk_marketing_event")),
    )
    op.create_index(
        "ix_marketing_event_controller_id_customer_id",
        "marketing_event",
        ["controller_id", "customer_id", "occurred_at"],
        unique=False,
    )
    op.add_column("customer", sa.Column("restricted_since", sa.DateTime(timezone=True), nullable=True))
    op.add_column("customer", sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    role = get_settings().app_db_role
    # The history is append-only for the service: a change of mind is a new event, never an edit.
    op.execute(f"GRANT SELECT, INSERT ON marketing_event TO {role}")
    op.execute("ALTER TABLE marketing_event ENABLE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY tenant ON marketing_event USING (controller_id = rekisteri_tenant()) "
        "WITH CHECK (controller_id = rekisteri_tenant())"
    )
    op.execute(
        "CREATE CONSTRAINT TRIGGER audited AFTER INSERT OR UPDATE OR DELETE ON marketing_event "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_required()"
    )


def downgrade() -> None:
    op.drop_column("customer", "erased_at")
    op.drop_column("customer", "restricted_since")
    op.drop_index("ix_marketing_event_controller_id_customer_id", table_name="marketing_event")
    op.drop_table("marketing_event")
    for enum in ("channel", "marketingaction", "receivedvia"):
        op.execute(f"DROP TYPE {enum}")
