from fastapi.testclient import TestClient

from tests.conftest import Tenant, new_customer


def test_create_and_read(client: TestClient, tenant: Tenant) -> None:
    created = new_customer(client, tenant)
    got = client.get(f"/v1/customers/{created['id']}", headers=tenant.headers())
    assert got.status_code == 200
    assert got.json()["email"] == created["email"]
