"""The customers resource: one class per endpoint."""

from __future__ import annotations

import uuid

import psycopg
from fastapi.testclient import TestClient

from app.models.api_keys import Role
from tests.conftest import Tenant, new_customer

PROBLEM = "application/problem+json"


class TestCreateCustomer:
    def test_needs_a_key(self, client: TestClient) -> None:
        response = client.post("/v1/customers", json={"first_name": "A"})
        assert response.status_code == 401
        assert response.headers["content-type"] == PROBLEM

    def test_auditor_may_not(self, client: TestClient, tenant: Tenant) -> None:
        response = client.post("/v1/customers", json={"first_name": "A"}, headers=tenant.headers(Role.auditor))
        assert response.status_code == 403

    def test_normalises_and_validates(self, client: TestClient, tenant: Tenant) -> None:
        body = {
            "first_name": "Ülar",
            "last_name": "Mihkelson",
            "organisation": "SonMark Oy",
            "title": "toimitusjohtaja",
            "business_id": "2477816-7",
            "email": "Ular.Mihkelson@Example.FI",
            "phone": "040 565 8606",
            "country": "fi",
            "ip_address": "2001:db8::1",
            "kind": "business",
            "source": "purchase",
            "relationship_start_date": "2020-01-01",
            "newsletter": True,
        }
        response = client.post("/v1/customers", json=body, headers=tenant.headers(Role.integration))
        assert response.status_code == 201, response.text
        data = response.json()
        assert data["email"] == "ular.mihkelson@example.fi"
        assert data["phone"] == "+358405658606"
        assert data["country"] == "FI"
        assert data["kind"] == "business"
        assert response.headers["etag"] == '"v1"'
        assert response.headers["location"] == f"/v1/customers/{data['id']}"

    def test_private_person_by_default(self, client: TestClient, tenant: Tenant) -> None:
        assert new_customer(client, tenant)["kind"] == "private"

    def test_rejects_bad_values(self, client: TestClient, tenant: Tenant) -> None:
        for field, value in [
            ("email", "no-at-sign"),
            ("phone", "12"),
            ("business_id", "2477816-8"),
            ("country", "XX"),
            ("ip_address", "999.1.1.1"),
            ("kind", "robot"),
        ]:
            response = client.post("/v1/customers", json={"first_name": "A", field: value}, headers=tenant.headers())
            assert response.status_code == 422, field
            problem = response.json()
            assert problem["errors"][0]["loc"] == ["body", field]
            assert value not in response.text  # input is never echoed back

    def test_needs_something_to_identify_the_person(self, client: TestClient, tenant: Tenant) -> None:
        response = client.post("/v1/customers", json={"newsletter": True}, headers=tenant.headers())
        assert response.status_code == 422

    def test_relationship_dates_in_order(self, client: TestClient, tenant: Tenant) -> None:
        response = client.post(
            "/v1/customers",
            json={
                "last_name": "A",
                "relationship_start_date": "2024-01-02",
                "relationship_end_date": "2024-01-01",
            },
            headers=tenant.headers(),
        )
        assert response.status_code == 422

    def test_external_id_is_unique(self, client: TestClient, tenant: Tenant) -> None:
        new_customer(client, tenant, external_id="shop-1")
        response = client.post(
            "/v1/customers", json={"last_name": "B", "external_id": "shop-1"}, headers=tenant.headers()
        )
        assert response.status_code == 409
        assert response.headers["content-type"] == PROBLEM


class TestGetCustomer:
    def test_needs_a_key(self, client: TestClient) -> None:
        assert client.get(f"/v1/customers/{uuid.uuid4()}").status_code == 401

    def test_other_controllers_customer_is_not_found(
        self, client: TestClient, tenant: Tenant, other_tenant: Tenant
    ) -> None:
        theirs = new_customer(client, other_tenant)
        response = client.get(f"/v1/customers/{theirs['id']}", headers=tenant.headers())
        assert response.status_code == 404

    def test_returns_etag(self, client: TestClient, tenant: Tenant) -> None:
        created = new_customer(client, tenant)
        response = client.get(f"/v1/customers/{created['id']}", headers=tenant.headers(Role.agent))
        assert response.status_code == 200
        assert response.headers["etag"] == '"v1"'

    def test_unknown_id(self, client: TestClient, tenant: Tenant) -> None:
        assert client.get(f"/v1/customers/{uuid.uuid4()}", headers=tenant.headers()).status_code == 404
        # Not an id at all: no such resource (and PATCH /v1/customers/import is 405, not an id of "import").
        assert client.get("/v1/customers/not-a-uuid", headers=tenant.headers()).status_code == 404
        assert client.patch("/v1/customers/import", json={}, headers=tenant.headers()).status_code == 405


