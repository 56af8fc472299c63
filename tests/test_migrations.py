"""Migrations that carry data forward, each on a database of its own migrated from the revision before."""

from __future__ import annotations

import importlib.util
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic.config import Config
from psycopg.types.json import Jsonb
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from alembic import command
from app.cli import upgrade_database
from app.db import ensure_database, libpq_url, normalise_url
from app.models.notices import NoticeLanguage, PrivacyNotice
from app.models.profile import ControllerProfile
from app.models.recipients import ProfileRecipient
from app.services import notice_text
from app.services.audit import verify_chain
from tests.conftest import EXAMPLES

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


# --- 0013: every webhook a recipient of the register; past deliveries in the disclosure log -----------------


def _seed_webhooks(url: str, controller: uuid.UUID, profile: dict[str, Any]) -> dict[str, uuid.UUID]:
    """A controller of an older release with three subscriptions and their deliveries, past the audit trigger."""
    ids = {name: uuid.uuid4() for name in ("shop", "crm", "old", "alice", "erased", "e1", "e2", "e3", "e4", "e5")}
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute(
            "INSERT INTO controller (id, slug, name, register_name, profile, country, default_language, notice_date) "
            "VALUES (%s, 'm', 'M Oy', 'R', %s, 'FI', 'fi', '2025-01-02')",
            (controller, Jsonb(profile)),
        )
        conn.execute(
            "INSERT INTO privacy_notice (controller_id, id, version, notice_date, profile, published_by) "
            "VALUES (%s, %s, 1, '2025-01-02', %s, 'admin')",
            (controller, uuid.uuid4(), Jsonb(profile)),
        )
        for name, description, url_, deleted in (
            ("shop", "Verkkokauppa", "https://shop.example.fi/hooks", None),
            ("crm", None, "https://crm.example.fi/hooks", None),
            ("old", "Verkkokauppa", "https://old.example.fi/hooks", "2025-06-01T00:00:00Z"),
        ):
            conn.execute(
                "INSERT INTO webhook (controller_id, id, url, events, description, secret_encrypted, deleted_at) "
                "VALUES (%s, %s, %s, '{}', %s, '\\x00', %s)",
                (controller, ids[name], url_, description, deleted),
            )
        for person, erased in (("alice", None), ("erased", "2025-08-01T00:00:00Z")):
            conn.execute(
                "INSERT INTO customer (controller_id, id, kind, version, last_name, erased_at) "
                "VALUES (%s, %s, 'private', 1, %s, %s)",
                (controller, ids[person], None if erased else "A", erased),
            )
        # (event, type, person, payload data, hook, status, delivered_at)
        for event, kind, person, data, hook, status, at in (
            ("e1", "marketing.changed", "alice", {"decisions": {}}, "shop", "delivered", "2025-03-01T10:00:00Z"),
            ("e2", "customer.rectified", "alice", {"fields": {"city": "X", "email": "y"}}, "crm", "delivered",
             "2025-04-01T10:00:00Z"),
            ("e3", "customer.restricted", "alice", {}, "old", "pending", None),
            ("e4", "customer.erased", "erased", {}, "shop", "delivered", "2025-08-01T10:00:00Z"),
            ("e5", "marketing.changed", "erased", {"erased": True}, "crm", "delivered", "2025-02-01T10:00:00Z"),
        ):  # fmt: skip
            conn.execute(
                "INSERT INTO webhook_event (controller_id, id, type, subject_id, payload) VALUES (%s, %s, %s, %s, %s)",
                (controller, ids[event], kind, ids[person], Jsonb({"type": kind, "data": data})),
            )
            conn.execute(
                "INSERT INTO webhook_delivery (controller_id, id, webhook_id, event_id, status, attempts, "
                "delivered_at) VALUES (%s, %s, %s, %s, %s, '[]', %s)",
                (controller, uuid.uuid4(), ids[hook], ids[event], status, at),
            )
    return ids


