"""Webhooks: subscriptions, the outbox, deliveries; the procrastinate job queue's schema.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 05:22:48.013612
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from procrastinate.schema import SchemaManager
from sqlalchemy.dialects import postgresql

from alembic import op
from app.config import get_settings

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook",
        sa.Column("controller_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("url", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("events", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("secret_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["controller_id"], ["controller.id"], name=op.f("fk_webhook_controller_id_controller")),
        sa.PrimaryKeyConstraint("controller_id", "id", name=op.f("pk_webhook")),
    )
    op.create_table(
        "webhook_delivery",
        sa.Column("controller_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("webhook_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column(
            "status", sa.Enum("pending", "delivered", "failed", "cancelled", name="deliverystatus"), nullable=False
        ),
        sa.Column("attempts", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["controller_id"], ["controller.id"], name=op.f("fk_webhook_delivery_controller_id_controller")
        ),
        sa.PrimaryKeyConstraint("controller_id", "id", name=op.f("pk_webhook_delivery")),
        sa.UniqueConstraint(
            "controller_id",
            "webhook_id",
            "event_id",
            name=op.f("uq_webhook_delivery_controller_id_webhook_id_event_id"),
        ),
    )
    op.create_index(
        "ix_webhook_delivery_controller_id_webhook_id_created_at",
        "webhook_delivery",
        ["controller_id", "webhook_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "webhook_event",
        sa.Column("controller_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("type", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["controller_id"], ["controller.id"], name=op.f("fk_webhook_event_controller_id_controller")
        ),
        sa.PrimaryKeyConstraint("controller_id", "id", name=op.f("pk_webhook_event")),
    )
    role = get_settings().app_db_role
    for table, privileges in (
        ("webhook", "SELECT, INSERT, UPDATE"),
        ("webhook_event", "SELECT, INSERT"),
        ("webhook_delivery", "SELECT, INSERT, UPDATE"),
    ):
        op.execute(f"GRANT {privileges} ON {table} TO {role}")
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant ON {table} USING (controller_id = rekisteri_tenant()) "
            "WITH CHECK (controller_id = rekisteri_tenant())"
        )
    # The job queue. The API inserts jobs in the transaction of the change they come from (the outbox);
    # workers connect as the owner.
    with op.get_bind().connection.dbapi_connection.cursor() as cursor:  # type: ignore[union-attr]
        cursor.execute(SchemaManager.get_schema())  # no parameters: its % signs stay as they are
    op.execute(f"GRANT INSERT ON procrastinate_jobs, procrastinate_events TO {role}")
    op.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {_schema()} TO {role}")


def _schema() -> str:
    return str(op.get_bind().exec_driver_sql("SELECT current_schema()").scalar_one())


def downgrade() -> None:
    op.execute(
        "DROP TABLE procrastinate_events, procrastinate_periodic_defers, procrastinate_jobs, "
        "procrastinate_workers CASCADE"
    )
    op.execute("""
        DO $$ DECLARE r record; BEGIN
            FOR r IN SELECT p.oid::regprocedure AS f FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                     WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate%' LOOP
                EXECUTE 'DROP FUNCTION ' || r.f || ' CASCADE';
            END LOOP;
        END $$
    """)
    for name in ("procrastinate_job_status", "procrastinate_job_event_type", "procrastinate_job_to_defer_v1"):
        op.execute(f"DROP TYPE IF EXISTS {name} CASCADE")
    op.drop_table("webhook_event")
    op.drop_index("ix_webhook_delivery_controller_id_webhook_id_created_at", table_name="webhook_delivery")
    op.drop_table("webhook_delivery")
    op.drop_table("webhook")
    op.execute("DROP TYPE deliverystatus")
