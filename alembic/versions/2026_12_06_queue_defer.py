"""The API defers jobs through procrastinate's own function, which answers with the new jobs' ids.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 02:00:00
"""

from collections.abc import Sequence

from alembic import op
from app.config import get_settings

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # procrastinate_defer_jobs_v1 inserts with RETURNING id: the API's role may read that column, no other.
    op.execute(f"GRANT SELECT (id) ON procrastinate_jobs TO {get_settings().app_db_role}")


def downgrade() -> None:
    op.execute(f"REVOKE SELECT (id) ON procrastinate_jobs FROM {get_settings().app_db_role}")
