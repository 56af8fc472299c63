"""API keys: issued once, stored as a hash, revocable, last use recorded."""

from __future__ import annotations

import hashlib

import psycopg
from fastapi.testclient import TestClient

from app.models.api_keys import Role
from tests.conftest import Tenant, new_customer
from tests.test_webhooks import add_recipient


class TestCreateKey:
    def test_admins_only(self, client: TestClient, tenant: Tenant) -> None:
        body = {"name": "Kassa", "role": "integration"}
        assert client.post("/v1/api-keys", json=body).status_code == 401
        for role in (Role.agent, Role.integration, Role.auditor):
            assert client.post("/v1/api-keys", json=body, headers=tenant.headers(role)).status_code == 403

    def test_secret_shown_once_and_stored_as_hash(
        self, client: TestClient, tenant: Tenant, owner_db: psycopg.Connection[tuple[object, ...]]
    ) -> None:
        response = client.post(
            "/v1/api-keys", json={"name": "Liisa Asiakaspalvelu", "role": "agent"}, headers=tenant.headers()
        )
        assert response.status_code == 201
        created = response.json()
        secret = created["key"]
        assert secret.startswith(created["prefix"])
        row = owner_db.execute("SELECT key_hash FROM api_key WHERE id = %s", (created["id"],)).fetchone()
        assert row is not None
        assert bytes(row[0]) == hashlib.sha256(secret.encode()).digest()  # type: ignore[arg-type]
        listed = client.get("/v1/api-keys", headers=tenant.headers()).text
        assert secret not in listed
        # The new key works, in its role.
        agent = {"Authorization": f"Bearer {secret}"}
        assert client.get("/v1/customers", headers=agent).status_code == 200
        assert client.get("/v1/api-keys", headers=agent).status_code == 403

    def test_bad_role(self, client: TestClient, tenant: Tenant) -> None:
        response = client.post("/v1/api-keys", json={"name": "X", "role": "root"}, headers=tenant.headers())
        assert response.status_code == 422


class TestListKeys:
    def test_last_used_is_kept(self, client: TestClient, tenant: Tenant) -> None:
        client.get("/v1/customers", headers=tenant.headers(Role.agent))
        keys = {k["role"]: k for k in client.get("/v1/api-keys", headers=tenant.headers()).json()["items"]}
        assert keys["agent"]["last_used_at"] is not None
        assert keys["auditor"]["last_used_at"] is None

    def test_pages(self, client: TestClient, tenant: Tenant) -> None:
        page = client.get("/v1/api-keys?limit=3", headers=tenant.headers()).json()
        assert len(page["items"]) == 3
        rest = client.get(page["next"], headers=tenant.headers()).json()
        assert len(rest["items"]) == 1
        assert rest["next"] is None


class TestRevokeKey:
    def test_revoked_key_stops_working_at_once(self, client: TestClient, tenant: Tenant) -> None:
        assert client.get("/v1/customers", headers=tenant.headers(Role.agent)).status_code == 200
        response = client.delete(f"/v1/api-keys/{tenant.key_ids[Role.agent]}", headers=tenant.headers())
        assert response.status_code == 204
        assert client.get("/v1/customers", headers=tenant.headers(Role.agent)).status_code == 401
        listed = client.get("/v1/api-keys", headers=tenant.headers()).json()["items"]
        assert str(tenant.key_ids[Role.agent]) not in {k["id"] for k in listed}
        everything = client.get("/v1/api-keys?include_revoked=true", headers=tenant.headers()).json()["items"]
        revoked = next(k for k in everything if k["id"] == str(tenant.key_ids[Role.agent]))
        assert revoked["revoked_at"] is not None


class TestRecipientKey:
    """A key a recipient's own system uses belongs to that recipient: what it takes out is disclosed to it."""

    def test_a_key_may_belong_to_a_recipient_of_the_register(self, client: TestClient, tenant: Tenant) -> None:
        recipient = add_recipient(client, tenant, "Kumppani Oy")
        body = {"name": "Kumppanin CRM", "role": "integration", "recipient": recipient}
        created = client.post("/v1/api-keys", json=body, headers=tenant.headers())
        assert created.status_code == 201, created.text
        assert created.json()["recipient"] == "kumppani-oy"
        own = client.post("/v1/api-keys", json={"name": "Kassa", "role": "integration"}, headers=tenant.headers())
        assert own.json()["recipient"] is None
        listed = {k["id"]: k["recipient"] for k in client.get("/v1/api-keys", headers=tenant.headers()).json()["items"]}
        assert listed[created.json()["id"]] == "kumppani-oy"
        assert listed[own.json()["id"]] is None

    def test_the_actor_carries_the_keys_recipient(self, client: TestClient, tenant: Tenant) -> None:
        """What the key is answered about a person is logged under its recipient (GDPR Art. 15(1)(c))."""
        recipient = add_recipient(client, tenant, "Kumppani Oy")
        body = {"name": "Kumppanin CRM", "role": "integration", "recipient": recipient}
        partner = {
            "Authorization": f"Bearer {client.post('/v1/api-keys', json=body, headers=tenant.headers()).json()['key']}"
        }
        person = new_customer(client, tenant)
        assert client.get(f"/v1/customers/{person['id']}/marketing/direct_mail", headers=partner).status_code == 200
        log = client.get(f"/v1/customers/{person['id']}/disclosures", headers=tenant.headers()).json()["items"]
        assert [(d["recipient"], d["channel"]) for d in log] == [("kumppani-oy", "marketing_check")]

    def test_an_unknown_recipient_is_refused(self, client: TestClient, tenant: Tenant) -> None:
        for recipient in ("nobody-here", "Not An Id"):
            body = {"name": "X", "role": "integration", "recipient": recipient}
            response = client.post("/v1/api-keys", json=body, headers=tenant.headers())
            assert response.status_code == 422, recipient
            assert ["body", "recipient"] in [e["loc"] for e in response.json()["errors"]]
        # A misspelt field would make a recipient's key look like the controller's own: refused, not ignored.
        typo = client.post(
            "/v1/api-keys", json={"name": "X", "role": "agent", "recipent": "x"}, headers=tenant.headers()
        )
        assert typo.status_code == 422

    def test_a_recipient_stays_in_the_register_while_an_unrevoked_key_names_it(
        self, client: TestClient, tenant: Tenant
    ) -> None:
        profile = client.get("/v1/controller", headers=tenant.headers()).json()["profile"]
        recipient = add_recipient(client, tenant, "Kumppani Oy")
        body = {"name": "Kumppanin CRM", "role": "integration", "recipient": recipient}
        key = client.post("/v1/api-keys", json=body, headers=tenant.headers()).json()
        refused = client.put("/v1/controller", json=profile, headers=tenant.headers())
        assert refused.status_code == 409
        assert "kumppani-oy" in refused.json()["detail"]
        assert client.delete(f"/v1/api-keys/{key['id']}", headers=tenant.headers()).status_code == 204
        assert client.put("/v1/controller", json=profile, headers=tenant.headers()).status_code == 200
