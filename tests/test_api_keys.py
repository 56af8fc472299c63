"""API keys: issued once, stored as a hash, revocable, last use recorded."""

from __future__ import annotations

import hashlib

import psycopg
from fastapi.testclient import TestClient

from app.models.api_keys import Role
from tests.conftest import Tenant


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