def test_every_webhook_becomes_a_recipient_and_the_notice_names_it(fresh_database: str) -> None:
    """GDPR Art. 13(1)(e), 30(1)(d) (revision 0013): each existing subscriber is a recipient of the register,
    named after its description or host, with what the admin must state marked for review; the register is
    published in a new version of the notice through the audit log; past deliveries enter the disclosure log
    (Art. 15(1)(c), CJEU C-154/21), but nothing about an erased person and not the erasure event."""
    _upgrade_to(fresh_database, "0012")
    controller = uuid.uuid4()
    before = ControllerProfile.load(EXAMPLES / "sonmark.toml").model_dump(mode="json", by_alias=True)
    before = {k: v for k, v in before.items() if k not in ("recipients", "dpo")} | {"slug": "m"}
    ids = _seed_webhooks(fresh_database, controller, before)
    upgrade_database(fresh_database)

    with psycopg.connect(libpq_url(fresh_database)) as conn:
        linked = dict(conn.execute("SELECT id, recipient FROM webhook").fetchall())
        assert linked == {ids["shop"]: "verkkokauppa", ids["crm"]: "crm-example-fi", ids["old"]: "verkkokauppa"}
        versions = conn.execute(
            "SELECT version, profile, documents, published_by, notice_date FROM privacy_notice ORDER BY version"
        ).fetchall()
        assert [v[0] for v in versions] == [1, 2]
        assert versions[0][1] == before  # the published version is never changed
        published, documents, by, day = versions[1][1:]
        assert documents is None  # rendered from its profile when read
        assert by == "rekisteri db upgrade"
        review = {"fi": "Ei ilmoitettu: tarkistettava", "sv": None, "en": None}
        assert published["recipients"] == [
            {"id": "verkkokauppa", "name": "Verkkokauppa", "category": "partner", "data": [review],
             "purpose": review, "country": "FI", "transfer": None},
            {"id": "crm-example-fi", "name": "crm.example.fi", "category": "partner", "data": [review],
             "purpose": review, "country": "FI", "transfer": None},
        ]  # fmt: skip
        # Nothing else of the profile changed but the date it was drawn up.
        assert {k: v for k, v in published.items() if k not in ("recipients", "register")} == {
            k: v for k, v in before.items() if k != "register"
        }
        assert published["register"] == {**before["register"], "notice_date": day.isoformat()}
        mirrored = conn.execute("SELECT profile, notice_date FROM controller WHERE id = %s", (controller,))
        assert mirrored.fetchone() == (published, day)
        assert ControllerProfile.model_validate(published).recipient("verkkokauppa") is not None
        # The version renders when read, as versions without kept documents do (app/services/notices.py).
        version = PrivacyNotice(
            controller_id=controller, version=2, notice_date=day, profile=published, published_by=by
        )
        assert notice_text.build("m", version, NoticeLanguage.fi).version == 2

        audited = conn.execute(
            "SELECT entity, action::text, count(*) FROM audit_event GROUP BY 1, 2 ORDER BY 1, 2"
        ).fetchall()
        assert audited == [("controller", "update", 1), ("privacy_notice", "create", 1), ("webhook", "update", 3)]

        logged = conn.execute(
            "SELECT customer_id, recipient, recipient_name, categories, channel, disclosed_at::text "
            "FROM disclosure ORDER BY disclosed_at"
        ).fetchall()
        assert logged == [
            (ids["alice"], "verkkokauppa", "Verkkokauppa", ["identifiers", "marketing"], "webhook",
             "2025-03-01 10:00:00+00"),
            (ids["alice"], "crm-example-fi", "crm.example.fi", ["identifiers", "city", "email"], "webhook",
             "2025-04-01 10:00:00+00"),
        ]  # fmt: skip
        nullable = conn.execute(
            "SELECT is_nullable FROM information_schema.columns WHERE table_name = 'webhook' AND column_name = "
            "'recipient'"
        ).fetchone()
        assert nullable == ("NO",)
        returned = conn.execute(
            "SELECT array_agg(a.attname::text) FROM pg_proc p CROSS JOIN unnest(p.proargnames) a(attname) "
            "WHERE p.proname = 'rekisteri_authenticate'"
        ).fetchone()[0]
        assert "recipient" in returned
    engine = create_engine(fresh_database)
    with Session(engine) as session:
        assert verify_chain(session=session, controller_id=controller).ok
    engine.dispose()


def test_recipient_ids_are_stable_and_fit_the_register() -> None:
    path = ROOT / "alembic" / "versions" / "2026_12_07_recipients_and_disclosures.py"
    spec = importlib.util.spec_from_file_location("migration_0013", path)
    assert spec is not None
    assert spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    webhook = uuid.UUID("12345678-0000-4000-8000-000000000000")
    assert migration.recipient_id("Kassa-järjestelmä Öljy & Co", webhook) == "kassa-jarjestelma-oljy-co"
    assert migration.recipient_id("日本", webhook) == "webhook-12345678"
    assert migration.recipient_name(None, "https://crm.example.fi:8443/x") == "crm.example.fi"
    assert migration.recipient_name("  CRM\n järjestelmä ", "https://x") == "CRM järjestelmä"
    ProfileRecipient.model_validate(
        {"id": migration.recipient_id("x" * 300, webhook), "name": "x", "category": "partner"}
    )