class TestListCustomers:
    def test_pages_through_everything_once(self, client: TestClient, tenant: Tenant) -> None:
        made = {new_customer(client, tenant)["id"] for _ in range(7)}
        seen: list[str] = []
        url: str | None = "/v1/customers?limit=3"
        while url:
            page = client.get(url, headers=tenant.headers()).json()
            assert len(page["items"]) <= 3
            seen += [c["id"] for c in page["items"]]
            url = page["next"]
        assert sorted(seen) == sorted(made)

    def test_search(self, client: TestClient, tenant: Tenant) -> None:
        target = new_customer(
            client, tenant, first_name="Kalle", last_name="Virtanen", phone="0401112223", external_id="e-77"
        )
        new_customer(client, tenant, first_name="Liisa", last_name="Korhonen")
        for query in (
            f"email={target['email'].upper()}",
            "phone=%2B358401112223",
            "phone=040 111 2223",
            "name=kalle virt",
            "name=VIRTANEN",
            "external_id=e-77",
        ):
            items = client.get(f"/v1/customers?{query}", headers=tenant.headers()).json()["items"]
            assert [c["id"] for c in items] == [target["id"]], query

    def test_name_search_is_not_a_pattern(self, client: TestClient, tenant: Tenant) -> None:
        new_customer(client, tenant, last_name="Virtanen")
        assert client.get("/v1/customers?name=%25", headers=tenant.headers()).json()["items"] == []

    def test_bad_cursor(self, client: TestClient, tenant: Tenant) -> None:
        response = client.get("/v1/customers?cursor=garbage", headers=tenant.headers())
        assert response.status_code == 400
        assert response.headers["content-type"] == PROBLEM


