"""Timestamps end in _at: customer.restricted_since becomes restricted_at.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 03:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A rename changes no row: the audit trigger does not fire, and past audit events keep the old name.
    op.alter_column("customer", "restricted_since", new_column_name="restricted_at")


def downgrade() -> None:
    op.alter_column("customer", "restricted_at", new_column_name="restricted_since")
