"""Recipients and disclosures: webhooks and API keys name the recipient (of the profile's register) they
belong to, a disclosure log per person, and a controller's draft profile.

The data carried forward (GDPR Art. 13(1)(e), 15(1)(c), 30(1)(d)): every existing webhook becomes, or joins,
a recipient in its controller's register, named after its description or its URL's host, with data and purpose
marked for the admin to review; the register is a fact the notice shows, so a new version of the notice is
published with it (rendered when read), through the audit log like any change. What the webhooks delivered
about a person before the log existed is entered in the log, so that the access answer can name who received
the person's data and when (CJEU C-154/21). An erased person's deliveries are not entered: erasure leaves no
disclosure entry.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 09:00:00
"""

import datetime as dt
import re
import unicodedata
import uuid
import zoneinfo
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from alembic import op
from app.actor import attach, system_actor
from app.audit import record
from app.config import get_settings
from app.models.audit import AuditAction

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTOR = "rekisteri db upgrade"
# What the migration cannot know: the admin states it (Art. 30(1)(d) and 15(1)(c) need both).
NOT_STATED = {"fi": "Ei ilmoitettu: tarkistettava", "sv": None, "en": None}

_AUTHENTICATE = """
    CREATE FUNCTION rekisteri_authenticate(p_hash bytea)
    RETURNS TABLE (id uuid, controller_id uuid, name text, role text{extra})
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = {path} AS $$
    BEGIN
        UPDATE api_key SET last_used_at = now()
        WHERE api_key.id = (
            SELECT k.id FROM api_key k
            WHERE k.key_hash = p_hash AND k.revoked_at IS NULL
              AND (k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute')
            FOR UPDATE SKIP LOCKED);
        RETURN QUERY
            SELECT k.id, k.controller_id, k.name::text, k.role::text{extra_column} FROM api_key k
            WHERE k.key_hash = p_hash AND k.revoked_at IS NULL;
    END $$
"""

# Deliveries made before the log existed, as entries of it; the categories as app/services/disclosures.py
# names them for each event type. The erasure event is never entered, nor anything about an erased person.
_BACKFILL = sa.text("""
    INSERT INTO disclosure
        (controller_id, id, customer_id, recipient, recipient_name, categories, channel, reference, disclosed_at)
    SELECT d.controller_id, gen_random_uuid(), e.subject_id, w.recipient, n.name,
           CASE e.type
               WHEN 'marketing.changed' THEN ARRAY['identifiers', 'marketing']
               WHEN 'customer.rectified' THEN ARRAY['identifiers'] || ARRAY(
                   SELECT k FROM jsonb_object_keys(coalesce(e.payload #> '{data,fields}', '{}')) k ORDER BY k)
               ELSE ARRAY['identifiers', 'restriction']
           END,
           'webhook', d.id, coalesce(d.delivered_at, d.created_at)
    FROM webhook_delivery d
    JOIN webhook_event e ON e.controller_id = d.controller_id AND e.id = d.event_id
    JOIN webhook w ON w.controller_id = d.controller_id AND w.id = d.webhook_id
    JOIN unnest(CAST(:ids AS uuid[]), CAST(:names AS text[])) AS n(webhook_id, name) ON n.webhook_id = w.id
    JOIN customer c ON c.controller_id = e.controller_id AND c.id = e.subject_id
    WHERE d.status = 'delivered' AND e.type <> 'customer.erased' AND c.erased_at IS NULL
""")


def _schema_path() -> str:
    schema = op.get_bind().execute(sa.text("SELECT current_schema()")).scalar_one()
    return f'pg_catalog, "{schema}", pg_temp'


def _replace_authenticate(*, with_recipient: bool) -> None:
    role = get_settings().app_db_role
    op.execute("DROP FUNCTION rekisteri_authenticate(bytea)")
    op.execute(
        _AUTHENTICATE.format(
            path=_schema_path(),
            extra=", recipient text" if with_recipient else "",
            extra_column=", k.recipient" if with_recipient else "",
        )
    )
    op.execute("REVOKE ALL ON FUNCTION rekisteri_authenticate(bytea) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION rekisteri_authenticate(bytea) TO {role}")


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
    # The actor of a request carries the recipient its key belongs to: found with the key, in one round trip.
    _replace_authenticate(with_recipient=True)

    names = _link_webhooks()
    if names:
        ids = list(names)
        op.get_bind().execute(_BACKFILL, {"ids": ids, "names": [names[i] for i in ids]})
    # Every subscriber is now a recipient of the register; a new one names its own (app/services/webhooks.py).
    op.alter_column("webhook", "recipient", nullable=False)


def downgrade() -> None:
    _replace_authenticate(with_recipient=False)
    op.drop_index("ix_disclosure_controller_id_customer_id_disclosed_at", table_name="disclosure")
    op.drop_table("disclosure")
    op.drop_column("controller", "draft_profile")
    op.drop_column("api_key", "recipient")
    op.drop_column("webhook", "recipient")


# --- every webhook a recipient ------------------------------------------------------------------------------


def recipient_id(name: str, webhook_id: uuid.UUID) -> str:
    """A stable key for a recipient named `name`: its letters and digits in ASCII, lower case, hyphenated."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name).strip("-")[:63].strip("-")
    return slug or f"webhook-{webhook_id.hex[:8]}"


def recipient_name(description: str | None, url: str) -> str:
    """How the subscriber is named: its description, else its URL's host."""
    name = " ".join((description or "").split()) or urlsplit(url).hostname or url
    return name[:200].strip()


