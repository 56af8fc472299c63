"""The audit log: what it records, that it is encrypted, append-only and tamper-evident."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text, update

from app.actor import system_actor
from app.config import get_settings
from app.db import libpq_url
from app.models.api_keys import Role
from app.models.customers import Customer
from tests.conftest import Tenant, new_customer

Owner = psycopg.Connection[tuple[object, ...]]


def events(client: TestClient, tenant: Tenant, **query: str) -> list[dict[str, object]]:
    response = client.get("/v1/audit", params=query, headers=tenant.headers(Role.auditor))
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


class TestAuditRecords:
    def test_field_level_old_and_new_with_actor_and_request(self, client: TestClient, tenant: Tenant) -> None:
        created = new_customer(client, tenant, city="Helsinki")
        client.patch(
            f"/v1/customers/{created['id']}",
            json={"city": "Espoo"},
            headers=tenant.headers(Role.agent, **{"X-Request-ID": "req-123"}),
        )
        found = events(client, tenant, entity_id=str(created["id"]))
        assert [e["action"] for e in found] == ["create", "update"]
        change = found[1]
        assert change["fields"] == ["city", "updated_at"]
        assert change["changes"]["city"] == {"old": "Helsinki", "new": "Espoo"}
        assert change["actor_key_id"] == str(tenant.key_ids[Role.agent])
        assert change["actor_name"] == "agent tester"
        assert change["actor_role"] == "agent"
        assert change["request_id"] == "req-123"
        assert change["subject_id"] == created["id"]

    def test_filters(self, client: TestClient, tenant: Tenant) -> None:
        a = new_customer(client, tenant)
        new_customer(client, tenant)
        assert {e["subject_id"] for e in events(client, tenant, subject_id=str(a["id"]))} == {a["id"]}
        key_events = events(client, tenant, entity="api_key")
        assert len(key_events) == 4  # one per role's key, made with the tenant
        assert {e["entity"] for e in key_events} == {"api_key"}
        by_admin = events(client, tenant, actor_key_id=str(tenant.key_ids[Role.admin]))
        assert len(by_admin) == 2
        assert events(client, tenant, since="2999-01-01T00:00:00Z") == []

    def test_pagination(self, client: TestClient, tenant: Tenant) -> None:
        for _ in range(3):
            new_customer(client, tenant)
        first = client.get("/v1/audit?limit=2", headers=tenant.headers(Role.auditor)).json()
        second = client.get(first["next"], headers=tenant.headers(Role.auditor)).json()
        assert first["items"][-1]["seq"] + 1 == second["items"][0]["seq"]

    def test_only_auditors_and_admins_read_it(self, client: TestClient, tenant: Tenant) -> None:
        for role, status in [
            (Role.agent, 403),
            (Role.integration, 403),
            (Role.admin, 200),
            (Role.auditor, 200),
        ]:
            assert client.get("/v1/audit", headers=tenant.headers(role)).status_code == status

    def test_other_controllers_events_are_invisible(
        self, client: TestClient, tenant: Tenant, other_tenant: Tenant
    ) -> None:
        theirs = new_customer(client, other_tenant)
        assert events(client, tenant, subject_id=str(theirs["id"])) == []


class TestEncryption:
    def test_personal_values_are_not_stored_in_plaintext(
        self, client: TestClient, tenant: Tenant, owner_db: Owner
    ) -> None:
        created = new_customer(client, tenant, last_name="Plaintextinen")
        rows = owner_db.execute(
            "SELECT encrypted, changes FROM audit_event WHERE subject_id = %s", (created["id"],)
        ).fetchall()
        assert rows
        for encrypted, changes in rows:
            assert encrypted is True
            assert b"Plaintextinen" not in bytes(changes)  # type: ignore[arg-type]


class TestAppendOnly:
    def test_database_refuses_update_and_delete_even_to_the_owner(
        self, client: TestClient, tenant: Tenant, owner_db: Owner
    ) -> None:
        new_customer(client, tenant)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            owner_db.execute("UPDATE audit_event SET actor_name = 'x' WHERE controller_id = %s", (tenant.id,))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            owner_db.execute("DELETE FROM audit_event WHERE controller_id = %s", (tenant.id,))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            owner_db.execute("TRUNCATE audit_event")


def _tamper(owner_db: Owner, sql: str, *params: object) -> None:
    # Only a superuser can switch triggers off like this: the attack verify must still detect.
    owner_db.execute("SET session_replication_role = replica")
    owner_db.execute(sql, params)
    owner_db.execute("SET session_replication_role = DEFAULT")


class TestVerify:
    def test_intact_chain(self, client: TestClient, tenant: Tenant) -> None:
        new_customer(client, tenant)
        result = client.get("/v1/audit/verify", headers=tenant.headers(Role.auditor)).json()
        # The controller, its privacy notice, a key per role, the customer.
        assert result == {"ok": True, "events_checked": 7, "first_broken_seq": None, "reason": None}

    def test_detects_an_edited_event(self, client: TestClient, tenant: Tenant, owner_db: Owner) -> None:
        new_customer(client, tenant)
        new_customer(client, tenant)
        _tamper(
            owner_db,
            "UPDATE audit_event SET actor_name = 'someone else' WHERE controller_id = %s AND seq = 5",
            tenant.id,
        )
        result = client.get("/v1/audit/verify", headers=tenant.headers(Role.auditor)).json()
        assert result["ok"] is False
        assert result["first_broken_seq"] == 5
        assert result["reason"] == "the event was altered"

    def test_detects_a_removed_event(self, client: TestClient, tenant: Tenant, owner_db: Owner) -> None:
        new_customer(client, tenant)
        new_customer(client, tenant)
        _tamper(owner_db, "DELETE FROM audit_event WHERE controller_id = %s AND seq = 5", tenant.id)
        result = client.get("/v1/audit/verify", headers=tenant.headers(Role.auditor)).json()
        assert (result["ok"], result["first_broken_seq"]) == (False, 5)

    def test_detects_a_rewritten_chain_tail(self, client: TestClient, tenant: Tenant, owner_db: Owner) -> None:
        created = new_customer(client, tenant)
        client.patch(f"/v1/customers/{created['id']}", json={"city": "X"}, headers=tenant.headers())
        # Swap the changes of two events: each row's own hash no longer matches its content.
        _tamper(
            owner_db,
            "UPDATE audit_event SET changes = (SELECT changes FROM audit_event WHERE controller_id = %s AND seq = 5)"
            " WHERE controller_id = %s AND seq = 6",
            tenant.id,
            tenant.id,
        )
        result = client.get("/v1/audit/verify", headers=tenant.headers(Role.auditor)).json()
        assert (result["ok"], result["first_broken_seq"]) == (False, 6)

    @pytest.mark.slow
    def test_cli_verify_fails_on_tampering(
        self, client: TestClient, tenant: Tenant, owner_db: Owner, database_url: str
    ) -> None:
        new_customer(client, tenant)
        env = {**os.environ, "REKISTERI_DATABASE_URL": database_url}
        command = [sys.executable, "-m", "app.cli", "audit", "verify", "--controller", tenant.slug]
        ok = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert f"{tenant.slug}: ok" in ok.stdout
        _tamper(owner_db, "UPDATE audit_event SET entity = 'x' WHERE controller_id = %s AND seq = 2", tenant.id)
        broken = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        assert broken.returncode == 1
        assert f"{tenant.slug}: BROKEN at event 2" in broken.stdout


class TestNoBypass:
    def test_bulk_orm_statements_are_refused(self, client: TestClient, app: FastAPI, tenant: Tenant) -> None:
        created = new_customer(client, tenant)

        async def work() -> None:
            async with app.state.owner_sessionmaker() as session, session.begin():
                session.info["actor"] = system_actor(tenant.id)
                await session.execute(update(Customer).where(Customer.id == created["id"]).values(city="X"))

        assert client.portal is not None
        with pytest.raises(RuntimeError, match="bypass the audit log"):
            client.portal.call(work)

    def test_database_refuses_unaudited_changes(self, client: TestClient, tenant: Tenant, owner_db: Owner) -> None:
        created = new_customer(client, tenant)
        with pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="unaudited update on customer"):
            owner_db.execute("UPDATE customer SET city = 'X' WHERE id = %s", (created["id"],))
        with pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="unaudited insert on customer"):
            owner_db.execute(
                "INSERT INTO customer (controller_id, id, kind, version, created_at) "
                "VALUES (%s, %s, 'private', 1, now())",
                (tenant.id, uuid.uuid4()),
            )

    def test_raw_sql_through_the_app_session_is_refused_at_commit(
        self, client: TestClient, app: FastAPI, tenant: Tenant
    ) -> None:
        created = new_customer(client, tenant)

        async def work() -> None:
            async with app.state.owner_sessionmaker() as session, session.begin():
                session.info["actor"] = system_actor(tenant.id)
                await session.execute(text("UPDATE customer SET city = 'X' WHERE id = :id"), {"id": created["id"]})

        assert client.portal is not None
        with pytest.raises(Exception, match="unaudited update on customer"):
            client.portal.call(work)


class TestChainHead:
    def test_detects_events_removed_from_the_end(self, client: TestClient, tenant: Tenant, owner_db: Owner) -> None:
        new_customer(client, tenant)  # events 1-6 made the tenant; this is event 7
        _tamper(owner_db, "DELETE FROM audit_event WHERE controller_id = %s AND seq = 7", tenant.id)
        result = client.get("/v1/audit/verify", headers=tenant.headers(Role.auditor)).json()
        assert result["ok"] is False
        assert result["reason"] == "events at the end of the chain were removed"
        assert result["first_broken_seq"] == 7

    def test_detects_an_emptied_log(self, client: TestClient, tenant: Tenant, owner_db: Owner) -> None:
        _tamper(owner_db, "DELETE FROM audit_event WHERE controller_id = %s", tenant.id)
        result = client.get("/v1/audit/verify", headers=tenant.headers(Role.auditor)).json()
        assert (result["ok"], result["reason"]) == (False, "events at the end of the chain were removed")

    def test_a_moved_head_does_not_verify(self, client: TestClient, tenant: Tenant, owner_db: Owner) -> None:
        new_customer(client, tenant)
        _tamper(owner_db, "DELETE FROM audit_event WHERE controller_id = %s AND seq = 7", tenant.id)
        owner_db.execute(
            "UPDATE audit_head SET seq = 6, hash = (SELECT hash FROM audit_event WHERE controller_id = %s AND seq = 6)"
            " WHERE controller_id = %s",
            (tenant.id, tenant.id),
        )
        result = client.get("/v1/audit/verify", headers=tenant.headers(Role.auditor)).json()
        assert (result["ok"], result["reason"]) == (False, "the chain head was altered")


class TestConcurrentWriters:
    def test_parallel_writes_keep_one_unbroken_chain(self, client: TestClient, tenant: Tenant) -> None:
        with ThreadPoolExecutor(max_workers=8) as pool:
            made = list(pool.map(lambda i: new_customer(client, tenant, last_name=f"P{i}"), range(24)))
        assert len({c["id"] for c in made}) == 24
        result = client.get("/v1/audit/verify", headers=tenant.headers(Role.auditor)).json()
        assert result == {"ok": True, "events_checked": 6 + 24, "first_broken_seq": None, "reason": None}


class TestNoRideAlong:
    def test_an_audited_change_does_not_cover_another_column(
        self, client: TestClient, app: FastAPI, tenant: Tenant
    ) -> None:
        created = new_customer(client, tenant)

        async def work() -> None:
            async with app.state.owner_sessionmaker() as session, session.begin():
                session.info["actor"] = system_actor(tenant.id)
                customer = await session.get(Customer, (tenant.id, uuid.UUID(str(created["id"]))))
                assert customer is not None
                customer.city = "Espoo"
                await session.flush()
                await session.execute(
                    text("UPDATE customer SET email = 'x@example.fi' WHERE id = :id"), {"id": created["id"]}
                )

        assert client.portal is not None
        with pytest.raises(Exception, match="unaudited update on customer"):
            client.portal.call(work)
        after = client.get(f"/v1/customers/{created['id']}", headers=tenant.headers()).json()
        assert (after["email"], after["city"]) == (created["email"], None)

    def test_a_temporary_table_cannot_stand_in_for_the_log(
        self, client: TestClient, tenant: Tenant, database_url: str
    ) -> None:
        created = new_customer(client, tenant)
        with psycopg.connect(libpq_url(database_url)) as conn:
            conn.execute("SELECT set_config('role', %s, true)", (get_settings().app_db_role,))
            conn.execute("SELECT set_config('rekisteri.controller_id', %s, true)", (str(tenant.id),))
            conn.execute(
                "CREATE TEMP TABLE audit_event (controller_id uuid, txid bigint, entity_id uuid, "
                "action text, fields text[])"
            )
            conn.execute(
                "INSERT INTO pg_temp.audit_event VALUES (%s, (pg_current_xact_id()::text)::bigint, %s, 'update', "
                "ARRAY['city'])",
                (tenant.id, created["id"]),
            )
            conn.execute("UPDATE customer SET city = 'X' WHERE id = %s", (created["id"],))
            with pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="unaudited update"):
                conn.commit()
