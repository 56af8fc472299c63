"""Migrations that carry data forward, each on a database of its own migrated from the revision before."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from alembic.config import Config
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from alembic import command
from app.cli import upgrade_database
from app.db import ensure_database, libpq_url, normalise_url
from app.services.audit import verify_chain

ROOT = Path(__file__).resolve().parent.parent


def _upgrade_to(url: str, revision: str) -> None:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "alembic"))
    config.attributes["url"] = url
    command.upgrade(config, revision)


@pytest.fixture
def fresh_database(database_url: str) -> Iterator[str]:
    """An empty database on the test server, dropped afterwards."""
    name = f"rekisteri_migration_{uuid.uuid4().hex[:12]}"
    ensure_database(database_url, name)
    url = normalise_url(make_url(database_url).set(database=name).render_as_string(hide_password=False))
    yield url
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _seed(url: str, controller: uuid.UUID, events: list[tuple[uuid.UUID, str, str, str]]) -> None:
    """Rows as an older release left them, written past the audit trigger (this test checks the migration)."""
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute(
            "INSERT INTO controller (id, slug, name, register_name, profile, country, default_language) "
            "VALUES (%s, 'm', 'M Oy', 'R', '{}', 'FI', 'fi')",
            (controller,),
        )
        for customer in {e[0] for e in events}:
            conn.execute(
                "INSERT INTO customer (controller_id, id, kind, version, last_name) "
                "VALUES (%s, %s, 'business', 1, 'A')",
                (controller, customer),
            )
        for n, (customer, channel, action, occurred) in enumerate(events):
            conn.execute(
                "INSERT INTO marketing_event (controller_id, id, customer_id, channel, action, occurred_at, "
                "received_via, recorded_by, created_at) VALUES (%s, %s, %s, %s, %s, %s, 'letter', 'agent', "
                "now() + make_interval(secs => %s))",
                (controller, uuid.uuid4(), customer, channel, action, occurred, n),
            )


def test_telemarketing_prohibitions_carry_over_to_automated_calls(fresh_database: str) -> None:
    """Act 917/2014 § 200(1): automated calls became a channel of their own (revision 0011).

    Whoever forbade telemarketing forbade the automated calls then checked as telemarketing: the prohibition is
    recorded on the new channel, audited, with the date the person gave; a lifted one is not.
    """
    _upgrade_to(fresh_database, "0010")
    controller, forbade, lifted, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    _seed(
        fresh_database,
        controller,
        [
            (forbade, "telemarketing", "prohibited", "2024-03-01T10:00:00Z"),
            (lifted, "telemarketing", "prohibited", "2024-03-01T10:00:00Z"),
            (lifted, "telemarketing", "prohibition_lifted", "2025-01-01T10:00:00Z"),
            (other, "direct_mail", "prohibited", "2024-03-01T10:00:00Z"),
        ],
    )
    upgrade_database(fresh_database)

    with psycopg.connect(libpq_url(fresh_database)) as conn:
        carried = conn.execute(
            "SELECT customer_id, action::text, occurred_at::date::text, recorded_by, id FROM marketing_event "
            "WHERE channel = 'automated_calls'"
        ).fetchall()
        assert [row[:4] for row in carried] == [(forbade, "prohibited", "2024-03-01", "rekisteri db upgrade")]
        audited = conn.execute(
            "SELECT entity, action, subject_id, encrypted FROM audit_event WHERE entity_id = %s", (carried[0][4],)
        ).fetchall()
        assert audited == [("marketing_event", "create", forbade, True)]
    engine = create_engine(fresh_database)
    with Session(engine) as session:
        assert verify_chain(session=session, controller_id=controller).ok
    engine.dispose()
