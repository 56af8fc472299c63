"""Automated calls are a marketing channel of their own; telemarketing prohibitions carry over to them.

Act 917/2014 § 200(1) requires prior consent for marketing to a natural person by automated calling systems
and voice messages, unlike telemarketing by a person. Until now such calls were checked as telemarketing, so a
person who forbade telemarketing forbade them too: that prohibition is recorded again on the new channel, with
the date the person gave, as an audited event of its own (nothing of it is lost, nothing is rewritten).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 09:00:00
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from alembic import op
from app.actor import attach, system_actor
from app.audit import record
from app.models.audit import AuditAction

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTOR = "rekisteri db upgrade"
CHANNELS = (
    "direct_mail",
    "telemarketing",
    "electronic",
    "market_research",
    "partner_disclosure",
    "list_publication",
    "profiling",
)

# Each customer's latest telemarketing prohibition or lifting, by when the register learnt it (a lifting wins a
# tie, as in the marketing check); erased people have no history left to carry.
_LIVE_PROHIBITIONS = sa.text("""
    SELECT DISTINCT ON (e.controller_id, e.customer_id)
           e.controller_id, e.customer_id, e.action::text AS action, e.occurred_at, e.received_via::text AS via
    FROM marketing_event e
    JOIN customer c ON c.controller_id = e.controller_id AND c.id = e.customer_id
    WHERE e.channel = 'telemarketing' AND e.action IN ('prohibited', 'prohibition_lifted') AND c.erased_at IS NULL
    ORDER BY e.controller_id, e.customer_id, e.created_at DESC, (e.action = 'prohibited')
""")
_INSERT = sa.text("""
    INSERT INTO marketing_event
        (controller_id, id, customer_id, channel, action, occurred_at, received_via, source, recorded_by)
    VALUES (:controller_id, :id, :customer_id, CAST(:channel AS channel), CAST(:action AS marketingaction),
            :occurred_at, CAST(:received_via AS receivedvia), :source, :recorded_by)
""")


def upgrade() -> None:
    # A value added to an enum cannot be used in the transaction that added it: it is committed on its own.
    with op.get_context().autocommit_block():
        op.execute("ALTER TYPE channel ADD VALUE IF NOT EXISTS 'automated_calls' AFTER 'telemarketing'")

    bind = op.get_bind()
    carried = [row for row in bind.execute(_LIVE_PROHIBITIONS) if row.action == "prohibited"]
    if not carried:
        return
    # Written through the audit log like any change: the session's commit seals the events into each
    # controller's chain, inside the migration's transaction.
    with Session(bind=bind, join_transaction_mode="create_savepoint") as session:
        attach(session, system_actor(uuid.UUID(int=0), ACTOR))
        for row in carried:
            values = {
                "controller_id": row.controller_id,
                "id": uuid.uuid4(),
                "customer_id": row.customer_id,
                "channel": "automated_calls",
                "action": "prohibited",
                "occurred_at": row.occurred_at,
                "received_via": row.via,
                "source": "the person's telemarketing prohibition, carried over to automated calls",
                "recorded_by": ACTOR,
            }
            session.execute(_INSERT, values)
            record(
                session,
                controller_id=row.controller_id,
                entity="marketing_event",
                entity_id=values["id"],
                action=AuditAction.create,
                subject_id=row.customer_id,
                changes={k: {"new": v} for k, v in values.items()},
            )
        session.commit()


def downgrade() -> None:
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT 1 FROM marketing_event WHERE channel = 'automated_calls' LIMIT 1")).first():
        raise RuntimeError(
            "choices on the automated_calls channel are recorded; a downgrade would lose them (restore a backup)"
        )
    op.execute("ALTER TYPE channel RENAME TO channel_old")
    op.execute(f"CREATE TYPE channel AS ENUM ({', '.join(repr(c) for c in CHANNELS)})")
    op.execute("ALTER TABLE marketing_event ALTER COLUMN channel TYPE channel USING channel::text::channel")
    op.execute("DROP TYPE channel_old")
