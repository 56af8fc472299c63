"""Published versions of the privacy notice; the public lookup of a controller by its slug.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from sqlalchemy.dialects import postgresql

from alembic import op
from app.config import get_settings

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "privacy_notice",
        sa.Column("controller_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("notice_date", sa.Date(), nullable=False),
        sa.Column("profile", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        # The notice as rendered when published, per language; NULL for the copies made below, which are
        # rendered from their profile when read.
        sa.Column("documents", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("published_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["controller_id"], ["controller.id"], name=op.f("fk_privacy_notice_controller_id_controller")
        ),
        sa.PrimaryKeyConstraint("controller_id", "id", name=op.f("pk_privacy_notice")),
        sa.UniqueConstraint("controller_id", "version", name=op.f("uq_privacy_notice_controller_id_version")),
        sa.CheckConstraint("version >= 1", name="version"),
    )
    # Controllers made before this revision: their profile as it stands is their first version. A copy
    # made by the migration, before the table is audited; every later version is published through the API.
    op.execute("""
        INSERT INTO privacy_notice (controller_id, id, version, notice_date, profile, published_by)
        SELECT c.id, gen_random_uuid(), 1, d.day,
               jsonb_set(c.profile, '{register,notice_date}', to_jsonb(d.day::text), true), 'rekisteri db upgrade'
        FROM controller c
        CROSS JOIN LATERAL (SELECT coalesce(c.notice_date, (c.created_at AT TIME ZONE 'Europe/Helsinki')::date)) d(day)
    """)

    role = get_settings().app_db_role
    schema = op.get_bind().execute(sa.text("SELECT current_schema()")).scalar_one()
    # Versions are published, never changed: a person may need to see what the notice said on a given day.
    op.execute(f"GRANT SELECT, INSERT ON privacy_notice TO {role}")
    op.execute("ALTER TABLE privacy_notice ENABLE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY tenant ON privacy_notice USING (controller_id = rekisteri_tenant()) "
        "WITH CHECK (controller_id = rekisteri_tenant())"
    )
    op.execute(
        "CREATE CONSTRAINT TRIGGER audited AFTER INSERT OR UPDATE OR DELETE ON privacy_notice "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_required()"
    )
    # The public notice is read without a key: this function alone finds a controller by its slug, so that
    # the transaction can be scoped to it before row-level security lets anything else be read.
    op.execute(f"""
        CREATE FUNCTION rekisteri_public_controller(p_slug text) RETURNS uuid
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, "{schema}", pg_temp
        AS $$ SELECT id FROM controller WHERE slug = p_slug $$
    """)
    op.execute("REVOKE ALL ON FUNCTION rekisteri_public_controller(text) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION rekisteri_public_controller(text) TO {role}")


def downgrade() -> None:
    op.execute("DROP FUNCTION rekisteri_public_controller(text)")
    op.drop_table("privacy_notice")
