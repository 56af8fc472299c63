"""Orders: one class per endpoint."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from app.models.api_keys import Role
from tests.conftest import Tenant, new_customer

ORDER = {
    "external_id": "o-1",
    "order_date": "2026-11-20",
    "lines": [{"description": "Kaiutin", "quantity": "2", "unit_price": "49.90", "sku": "SPK-1"}],
    "total": "99.80",
    "currency": "eur",
    "invoice_status": "open",
}


class TestCreateOrder:
    def test_needs_a_key_and_a_role(self, client: TestClient, tenant: Tenant) -> None:
        customer = new_customer(client, tenant)
        url = f"/v1/customers/{customer['id']}/orders"
        assert client.post(url, json=ORDER).status_code == 401
        assert client.post(url, json=ORDER, headers=tenant.headers(Role.auditor)).status_code == 403

    def test_records_the_order(self, client: TestClient, tenant: Tenant) -> None:
        customer = new_customer(client, tenant)
        response = client.post(
            f"/v1/customers/{customer['id']}/orders", json=ORDER, headers=tenant.headers(Role.integration)
        )
        assert response.status_code == 201, response.text
        order = response.json()
        assert order["currency"] == "EUR"
        assert order["total"] == "99.80"
        assert order["lines"][0]["sku"] == "SPK-1"
        assert order["invoice_status"] == "open"
        assert response.headers["location"] == f"/v1/orders/{order['id']}"

    def test_unknown_customer(self, client: TestClient, tenant: Tenant) -> None:
        response = client.post(f"/v1/customers/{uuid.uuid4()}/orders", json=ORDER, headers=tenant.headers())
        assert response.status_code == 404

    def test_bad_values(self, client: TestClient, tenant: Tenant) -> None:
        customer = new_customer(client, tenant)
        url = f"/v1/customers/{customer['id']}/orders"
        for change in (
            {"currency": "XYZ"},
            {"invoice_status": "lost"},
            {"total": "1.001"},
            {"order_date": "x"},
        ):
            assert client.post(url, json=ORDER | change, headers=tenant.headers()).status_code == 422, change

    def test_external_id_unique(self, client: TestClient, tenant: Tenant) -> None:
        customer = new_customer(client, tenant)
        url = f"/v1/customers/{customer['id']}/orders"
        assert client.post(url, json=ORDER, headers=tenant.headers()).status_code == 201
        assert client.post(url, json=ORDER, headers=tenant.headers()).status_code == 409


class TestListOrders:
    def test_pages(self, client: TestClient, tenant: Tenant) -> None:
        customer = new_customer(client, tenant)
        url = f"/v1/customers/{customer['id']}/orders"
        made = [
            client.post(url, json=ORDER | {"external_id": f"o-{i}"}, headers=tenant.headers()).json()["id"]
            for i in range(5)
        ]
        page = client.get(f"{url}?limit=2", headers=tenant.headers()).json()
        seen = [o["id"] for o in page["items"]]
        while page["next"]:
            page = client.get(page["next"], headers=tenant.headers()).json()
            seen += [o["id"] for o in page["items"]]
        assert seen == made


class TestUpdateOrder:
    def test_invoice_status_with_if_match(self, client: TestClient, tenant: Tenant) -> None:
        customer = new_customer(client, tenant)
        created = client.post(f"/v1/customers/{customer['id']}/orders", json=ORDER, headers=tenant.headers())
        url = f"/v1/orders/{created.json()['id']}"
        tag = created.headers["etag"]
        paid = client.patch(url, json={"invoice_status": "paid"}, headers=tenant.headers(**{"If-Match": tag}))
        assert paid.status_code == 200
        assert paid.json()["invoice_status"] == "paid"
        stale = client.patch(url, json={"invoice_status": "credited"}, headers=tenant.headers(**{"If-Match": tag}))
        assert stale.status_code == 412
        audit = client.get(f"/v1/audit?entity_id={created.json()['id']}", headers=tenant.headers(Role.auditor)).json()[
            "items"
        ]
        assert audit[-1]["changes"]["invoice_status"] == {"old": "open", "new": "paid"}
        assert audit[-1]["subject_id"] == customer["id"]

    def test_required_fields_cannot_be_cleared(self, client: TestClient, tenant: Tenant) -> None:
        customer = new_customer(client, tenant)
        created = client.post(f"/v1/customers/{customer['id']}/orders", json=ORDER, headers=tenant.headers()).json()
        response = client.patch(f"/v1/orders/{created['id']}", json={"total": None}, headers=tenant.headers())
        assert response.status_code == 200
        assert response.json()["total"] == "99.80"

    def test_unknown_order(self, client: TestClient, tenant: Tenant) -> None:
        response = client.patch(f"/v1/orders/{uuid.uuid4()}", json={"invoice_status": "paid"}, headers=tenant.headers())
        assert response.status_code == 404