class TestUpdateCustomer:
    def test_changes_only_what_is_sent(self, client: TestClient, tenant: Tenant) -> None:
        created = new_customer(client, tenant, city="Helsinki")
        response = client.patch(
            f"/v1/customers/{created['id']}",
            json={"phone": "0401234567", "city": None},
            headers=tenant.headers(),
        )
        assert response.status_code == 200
        data = response.json()
        assert data["phone"] == "+358401234567"
        assert data["city"] is None
        assert data["first_name"] == created["first_name"]
        assert data["version"] == 2
        assert response.headers["etag"] == '"v2"'

    def test_stale_if_match_changes_nothing(self, client: TestClient, tenant: Tenant) -> None:
        created = new_customer(client, tenant)
        url = f"/v1/customers/{created['id']}"
        first = client.patch(url, json={"city": "Espoo"}, headers=tenant.headers(**{"If-Match": '"v1"'}))
        assert first.status_code == 200
        stale = client.patch(url, json={"city": "Turku"}, headers=tenant.headers(**{"If-Match": '"v1"'}))
        assert stale.status_code == 412
        assert stale.headers["content-type"] == PROBLEM
        assert client.get(url, headers=tenant.headers()).json()["city"] == "Espoo"

    def test_garbled_if_match(self, client: TestClient, tenant: Tenant) -> None:
        created = new_customer(client, tenant)
        response = client.patch(
            f"/v1/customers/{created['id']}",
            json={"city": "X"},
            headers=tenant.headers(**{"If-Match": "nonsense"}),
        )
        assert response.status_code == 412

    def test_no_change_keeps_version(self, client: TestClient, tenant: Tenant) -> None:
        created = new_customer(client, tenant)
        response = client.patch(
            f"/v1/customers/{created['id']}",
            json={"first_name": created["first_name"]},
            headers=tenant.headers(),
        )
        assert response.json()["version"] == 1

    def test_weak_etags_do_not_match(self, client: TestClient, tenant: Tenant) -> None:
        created = new_customer(client, tenant)
        response = client.patch(
            f"/v1/customers/{created['id']}", json={"city": "X"}, headers=tenant.headers(**{"If-Match": 'W/"v1"'})
        )
        assert response.status_code == 412

    def test_unknown_fields_are_refused(self, client: TestClient, tenant: Tenant) -> None:
        created = new_customer(client, tenant)
        response = client.patch(f"/v1/customers/{created['id']}", json={"emial": "x"}, headers=tenant.headers())
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["body", "emial"]

    def test_cannot_clear_everything_that_identifies_the_person(self, client: TestClient, tenant: Tenant) -> None:
        created = new_customer(client, tenant)
        response = client.patch(
            f"/v1/customers/{created['id']}",
            json={"first_name": None, "last_name": None, "email": None},
            headers=tenant.headers(),
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["body"]
        assert client.get(f"/v1/customers/{created['id']}", headers=tenant.headers()).json()["email"]

    def test_kind_cannot_be_cleared(self, client: TestClient, tenant: Tenant) -> None:
        created = new_customer(client, tenant)
        response = client.patch(f"/v1/customers/{created['id']}", json={"kind": None}, headers=tenant.headers())
        assert response.status_code == 422

    def test_other_controllers_customer(self, client: TestClient, tenant: Tenant, other_tenant: Tenant) -> None:
        theirs = new_customer(client, other_tenant)
        response = client.patch(f"/v1/customers/{theirs['id']}", json={"city": "X"}, headers=tenant.headers())
        assert response.status_code == 404
        assert client.get(f"/v1/customers/{theirs['id']}", headers=other_tenant.headers()).json()["city"] is None


class TestDeleteCustomer:
    def test_deletes_and_destroys_the_audit_key(
        self, client: TestClient, tenant: Tenant, owner_db: psycopg.Connection[tuple[object, ...]]
    ) -> None:
        created = new_customer(client, tenant)
        response = client.delete(f"/v1/customers/{created['id']}", headers=tenant.headers())
        assert response.status_code == 204
        assert client.get(f"/v1/customers/{created['id']}", headers=tenant.headers()).status_code == 404
        row = owner_db.execute(
            "SELECT wrapped_key, destroyed_at FROM subject_key WHERE subject_id = %s", (created["id"],)
        ).fetchone()
        assert row is not None
        assert row[0] is None
        assert row[1] is not None
        events = client.get(f"/v1/audit?subject_id={created['id']}", headers=tenant.headers(Role.auditor)).json()[
            "items"
        ]
        assert [e["action"] for e in events] == ["create", "delete"]
        assert all(e["erased"] and e["changes"] is None for e in events)

    def test_refused_while_orders_exist(self, client: TestClient, tenant: Tenant) -> None:
        created = new_customer(client, tenant)
        client.post(
            f"/v1/customers/{created['id']}/orders",
            json={"order_date": "2026-01-01", "total": "1.00"},
            headers=tenant.headers(),
        )
        assert client.delete(f"/v1/customers/{created['id']}", headers=tenant.headers()).status_code == 409

    def test_stale_if_match(self, client: TestClient, tenant: Tenant) -> None:
        created = new_customer(client, tenant)
        response = client.delete(f"/v1/customers/{created['id']}", headers=tenant.headers(**{"If-Match": '"v9"'}))
        assert response.status_code == 412
        assert client.get(f"/v1/customers/{created['id']}", headers=tenant.headers()).status_code == 200


class TestUpsertByExternalId:
    def test_creates_then_replaces_then_is_idempotent(self, client: TestClient, tenant: Tenant) -> None:
        url = "/v1/customers/by-external-id/shop-42"
        first = client.put(url, json={"first_name": "A", "city": "Oulu"}, headers=tenant.headers(Role.integration))
        assert first.status_code == 201
        assert first.json()["external_id"] == "shop-42"
        second = client.put(url, json={"first_name": "B"}, headers=tenant.headers(Role.integration))
        assert second.status_code == 200
        assert second.json()["id"] == first.json()["id"]
        assert second.json()["city"] is None  # replaced, not merged
        third = client.put(url, json={"first_name": "B"}, headers=tenant.headers(Role.integration))
        assert third.json()["version"] == second.json()["version"]
        events = client.get(f"/v1/audit?entity_id={first.json()['id']}", headers=tenant.headers(Role.auditor)).json()[
            "items"
        ]
        assert [e["action"] for e in events] == ["create", "update"]

    def test_body_external_id_is_the_paths(self, client: TestClient, tenant: Tenant) -> None:
        response = client.put(
            "/v1/customers/by-external-id/p-1",
            json={"first_name": "A", "external_id": "other"},
            headers=tenant.headers(),
        )
        assert response.json()["external_id"] == "p-1"

    def test_if_match_on_missing(self, client: TestClient, tenant: Tenant) -> None:
        for if_match in ('"v1"', "*"):
            response = client.put(
                "/v1/customers/by-external-id/none-yet",
                json={"first_name": "A"},
                headers=tenant.headers(**{"If-Match": if_match}),
            )
            assert response.status_code == 412, if_match

    def test_same_external_id_in_two_controllers(
        self, client: TestClient, tenant: Tenant, other_tenant: Tenant
    ) -> None:
        a = client.put("/v1/customers/by-external-id/same", json={"first_name": "A"}, headers=tenant.headers())
        b = client.put("/v1/customers/by-external-id/same", json={"first_name": "B"}, headers=other_tenant.headers())
        assert a.status_code == b.status_code == 201
        assert a.json()["id"] != b.json()["id"]
