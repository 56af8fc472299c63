"""Tenancy: a controller's key never reaches another controller's rows, in queries or in PostgreSQL."""

from __future__ import annotations

import psycopg
import pytest
from fastapi.testclient import TestClient

from app.config import get_settings
from app.db import libpq_url
from app.models.api_keys import Role
from tests.conftest import Tenant, new_customer


def test_other_controllers_customer_and_orders_are_404(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = new_customer(client, other_tenant)
    order = client.post(
        f"/v1/customers/{theirs['id']}/orders",
        json={"order_date": "2026-01-01", "total": "1.00"},
        headers=other_tenant.headers(),
    ).json()
    mine = tenant.headers()
    assert client.get(f"/v1/customers/{theirs['id']}", headers=mine).status_code == 404
    assert client.get(f"/v1/customers/{theirs['id']}/orders", headers=mine).status_code == 404
    assert client.patch(f"/v1/orders/{order['id']}", json={"invoice_status": "paid"}, headers=mine).status_code == 404
    assert client.delete(f"/v1/customers/{theirs['id']}", headers=mine).status_code == 404
    keys = client.get("/v1/api-keys?include_revoked=true", headers=other_tenant.headers()).json()["items"]
    assert client.delete(f"/v1/api-keys/{keys[0]['id']}", headers=mine).status_code == 404


def test_lists_show_none_of_the_other_controllers_rows(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = new_customer(client, other_tenant, external_id="shared-ext")
    mine = new_customer(client, tenant)
    listed = client.get("/v1/customers?limit=500", headers=tenant.headers()).json()["items"]
    assert [c["id"] for c in listed] == [mine["id"]]
    assert client.get("/v1/customers?external_id=shared-ext", headers=tenant.headers()).json()["items"] == []
    assert client.get(f"/v1/customers?email={theirs['email']}", headers=tenant.headers()).json()["items"] == []
    key_names = {k["id"] for k in client.get("/v1/api-keys", headers=tenant.headers()).json()["items"]}
    assert key_names == {str(k) for k in tenant.key_ids.values()}
    audit = client.get("/v1/audit?limit=500", headers=tenant.headers(Role.auditor)).json()["items"]
    assert {e["subject_id"] for e in audit} <= {None, mine["id"]}


def test_row_level_security_holds_without_the_query_filter(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, database_url: str
) -> None:
    """As the application role, scoped to one controller, a bare SELECT sees only that controller's rows."""
    mine = new_customer(client, tenant)
    theirs = new_customer(client, other_tenant)
    for who, customer in ((tenant, mine), (other_tenant, theirs)):
        client.post(
            f"/v1/customers/{customer['id']}/orders",
            json={"order_date": "2026-01-01", "total": "1.00"},
            headers=who.headers(),
        )
    role = get_settings().app_db_role
    with psycopg.connect(libpq_url(database_url)) as conn:
        conn.execute("SELECT set_config('role', %s, true)", (role,))
        conn.execute("SELECT set_config('rekisteri.controller_id', %s, true)", (str(tenant.id),))
        for table in ("customer", "api_key", "audit_event", "audit_head", "subject_key", "customer_order"):
            rows = conn.execute(f"SELECT DISTINCT controller_id FROM {table}").fetchall()
            assert {r[0] for r in rows} == {tenant.id}, table  # its own rows, and only those
        assert conn.execute("SELECT count(*) FROM controller").fetchone() == (1,)
        # Writing a row for another controller is refused outright.
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            conn.execute(
                "INSERT INTO customer (controller_id, id, kind, version, created_at) "
                "VALUES (%s, gen_random_uuid(), 'private', 1, now())",
                (other_tenant.id,),
            )
        conn.rollback()


def test_no_tenant_set_sees_nothing(client: TestClient, tenant: Tenant, database_url: str) -> None:
    new_customer(client, tenant)
    with psycopg.connect(libpq_url(database_url)) as conn:
        conn.execute("SELECT set_config('role', %s, true)", (get_settings().app_db_role,))
        assert conn.execute("SELECT count(*) FROM customer").fetchone() == (0,)
        conn.rollback()
