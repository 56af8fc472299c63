"""Foundation: controllers, API keys, customers, orders, the audit log; RLS and audit guards.

Revision ID: 0001
Revises:
Create Date: 2026-11-22 04:21:05.039932
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from sqlalchemy.dialects import postgresql

from alembic import op
from app.config import get_settings

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "controller",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("slug", sqlmodel.sql.sqltypes.AutoString(length=63), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("business_id", sqlmodel.sql.sqltypes.AutoString(length=9), nullable=True),
        sa.Column("street_address", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("postal_code", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("city", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("country", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("website", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("contact_name", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("contact_title", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("contact_phone", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("contact_email", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("register_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("notice_date", sa.Date(), nullable=True),
        sa.Column("default_language", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("profile", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_controller")),
        sa.UniqueConstraint("slug", name=op.f("uq_controller_slug")),
    )
    op.create_table(
        "api_key",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("role", sa.Enum("admin", "agent", "integration", "auditor", name="role"), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("controller_id", sa.Uuid(), nullable=False),
        sa.Column("prefix", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("key_hash", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["controller_id"], ["controller.id"], name=op.f("fk_api_key_controller_id_controller")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_key_key_hash")),
    )
    op.create_index(op.f("ix_api_key_controller_id"), "api_key", ["controller_id"], unique=False)
    op.create_table(
        "audit_event",
        sa.Column("controller_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "txid",
            sa.BigInteger(),
            server_default=sa.text("(pg_current_xact_id()::text)::bigint"),
            nullable=False,
        ),
        sa.Column("request_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("actor_key_id", sa.Uuid(), nullable=True),
        sa.Column("actor_name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("actor_role", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("entity", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column(
            "action",
            sa.Enum("create", "update", "delete", "erase", "disclose", name="auditaction"),
            nullable=False,
        ),
        sa.Column("subject_id", sa.Uuid(), nullable=True),
        sa.Column("fields", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("encrypted", sa.Boolean(), nullable=False),
        sa.Column("changes", sa.LargeBinary(), nullable=False),
        sa.Column("prev_hash", sa.LargeBinary(), nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["controller_id"], ["controller.id"], name=op.f("fk_audit_event_controller_id_controller")
        ),
        sa.PrimaryKeyConstraint("controller_id", "seq", name=op.f("pk_audit_event")),
    )
    op.create_index(
        "ix_audit_event_controller_id_entity_id", "audit_event", ["controller_id", "entity_id"], unique=False
    )
    op.create_index(
        "ix_audit_event_controller_id_subject_id",
        "audit_event",
        ["controller_id", "subject_id"],
        unique=False,
    )
    op.create_index(
        "ix_audit_event_controller_id_txid_entity_id",
        "audit_event",
        ["controller_id", "txid", "entity_id"],
        unique=False,
    )
    op.create_table(
        "customer",
        sa.Column("external_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("customer_number", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("first_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("last_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("organisation", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("business_id", sqlmodel.sql.sqltypes.AutoString(length=9), nullable=True),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("street_address", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("postal_code", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("city", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("country", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=True),
        sa.Column("website", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("ip_address", sqlmodel.sql.sqltypes.AutoString(length=45), nullable=True),
        sa.Column("preferred_language", sa.Enum("fi", "sv", "en", name="language"), nullable=True),
        sa.Column("payment_method", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("payment_terms", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("delivery_method", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("newsletter", sa.Boolean(), nullable=True),
        sa.Column("relationship_start_date", sa.Date(), nullable=True),
        sa.Column("relationship_end_date", sa.Date(), nullable=True),
        sa.Column(
            "source",
            sa.Enum("registration", "purchase", "update_service", "partner", "customer_service", name="datasource"),
            nullable=True,
        ),
        sa.Column("controller_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Enum("private", "business", name="customerkind"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["controller_id"], ["controller.id"], name=op.f("fk_customer_controller_id_controller")
        ),
        sa.PrimaryKeyConstraint("controller_id", "id", name=op.f("pk_customer")),
    )
    op.create_index(
        "ix_customer_controller_id_created_at_id",
        "customer",
        ["controller_id", "created_at", "id"],
        unique=False,
    )
    op.create_index("ix_customer_controller_id_email", "customer", ["controller_id", "email"], unique=False)
    op.create_index("ix_customer_controller_id_phone", "customer", ["controller_id", "phone"], unique=False)
    op.create_index(
        "uq_customer_controller_id_external_id",
        "customer",
        ["controller_id", "external_id"],
        unique=True,
        postgresql_where=sa.text("external_id IS NOT NULL"),
    )
    op.create_table(
        "audit_head",
        sa.Column("controller_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.Column("mac", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["controller_id"], ["controller.id"], name=op.f("fk_audit_head_controller_id_controller")
        ),
        sa.PrimaryKeyConstraint("controller_id", name=op.f("pk_audit_head")),
    )
    op.create_table(
        "subject_key",
        sa.Column("controller_id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("destroyed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["controller_id"], ["controller.id"], name=op.f("fk_subject_key_controller_id_controller")
        ),
        sa.PrimaryKeyConstraint("controller_id", "subject_id", name=op.f("pk_subject_key")),
    )
    op.create_table(
        "customer_order",
        sa.Column("controller_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("external_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("order_date", sa.Date(), nullable=False),
        sa.Column("lines", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("total", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column(
            "invoice_status",
            sa.Enum("open", "paid", "in_collection", "credited", name="invoicestatus"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["controller_id", "customer_id"],
            ["customer.controller_id", "customer.id"],
            name=op.f("fk_customer_order_controller_id_customer_id_customer"),
        ),
        sa.ForeignKeyConstraint(
            ["controller_id"], ["controller.id"], name=op.f("fk_customer_order_controller_id_controller")
        ),
        sa.PrimaryKeyConstraint("controller_id", "id", name=op.f("pk_customer_order")),
    )
    op.create_index(
        "ix_customer_order_controller_id_customer_id",
        "customer_order",
        ["controller_id", "customer_id", "order_date"],
        unique=False,
    )
    op.create_index(
        "uq_customer_order_controller_id_external_id",
        "customer_order",
        ["controller_id", "external_id"],
        unique=True,
        postgresql_where=sa.text("external_id IS NOT NULL"),
    )
    _guards(get_settings().app_db_role)


TENANT_TABLES = ("api_key", "customer", "customer_order", "audit_event", "audit_head", "subject_key")
AUDITED_TABLES = ("customer", "customer_order")
GRANTS = {
    "controller": "SELECT, UPDATE",
    "api_key": "SELECT, INSERT, UPDATE",
    "customer": "SELECT, INSERT, UPDATE, DELETE",
    "customer_order": "SELECT, INSERT, UPDATE, DELETE",
    "subject_key": "SELECT, INSERT, UPDATE",
    "audit_event": "SELECT, INSERT",
    "audit_head": "SELECT, INSERT, UPDATE",
}


def _guards(role: str) -> None:
    # SECURITY DEFINER functions name their search path, temporary schema last, so that no session can
    # shadow audit_event or api_key with a temporary table of its own.
    schema = op.get_bind().execute(sa.text("SELECT current_schema()")).scalar_one()
    path = f'pg_catalog, "{schema}", pg_temp'
    # The API drops to this role in every transaction, so row-level security applies to it even when
    # the connecting user owns the tables.
    op.execute(f"""
        DO $$ BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
                CREATE ROLE {role} NOLOGIN;
            END IF;
        END $$;
    """)
    op.execute(f"GRANT {role} TO CURRENT_USER")
    op.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
    for table, privileges in GRANTS.items():
        op.execute(f"GRANT {privileges} ON {table} TO {role}")

    op.execute("""
        CREATE FUNCTION rekisteri_tenant() RETURNS uuid LANGUAGE sql STABLE
        AS $$ SELECT NULLIF(current_setting('rekisteri.controller_id', true), '')::uuid $$
    """)
    op.execute("ALTER TABLE controller ENABLE ROW LEVEL SECURITY")
    op.execute("CREATE POLICY tenant ON controller USING (id = rekisteri_tenant())")
    for table in TENANT_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant ON {table} USING (controller_id = rekisteri_tenant()) "
            "WITH CHECK (controller_id = rekisteri_tenant())"
        )

    # Key lookup happens before the tenant is known; only this function may read across controllers.
    op.execute(f"""
        CREATE FUNCTION rekisteri_authenticate(p_hash bytea)
        RETURNS TABLE (id uuid, controller_id uuid, name text, role text)
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = {path} AS $$
        BEGIN
            UPDATE api_key SET last_used_at = now()
            WHERE api_key.id = (
                SELECT k.id FROM api_key k
                WHERE k.key_hash = p_hash AND k.revoked_at IS NULL
                  AND (k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute')
                FOR UPDATE SKIP LOCKED);
            RETURN QUERY
                SELECT k.id, k.controller_id, k.name::text, k.role::text FROM api_key k
                WHERE k.key_hash = p_hash AND k.revoked_at IS NULL;
        END $$
    """)
    op.execute("REVOKE ALL ON FUNCTION rekisteri_authenticate(bytea) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION rekisteri_authenticate(bytea) TO {role}")

    # The audit log is append-only for everyone, the table owner included.
    op.execute("""
        CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_event is append-only' USING ERRCODE = 'insufficient_privilege';
        END $$
    """)
    op.execute(
        "CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON audit_event "
        "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()"
    )
    op.execute(
        "CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON audit_event "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()"
    )

    # A change of register data commits only with its audit event in the same transaction.
    # A change of register data commits only with audit events in the same transaction that name the change:
    # its action, and for an update every column it changed (the version counter aside).
    op.execute(f"""
        CREATE FUNCTION audit_required() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = {path} AS $$
        DECLARE
            c uuid;
            e uuid;
            actions text[];
            changed text[] := '{{}}';
            recorded text[];
        BEGIN
            IF TG_OP = 'DELETE' THEN
                c := OLD.controller_id; e := OLD.id; actions := ARRAY['delete', 'erase'];
            ELSE
                c := NEW.controller_id; e := NEW.id;
                actions := CASE TG_OP WHEN 'INSERT' THEN ARRAY['create'] ELSE ARRAY['update', 'erase'] END;
            END IF;
            IF TG_OP = 'UPDATE' THEN
                SELECT coalesce(array_agg(n.key), '{{}}') INTO changed
                FROM jsonb_each(to_jsonb(NEW)) n JOIN jsonb_each(to_jsonb(OLD)) o USING (key)
                WHERE n.value IS DISTINCT FROM o.value AND n.key <> 'version';
            END IF;
            SELECT array_agg(DISTINCT f) INTO recorded
            FROM audit_event a LEFT JOIN LATERAL unnest(a.fields) f ON true
            WHERE a.controller_id = c AND a.txid = (pg_current_xact_id()::text)::bigint AND a.entity_id = e
              AND a.action::text = ANY (actions);
            IF recorded IS NULL OR NOT (coalesce(array_remove(recorded, NULL), '{{}}') @> changed) THEN
                RAISE EXCEPTION 'unaudited % on %', lower(TG_OP), TG_TABLE_NAME
                    USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            RETURN NULL;
        END $$
    """)
    for table in AUDITED_TABLES:
        op.execute(
            f"CREATE CONSTRAINT TRIGGER audited AFTER INSERT OR UPDATE OR DELETE ON {table} "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_required()"
        )


def downgrade() -> None:
    op.execute("DROP FUNCTION rekisteri_authenticate(bytea)")
    op.drop_index(
        "uq_customer_order_controller_id_external_id",
        table_name="customer_order",
        postgresql_where=sa.text("external_id IS NOT NULL"),
    )
    op.drop_index("ix_customer_order_controller_id_customer_id", table_name="customer_order")
    op.drop_table("customer_order")
    op.drop_table("subject_key")
    op.drop_table("audit_head")
    op.drop_index(
        "uq_customer_controller_id_external_id",
        table_name="customer",
        postgresql_where=sa.text("external_id IS NOT NULL"),
    )
    op.drop_index("ix_customer_controller_id_phone", table_name="customer")
    op.drop_index("ix_customer_controller_id_email", table_name="customer")
    op.drop_index("ix_customer_controller_id_created_at_id", table_name="customer")
    op.drop_table("customer")
    op.drop_index("ix_audit_event_controller_id_txid_entity_id", table_name="audit_event")
    op.drop_index("ix_audit_event_controller_id_subject_id", table_name="audit_event")
    op.drop_index("ix_audit_event_controller_id_entity_id", table_name="audit_event")
    op.drop_table("audit_event")
    op.drop_index(op.f("ix_api_key_controller_id"), table_name="api_key")
    op.drop_table("api_key")
    op.drop_table("controller")
    op.execute("DROP FUNCTION audit_required()")
    op.execute("DROP FUNCTION audit_event_append_only()")
    op.execute("DROP FUNCTION rekisteri_tenant()")
    for enum in ("role", "auditaction", "language", "datasource", "customerkind", "invoicestatus"):
        op.execute(f"DROP TYPE {enum}")
