"""The workers' health, for readiness and the metrics: their last heartbeat, and the oldest delivery still pending.

The API's role reads neither procrastinate's workers nor another controller's deliveries; this one function
answers for all of them with counts and times only (nothing about a person, a controller or a receiver).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 12:00:00
"""

from collections.abc import Sequence

from alembic import op
from app.config import get_settings

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    role = get_settings().app_db_role
    schema = op.get_bind().exec_driver_sql("SELECT current_schema()").scalar_one()
    # Pending deliveries are few beside the delivered ones that pile up: the oldest is found in this index alone.
    op.execute(
        "CREATE INDEX ix_webhook_delivery_pending_created_at ON webhook_delivery (created_at) WHERE status = 'pending'"
    )
    op.execute(f"""
        CREATE FUNCTION rekisteri_worker_health(
            p_stalled_seconds double precision,
            OUT workers integer, OUT alive integer, OUT last_heartbeat_at timestamptz,
            OUT pending bigint, OUT oldest_pending_at timestamptz
        )
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, "{schema}", pg_temp
        AS $$
            SELECT
                (SELECT count(*)::integer FROM procrastinate_workers),
                (SELECT count(*)::integer FROM procrastinate_workers
                  WHERE last_heartbeat >= now() - make_interval(secs => p_stalled_seconds)),
                (SELECT max(last_heartbeat) FROM procrastinate_workers),
                (SELECT count(*) FROM webhook_delivery WHERE status = 'pending'),
                (SELECT min(created_at) FROM webhook_delivery WHERE status = 'pending')
        $$
    """)
    op.execute("REVOKE ALL ON FUNCTION rekisteri_worker_health(double precision) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION rekisteri_worker_health(double precision) TO {role}")


def downgrade() -> None:
    op.execute("DROP FUNCTION rekisteri_worker_health(double precision)")
    op.execute("DROP INDEX ix_webhook_delivery_pending_created_at")
