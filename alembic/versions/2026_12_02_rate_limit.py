"""Rate limits per API key, shared by every API process: one row per key, in an unlogged table.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from app.config import get_settings

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Unlogged: a crash forgets the counts, which is what a rate limit may lose; written at every request.
    op.execute("CREATE UNLOGGED TABLE rate_limit (key_id uuid PRIMARY KEY, tat timestamptz NOT NULL)")
    schema = op.get_bind().execute(sa.text("SELECT current_schema()")).scalar_one()
    # GCRA (the generic cell rate algorithm): `tat` is when the key's bucket is next empty. A request is let
    # through while tat is at most `burst` intervals ahead of now, and moves it one interval on; otherwise it
    # is refused, and the answer is how many seconds until one would pass. Called on a connection of its own
    # in autocommit, so the row is locked for one statement, not for the request.
    op.execute(f"""
        CREATE FUNCTION rekisteri_rate_hit(p_key uuid, p_per_second double precision, p_burst integer)
        RETURNS double precision
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, "{schema}", pg_temp AS $$
        DECLARE
            step interval := make_interval(secs => 1.0 / p_per_second);
            tolerance interval := make_interval(secs => p_burst / p_per_second);
            now_ts timestamptz := clock_timestamp();
            next_tat timestamptz;
        BEGIN
            INSERT INTO rate_limit AS r (key_id, tat) VALUES (p_key, now_ts + step)
            ON CONFLICT (key_id) DO UPDATE SET tat = greatest(r.tat, now_ts) + step
                WHERE greatest(r.tat, now_ts) + step - now_ts <= tolerance
            RETURNING tat INTO next_tat;
            IF next_tat IS NOT NULL THEN
                RETURN 0;
            END IF;
            SELECT tat INTO next_tat FROM rate_limit WHERE key_id = p_key;
            RETURN greatest(extract(epoch FROM (next_tat + step - tolerance - now_ts)), 0.001);
        END $$
    """)
    role = get_settings().app_db_role
    op.execute("REVOKE ALL ON FUNCTION rekisteri_rate_hit(uuid, double precision, integer) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION rekisteri_rate_hit(uuid, double precision, integer) TO {role}")


def downgrade() -> None:
    op.execute("DROP FUNCTION rekisteri_rate_hit(uuid, double precision, integer)")
    op.execute("DROP TABLE rate_limit")
