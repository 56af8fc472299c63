"""POST /v1/customers/import: NDJSON upserted by external id, bad lines reported, good lines applied whole."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from app import ndjson as ndjson_reader
from app.models.api_keys import Role
from app.services import customer_import
from tests.conftest import Tenant

NDJSON = {"Content-Type": "application/x-ndjson"}


def ndjson(*rows: dict[str, Any] | bytes) -> bytes:
    return b"".join((row if isinstance(row, bytes) else orjson.dumps(row)) + b"\n" for row in rows)


def send(
    client: TestClient, tenant: Tenant, body: bytes | Iterator[bytes], role: Role = Role.integration, **params: str
) -> Any:
    return client.post("/v1/customers/import", content=body, params=params, headers=tenant.headers(role, **NDJSON))


def by_external_id(client: TestClient, tenant: Tenant, external_id: str) -> dict[str, Any] | None:
    found = client.get("/v1/customers", params={"external_id": external_id}, headers=tenant.headers()).json()["items"]
    return found[0] if found else None


def test_creates_updates_and_leaves_unchanged(client: TestClient, tenant: Tenant) -> None:
    send(client, tenant, ndjson({"external_id": "k-1", "last_name": "Virtanen", "city": "Turku"}))
    body = ndjson(
        {"external_id": "k-1", "last_name": "Virtanen", "city": "Espoo"},  # replaced
        {"external_id": "k-2", "first_name": "Aino", "email": "aino@example.fi", "phone": "040 765 4321"},
        {"external_id": "k-2", "first_name": "Aino", "email": "aino@example.fi", "phone": "040 765 4321"},
    )
    report = send(client, tenant, body).json()
    assert report == {
        "lines": 3,
        "created": 1,
        "updated": 1,
        "unchanged": 1,
        "failed": 0,
        "errors": [],
        "errors_omitted": 0,
    }
    assert by_external_id(client, tenant, "k-1")["city"] == "Espoo"  # type: ignore[index]
    assert by_external_id(client, tenant, "k-2")["phone"] == "+358407654321"  # type: ignore[index]


def test_bad_lines_are_reported_by_number_and_apply_nothing(client: TestClient, tenant: Tenant) -> None:
    body = ndjson(
        {"external_id": "b-1", "last_name": "Hyvä"},
        b"{not json",
        {"external_id": "b-2", "last_name": "Huono", "email": "not-an-email"},
        {"last_name": "Ei tunnistetta"},
        b"[1, 2]",
        {"external_id": "b-3", "last_name": "A", "business_id": "2477816-8"},
        {"external_id": "b-4", "first_name": "Nul\u0000"},
        {"external_id": "b-5", "last_name": "Hyvä myös"},
    )
    report = send(client, tenant, body).json()
    assert (report["lines"], report["created"], report["failed"]) == (8, 2, 6)
    assert [e["line"] for e in report["errors"]] == [2, 3, 4, 5, 6, 7]
    assert report["errors"][1]["errors"][0]["loc"] == ["email"]
    assert "not-an-email" not in orjson.dumps(report).decode()  # never the value
    assert by_external_id(client, tenant, "b-2") is None
    assert by_external_id(client, tenant, "b-5") is not None


def test_a_line_the_rules_refuse_is_refused_whole(client: TestClient, tenant: Tenant) -> None:
    send(client, tenant, ndjson({"external_id": "r-1", "last_name": "Rajoitettu", "city": "Oulu"}))
    person = by_external_id(client, tenant, "r-1")
    assert person is not None
    body = {
        "type": "restriction",
        "channel": "letter",
        "customer_id": person["id"],
        "restriction": {"ground": "legal_claims"},
    }
    request = client.post("/v1/requests", json=body, headers=tenant.headers()).json()
    client.post(f"/v1/requests/{request['id']}/complete", json={}, headers=tenant.headers())
    report = send(client, tenant, ndjson({"external_id": "r-1", "last_name": "Uusi", "city": "Kemi"})).json()
    assert report["failed"] == 1
    assert "restricted" in report["errors"][0]["errors"][0]["msg"]
    assert by_external_id(client, tenant, "r-1")["city"] == "Oulu"  # type: ignore[index]


def test_an_end_before_the_start_is_a_bad_line(client: TestClient, tenant: Tenant) -> None:
    send(client, tenant, ndjson({"external_id": "d-1", "last_name": "A"}))
    line = {"external_id": "d-1", "last_name": "B", "relationship_start_date": "2020-01-01"}
    report = send(client, tenant, ndjson({**line, "relationship_end_date": "2019-01-01"})).json()
    assert report["failed"] == 1
    assert by_external_id(client, tenant, "d-1")["last_name"] == "A"  # type: ignore[index]


def test_abort_applies_nothing_if_any_line_is_bad(client: TestClient, tenant: Tenant) -> None:
    body = ndjson({"external_id": "a-1", "last_name": "A"}, b"oops", {"external_id": "a-2", "last_name": "B"})
    response = send(client, tenant, body, on_error="abort")
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "2"]
    assert by_external_id(client, tenant, "a-1") is None
    assert send(client, tenant, ndjson({"external_id": "a-1", "last_name": "A"}), on_error="abort").status_code == 200


def test_every_change_is_audited(client: TestClient, tenant: Tenant) -> None:
    send(client, tenant, ndjson(*({"external_id": f"au-{i}", "last_name": f"N{i}"} for i in range(5))))
    events = client.get("/v1/audit", params={"limit": 500}, headers=tenant.headers(Role.auditor)).json()["items"]
    created = [e for e in events if e["entity"] == "customer" and e["action"] == "create"]
    assert len(created) == 5
    assert {e["actor_role"] for e in created} == {"integration"}
    assert client.get("/v1/audit/verify", headers=tenant.headers(Role.auditor)).json()["ok"] is True


def test_many_lines_in_batches_streamed(client: TestClient, tenant: Tenant) -> None:
    count = customer_import.BATCH * 2 + 7
    tag = uuid.uuid4().hex[:8]

    def chunks() -> Iterator[bytes]:
        for i in range(count):
            yield orjson.dumps({"external_id": f"{tag}-{i}", "last_name": f"Erä {i}"}) + b"\n"

    report = send(client, tenant, chunks()).json()
    assert (report["lines"], report["created"], report["failed"]) == (count, count, 0)
    assert by_external_id(client, tenant, f"{tag}-{count - 1}") is not None


def test_errors_listed_are_capped(client: TestClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ndjson_reader, "MAX_LISTED_ERRORS", 3)
    report = send(client, tenant, b"x\n" * 10).json()
    assert (report["failed"], len(report["errors"]), report["errors_omitted"]) == (10, 3, 7)


def test_who_may_import(client: TestClient, tenant: Tenant) -> None:
    body = ndjson({"external_id": "w-1", "last_name": "A"})
    assert send(client, tenant, body, Role.auditor).status_code == 403
    assert send(client, tenant, body, Role.agent).status_code == 200
    bare = client.post("/v1/customers/import", content=body, headers=NDJSON)
    assert bare.status_code == 401


def test_only_ndjson_is_taken(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        "/v1/customers/import", content=b"a,b\n", headers=tenant.headers(**{"Content-Type": "text/csv"})
    )
    assert response.status_code == 415