def _recipient(rid: str, name: str) -> dict[str, Any]:
    return {
        "id": rid,
        "name": name,
        "category": "partner",
        "data": [dict(NOT_STATED)],
        "purpose": dict(NOT_STATED),
        "country": "FI",
        "transfer": None,
    }


def _place(register: list[dict[str, Any]], name: str, webhook_id: uuid.UUID) -> tuple[str, str]:
    """The recipient of the register a subscriber named `name` is: one of that name, else a new one."""
    for entry in register:
        if entry.get("name") == name:
            return str(entry["id"]), name
    rid = recipient_id(name, webhook_id)
    taken = {str(entry.get("id")) for entry in register}
    if rid in taken:  # another recipient has the key: this one gets the webhook's own
        rid = f"{rid[:54].rstrip('-')}-{webhook_id.hex[:8]}"
    register.append(_recipient(rid, name))
    return rid, name


def _link_webhooks() -> dict[uuid.UUID, str]:
    """Give every webhook a recipient, publish each controller's register in a new version of its notice;
    return each webhook's recipient name."""
    bind = op.get_bind()
    hooks = bind.execute(
        sa.text("SELECT controller_id, id, description, url FROM webhook ORDER BY controller_id, created_at, id")
    ).all()
    if not hooks:
        return {}
    by_controller: dict[uuid.UUID, list[Any]] = {}
    for hook in hooks:
        by_controller.setdefault(hook.controller_id, []).append(hook)
    names: dict[uuid.UUID, str] = {}
    today = dt.datetime.now(zoneinfo.ZoneInfo("Europe/Helsinki")).date()
    # Written through the audit log like any change: the session's commit seals the events into each
    # controller's chain, inside the migration's transaction (the notice's table refuses unaudited rows).
    with Session(bind=bind, join_transaction_mode="create_savepoint") as session:
        attach(session, system_actor(uuid.UUID(int=0), ACTOR))
        for controller_id, controller_hooks in by_controller.items():
            names |= _link_controller(session, controller_id, controller_hooks, today)
        session.commit()
    return names


def _audit(
    session: Session, controller_id: uuid.UUID, entity: str, entity_id: uuid.UUID, changes: dict[str, Any]
) -> None:
    action = AuditAction.update if all("old" in c for c in changes.values()) else AuditAction.create
    record(
        session,
        controller_id=controller_id,
        entity=entity,
        entity_id=entity_id,
        action=action,
        subject_id=None,
        changes=changes,
    )


def _link_controller(
    session: Session, controller_id: uuid.UUID, hooks: list[Any], today: dt.date
) -> dict[uuid.UUID, str]:
    """Link the controller's webhooks to recipients of its register, and publish the register."""
    latest = session.execute(
        sa.text(
            "SELECT version, notice_date, profile FROM privacy_notice WHERE controller_id = :c "
            "ORDER BY version DESC LIMIT 1"
        ),
        {"c": controller_id},
    ).one_or_none()
    controller = session.execute(
        sa.text("SELECT profile, notice_date, updated_at FROM controller WHERE id = :c"), {"c": controller_id}
    ).one()
    # The profile in force is the notice's latest version; the controller's row mirrors it.
    profile: dict[str, Any] = dict(latest.profile if latest is not None else controller.profile)
    register: list[dict[str, Any]] = [dict(r) for r in profile.get("recipients") or []]
    names: dict[uuid.UUID, str] = {}
    for hook in hooks:
        rid, name = _place(register, recipient_name(hook.description, hook.url), hook.id)
        session.execute(
            sa.text("UPDATE webhook SET recipient = :r WHERE controller_id = :c AND id = :w"),
            {"r": rid, "c": controller_id, "w": hook.id},
        )
        _audit(session, controller_id, "webhook", hook.id, {"recipient": {"old": None, "new": rid}})
        names[hook.id] = name
    notice_date = max(today, latest.notice_date) if latest is not None else today
    published = {
        **profile,
        "recipients": register,
        "register": {**(profile.get("register") or {}), "notice_date": notice_date.isoformat()},
    }
    _publish(session, controller_id, published, (latest.version + 1) if latest is not None else 1, notice_date)
    now = dt.datetime.now(dt.UTC)
    session.execute(
        sa.text("UPDATE controller SET profile = :p, notice_date = :d, updated_at = :u WHERE id = :c").bindparams(
            sa.bindparam("p", type_=postgresql.JSONB)
        ),
        {"p": published, "d": notice_date, "u": now, "c": controller_id},
    )
    _audit(
        session,
        controller_id,
        "controller",
        controller_id,
        {
            "profile": {"old": controller.profile, "new": published},
            "notice_date": {"old": controller.notice_date, "new": notice_date},
            "updated_at": {"old": controller.updated_at, "new": now},
        },
    )
    return names


def _publish(
    session: Session, controller_id: uuid.UUID, profile: dict[str, Any], version: int, notice_date: dt.date
) -> None:
    """A new version of the notice with the profile; `documents` stays NULL: the version is rendered from its
    profile when read (app/services/notices.py)."""
    notice = {
        "controller_id": controller_id,
        "id": uuid.uuid4(),
        "version": version,
        "notice_date": notice_date,
        "profile": profile,
        "published_by": ACTOR,
        "created_at": dt.datetime.now(dt.UTC),
    }
    session.execute(
        sa.text(
            "INSERT INTO privacy_notice (controller_id, id, version, notice_date, profile, published_by, created_at) "
            "VALUES (:controller_id, :id, :version, :notice_date, :profile, :published_by, :created_at)"
        ).bindparams(sa.bindparam("profile", type_=postgresql.JSONB)),
        notice,
    )
    _audit(session, controller_id, "privacy_notice", notice["id"], {k: {"new": v} for k, v in notice.items()})
