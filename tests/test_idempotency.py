"""Idempotency-Key on the POSTs integrations retry: the first answer again, nothing written twice."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app import worker
from app.models.api_keys import Role
from tests.conftest import Tenant, new_customer

NDJSON = "application/x-ndjson"


def events(client: TestClient, tenant: Tenant) -> int:
    page = client.get("/v1/audit", params={"limit": 500}, headers=tenant.headers(Role.auditor)).json()
    return len(page["items"])


def post(client: TestClient, tenant: Tenant, path: str, key: str, **kwargs: Any) -> Any:
    return client.post(path, headers=tenant.headers(**{"Idempotency-Key": key}, **kwargs.pop("headers", {})), **kwargs)


def routes(client: TestClient, tenant: Tenant) -> list[tuple[str, dict[str, Any]]]:
    person = new_customer(client, tenant)
    return [
        ("/v1/customers", {"json": {"last_name": "Virtanen", "email": "v@example.fi"}}),
        ("/v1/requests", {"json": {"type": "access", "channel": "email", "customer_id": person["id"]}}),
        (f"/v1/customers/{person['id']}/orders", {"json": {"order_date": "2026-11-01", "total": "9.90"}}),
        (
            "/v1/customers/import",
            {"content": b'{"external_id": "i-1", "last_name": "A"}\n', "headers": {"Content-Type": NDJSON}},
        ),
    ]


@pytest.mark.parametrize("which", range(4), ids=["customers", "requests", "orders", "import"])
def test_a_retry_gets_the_first_answer_and_writes_nothing(client: TestClient, tenant: Tenant, which: int) -> None:
    path, body = routes(client, tenant)[which]
    key = str(uuid.uuid4())
    first = post(client, tenant, path, key, **body)
    assert first.status_code in (200, 201), first.text
    written = events(client, tenant)
    again = post(client, tenant, path, key, **body)
    assert again.status_code == first.status_code
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers.get("Location") == first.headers.get("Location")
    assert events(client, tenant) == written  # nothing written the second time


@pytest.mark.parametrize("which", range(4), ids=["customers", "requests", "orders", "import"])
def test_the_same_key_with_another_body_is_422(client: TestClient, tenant: Tenant, which: int) -> None:
    path, body = routes(client, tenant)[which]
    key = str(uuid.uuid4())
    assert post(client, tenant, path, key, **body).status_code in (200, 201)
    changed = [
        {"json": {**body.get("json", {}), "city": "Oulu"}},
        {"json": {**body.get("json", {}), "details": "Toinen pyyntö."}},
        {"json": {**body.get("json", {}), "total": "19.90"}},
        {**body, "content": body.get("content", b"") + b'{"external_id": "i-2", "last_name": "B"}\n'},
    ][which]
    response = post(client, tenant, path, key, **changed)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["header", "Idempotency-Key"]


def test_without_a_key_each_post_creates(client: TestClient, tenant: Tenant) -> None:
    a = client.post("/v1/customers", json={"last_name": "A"}, headers=tenant.headers())
    b = client.post("/v1/customers", json={"last_name": "A"}, headers=tenant.headers())
    assert a.json()["id"] != b.json()["id"]


def test_a_failed_first_try_leaves_the_key_free(client: TestClient, tenant: Tenant) -> None:
    key = str(uuid.uuid4())
    new_customer(client, tenant, external_id="taken-1")
    refused = post(client, tenant, "/v1/customers", key, json={"last_name": "A", "external_id": "taken-1"})
    assert refused.status_code == 409
    done = post(client, tenant, "/v1/customers", key, json={"last_name": "A", "external_id": "free-1"})
    assert done.status_code == 201


def test_keys_are_the_controllers_own(client: TestClient, tenant: Tenant, other_tenant: Tenant) -> None:
    key = str(uuid.uuid4())
    mine = post(client, tenant, "/v1/customers", key, json={"last_name": "A"})
    theirs = post(client, other_tenant, "/v1/customers", key, json={"last_name": "A"})
    assert theirs.status_code == 201
    assert theirs.json()["id"] != mine.json()["id"]


def test_concurrent_retries_make_one_customer(client: TestClient, tenant: Tenant) -> None:
    key = str(uuid.uuid4())
    body = {"last_name": "Samanaikainen"}
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: post(client, tenant, "/v1/customers", key, json=body), range(6)))
    assert {a.status_code for a in answers} <= {201, 409}
    made = {a.json()["id"] for a in answers if a.status_code == 201}
    assert len(made) == 1
    found = client.get("/v1/customers", params={"name": "Samanaikainen"}, headers=tenant.headers()).json()
    assert len(found["items"]) == 1


@pytest.mark.parametrize("key", ["", "a" * 201, "tab\there", "two words"])
def test_a_malformed_key_is_422(client: TestClient, tenant: Tenant, key: str) -> None:
    response = client.post("/v1/customers", json={"last_name": "A"}, headers=tenant.headers(**{"Idempotency-Key": key}))
    assert response.status_code == 422


def test_an_erased_persons_answer_goes_with_them(client: TestClient, tenant: Tenant, owner_db: Any) -> None:
    key = str(uuid.uuid4())
    email = f"{uuid.uuid4().hex}@idem.example.fi"
    created = post(client, tenant, "/v1/customers", key, json={"last_name": "Poistettava", "email": email}).json()
    body = {"type": "erasure", "channel": "email", "customer_id": created["id"], "erasure": {"ground": "objection"}}
    request = client.post("/v1/requests", json=body, headers=tenant.headers()).json()
    client.post(f"/v1/requests/{request['id']}/complete", json={}, headers=tenant.headers())
    left = owner_db.execute(
        "SELECT count(*) FROM idempotency_key WHERE controller_id = %s AND position(%s::bytea in body) > 0",
        (tenant.id, email.encode()),
    ).fetchone()
    assert left == (0,)


def test_keys_expire_after_a_day(client: TestClient, tenant: Tenant, database_url: str, owner_db: Any) -> None:
    key = str(uuid.uuid4())
    post(client, tenant, "/v1/customers", key, json={"last_name": "Vanha"})
    owner_db.execute(
        "UPDATE idempotency_key SET created_at = now() - interval '25 hours' WHERE controller_id = %s AND key = %s",
        (tenant.id, key),
    )
    queue = worker.build(database_url, [])
    crons = {p.task.name: p.cron for p in queue.periodic_registry.periodic_tasks.values()}
    assert crons["expire_idempotency_keys"] == "7 * * * *"  # hourly

    async def defer_and_work() -> None:
        async with queue.open_async():
            await queue.tasks["expire_idempotency_keys"].defer_async(timestamp=0)
        await worker.run(database_url, wait=False)

    assert client.portal is not None
    client.portal.call(defer_and_work)
    gone = owner_db.execute("SELECT count(*) FROM idempotency_key WHERE key = %s", (key,)).fetchone()
    assert gone == (0,)
    again = post(client, tenant, "/v1/customers", key, json={"last_name": "Vanha"})
    assert "Idempotent-Replayed" not in again.headers  # a new request now
