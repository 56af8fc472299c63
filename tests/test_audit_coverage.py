"""Every route that writes produces audit events: a route added without them fails here."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from httpx import Response

from app.models.api_keys import Role
from tests.conftest import Tenant, new_customer
from tests.test_webhooks import add_recipient, subscribe

Call = Callable[[TestClient, Tenant], Response]


def _order(client: TestClient, tenant: Tenant) -> str:
    customer = new_customer(client, tenant)
    response = client.post(
        f"/v1/customers/{customer['id']}/orders",
        json={"order_date": "2026-01-01", "total": "5.00"},
        headers=tenant.headers(),
    )
    return str(response.json()["id"])


def _request(client: TestClient, tenant: Tenant, type_: str = "access", **extra: object) -> str:
    customer = new_customer(client, tenant)
    body = {"type": type_, "customer_id": customer["id"], "channel": "email", **extra}
    response = client.post("/v1/requests", json=body, headers=tenant.headers())
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _restricted(client: TestClient, tenant: Tenant, notice: bool = False) -> str:
    request_id = _request(client, tenant, "restriction", restriction={"ground": "legal_claims"})
    answer = client.post(f"/v1/requests/{request_id}/complete", json={}, headers=tenant.headers())
    customer_id = str(answer.json()["customer_id"])
    if notice:
        client.post(f"/v1/customers/{customer_id}/restriction/notice", json={"via": "letter"}, headers=tenant.headers())
    return customer_id


def _suppression_list(client: TestClient, tenant: Tenant) -> str:
    body = {"name": f"Kielto {uuid.uuid4().hex[:6]}", "channels": ["direct_mail"]}
    response = client.post("/v1/suppression-lists", json=body, headers=tenant.headers())
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _entries(method: str, list_id: str) -> Call:
    return lambda c, t: c.request(
        method,
        f"/v1/suppression-lists/{list_id}/entries",
        content=b'{"email": "kielto@example.fi"}\n',
        headers=t.headers(**{"Content-Type": "application/x-ndjson"}),
    )


def _post(path: str, body: dict[str, object]) -> Call:
    return lambda c, t: c.post(path, json=body, headers=t.headers())


# One valid call per mutating route; its set-up runs before the count is taken.
CALLS: dict[tuple[str, str], Callable[[TestClient, Tenant], Call]] = {
    ("POST", "/v1/customers"): lambda c, t: (
        lambda c, t: c.post("/v1/customers", json={"last_name": "A"}, headers=t.headers())
    ),
    ("PATCH", "/v1/customers/{customer_id}"): lambda c, t: (
        lambda cid: lambda c, t: c.patch(f"/v1/customers/{cid}", json={"city": "Oulu"}, headers=t.headers())
    )(new_customer(c, t)["id"]),
    ("DELETE", "/v1/customers/{customer_id}"): lambda c, t: (
        lambda cid: lambda c, t: c.delete(f"/v1/customers/{cid}", headers=t.headers())
    )(new_customer(c, t)["id"]),
    ("PUT", "/v1/customers/by-external-id/{external_id}"): lambda c, t: (
        lambda c, t: c.put("/v1/customers/by-external-id/x-1", json={"last_name": "A"}, headers=t.headers())
    ),
    ("POST", "/v1/customers/{customer_id}/orders"): lambda c, t: (
        lambda cid: (
            lambda c, t: c.post(
                f"/v1/customers/{cid}/orders",
                json={"order_date": "2026-01-01", "total": "1.00"},
                headers=t.headers(),
            )
        )
    )(new_customer(c, t)["id"]),
    ("PATCH", "/v1/orders/{order_id}"): lambda c, t: (
        lambda oid: lambda c, t: c.patch(f"/v1/orders/{oid}", json={"invoice_status": "paid"}, headers=t.headers())
    )(_order(c, t)),
    ("PUT", "/v1/customers/{customer_id}/marketing"): lambda c, t: (
        lambda cid: (
            lambda c, t: c.put(
                f"/v1/customers/{cid}/marketing",
                json={"channels": {"telemarketing": {"prohibited": True}}, "received_via": "phone"},
                headers=t.headers(),
            )
        )
    )(new_customer(c, t)["id"]),
    ("POST", "/v1/webhooks"): lambda c, t: (
        lambda rid: (
            lambda c, t: c.post(
                "/v1/webhooks", json={"url": "https://shop.example.fi/hooks", "recipient": rid}, headers=t.headers()
            )
        )
    )(add_recipient(c, t, "Verkkokauppa")),
    ("DELETE", "/v1/webhooks/{webhook_id}"): lambda c, t: (
        lambda wid: lambda c, t: c.delete(f"/v1/webhooks/{wid}", headers=t.headers())
    )(subscribe(c, t, "https://shop.example.fi/h")["id"]),
    ("POST", "/v1/api-keys"): lambda c, t: (
        lambda c, t: c.post("/v1/api-keys", json={"name": "Kassa 1", "role": "integration"}, headers=t.headers())
    ),
    ("DELETE", "/v1/api-keys/{key_id}"): lambda c, t: (
        lambda kid: lambda c, t: c.delete(f"/v1/api-keys/{kid}", headers=t.headers())
    )(c.post("/v1/api-keys", json={"name": "Temp", "role": "agent"}, headers=t.headers()).json()["id"]),
    ("POST", "/v1/requests"): lambda c, t: (
        lambda cid: _post("/v1/requests", {"type": "access", "customer_id": cid, "channel": "letter"})
    )(new_customer(c, t)["id"]),
    ("POST", "/v1/requests/{request_id}/request-identity"): lambda c, t: (
        lambda rid: _post(f"/v1/requests/{rid}/request-identity", {"reason": "Address differs."})
    )(_request(c, t)),
    ("POST", "/v1/requests/{request_id}/verify"): lambda c, t: (
        lambda rid: _post(f"/v1/requests/{rid}/verify", {"method": "document"})
    )(_request(c, t)),
    ("POST", "/v1/requests/{request_id}/extend"): lambda c, t: (
        lambda rid: _post(f"/v1/requests/{rid}/extend", {"months": 2, "reason": "Many requests at once."})
    )(_request(c, t)),
    ("POST", "/v1/requests/{request_id}/complete"): lambda c, t: (
        lambda rid: _post(f"/v1/requests/{rid}/complete", {})
    )(_request(c, t)),
    ("POST", "/v1/requests/{request_id}/refuse"): lambda c, t: (
        lambda rid: _post(f"/v1/requests/{rid}/refuse", {"reasons": "Manifestly unfounded."})
    )(_request(c, t)),
    ("POST", "/v1/requests/{request_id}/withdraw"): lambda c, t: (
        lambda rid: _post(f"/v1/requests/{rid}/withdraw", {})
    )(_request(c, t)),
    ("POST", "/v1/customers/{customer_id}/restriction/notice"): lambda c, t: (
        lambda cid: _post(f"/v1/customers/{cid}/restriction/notice", {"via": "letter"})
    )(_restricted(c, t)),
    ("DELETE", "/v1/customers/{customer_id}/restriction"): lambda c, t: (
        lambda cid: lambda c, t: c.delete(f"/v1/customers/{cid}/restriction", headers=t.headers())
    )(_restricted(c, t, notice=True)),
    ("POST", "/v1/customers/import"): lambda c, t: (
        lambda c, t: c.post(
            "/v1/customers/import",
            content=b'{"external_id": "imp-1", "last_name": "Tuonti"}\n',
            headers=t.headers(**{"Content-Type": "application/x-ndjson"}),
        )
    ),
    ("POST", "/v1/suppression-lists"): lambda c, t: (
        lambda c, t: c.post(
            "/v1/suppression-lists", json={"name": "Oma", "channels": ["telemarketing"]}, headers=t.headers()
        )
    ),
    ("PATCH", "/v1/suppression-lists/{list_id}"): lambda c, t: (
        lambda lid: lambda c, t: c.patch(f"/v1/suppression-lists/{lid}", json={"source": "oma"}, headers=t.headers())
    )(_suppression_list(c, t)),
    ("DELETE", "/v1/suppression-lists/{list_id}"): lambda c, t: (
        lambda lid: lambda c, t: c.delete(f"/v1/suppression-lists/{lid}", headers=t.headers())
    )(_suppression_list(c, t)),
    ("PUT", "/v1/suppression-lists/{list_id}/entries"): lambda c, t: _entries("PUT", _suppression_list(c, t)),
    ("POST", "/v1/suppression-lists/{list_id}/entries"): lambda c, t: _entries("POST", _suppression_list(c, t)),
    ("PUT", "/v1/controller"): lambda c, t: (
        lambda profile: (
            lambda c, t: c.put(
                "/v1/controller", json={**profile, "register": {"name": "Uusi rekisteri"}}, headers=t.headers()
            )
        )
    )(c.get("/v1/controller", headers=t.headers()).json()["profile"]),
    ("PUT", "/v1/controller/draft"): lambda c, t: (
        lambda profile: lambda c, t: c.put("/v1/controller/draft", json=profile, headers=t.headers())
    )(c.get("/v1/controller", headers=t.headers()).json()["profile"]),
}


# POSTs that only read: they must write no audit event (checked below), and nothing else.
READ_ONLY: dict[tuple[str, str], Callable[[TestClient, Tenant], Call]] = {
    ("POST", "/v1/marketing/check"): lambda c, t: (
        lambda cid: (
            lambda c, t: c.post(
                "/v1/marketing/check?channel=direct_mail",
                content=f'{{"customer_id": "{cid}"}}\n'.encode(),
                headers=t.headers(**{"Content-Type": "application/x-ndjson"}),
            )
        )
    )(new_customer(c, t)["id"]),
}


def mutating_routes(app: FastAPI) -> set[tuple[str, str]]:
    return {
        (method, context.path.replace(":uuid}", "}"))  # the template, as the OpenAPI names it
        for context in iter_route_contexts(app.routes)
        if context.path is not None
        for method in context.methods or ()
        if method in {"POST", "PUT", "PATCH", "DELETE"}
    }


def test_every_mutating_route_is_listed(app: FastAPI) -> None:
    found = mutating_routes(app)
    assert ("POST", "/v1/customers") in found  # the walk itself works
    missing = found - CALLS.keys() - READ_ONLY.keys()
    assert not missing, f"add these routes to CALLS and make sure they are audited: {sorted(missing)}"
    assert not (CALLS.keys() | READ_ONLY.keys()) - found, "a route listed here is gone from the app"


@pytest.mark.parametrize("route", sorted(READ_ONLY), ids=lambda r: f"{r[0]} {r[1]}")
def test_read_only_post_writes_nothing(
    route: tuple[str, str], client: TestClient, tenant: Tenant, owner_db: psycopg.Connection[tuple[object, ...]]
) -> None:
    call = READ_ONLY[route](client, tenant)
    query = "SELECT count(*) FROM audit_event WHERE controller_id = %s"
    before = owner_db.execute(query, (tenant.id,)).fetchone()
    response = call(client, tenant)
    assert response.status_code == 200, response.text
    assert owner_db.execute(query, (tenant.id,)).fetchone() == before


@pytest.mark.parametrize("route", sorted(CALLS), ids=lambda r: f"{r[0]} {r[1]}")
def test_route_writes_audit_events(
    route: tuple[str, str],
    client: TestClient,
    tenant: Tenant,
    owner_db: psycopg.Connection[tuple[object, ...]],
) -> None:
    call = CALLS[route](client, tenant)

    def count() -> int:
        row = owner_db.execute("SELECT count(*) FROM audit_event WHERE controller_id = %s", (tenant.id,)).fetchone()
        assert row is not None
        return int(row[0])  # type: ignore[call-overload]

    before = count()
    response = call(client, tenant)
    assert response.status_code < 300, response.text
    after = owner_db.execute(
        "SELECT actor_key_id FROM audit_event WHERE controller_id = %s AND seq > %s", (tenant.id, before)
    ).fetchall()
    assert after, "no audit event"
    assert count() == before + len(after)
    assert {row[0] for row in after} == {tenant.key_ids[Role.admin]}
