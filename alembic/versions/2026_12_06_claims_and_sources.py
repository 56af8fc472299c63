"""Invoices' due, settlement and limitation dates, for the erasure holds that depend on them; and where each
customer field's value came from.

Orders recorded before have none: an unpaid one stays held until it is settled (as before) or a due date is set.
Customers recorded before have no field sources: their record's `source` stands for every field (no row changes).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("invoice_due_date", "settled_date", "limitation_interrupted_date")


def upgrade() -> None:
    for name in COLUMNS:
        op.add_column("customer_order", sa.Column(name, sa.Date(), nullable=True))
    op.add_column(
        "customer",
        sa.Column("field_sources", postgresql.JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
    )


def downgrade() -> None:
    op.drop_column("customer", "field_sources")
    for name in reversed(COLUMNS):
        op.drop_column("customer_order", name)
