"""Every error is problem+json, with no stack trace and no personal data, in answers and logs."""

from __future__ import annotations

import base64
import uuid

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.config import get_settings
from app.errors import redact
from app.main import create_app
from tests.conftest import Tenant, new_customer

PROBLEM = "application/problem+json"


def assert_problem(response: object, status: int) -> dict[str, object]:
    assert response.status_code == status  # type: ignore[attr-defined]
    assert response.headers["content-type"] == PROBLEM  # type: ignore[attr-defined]
    body: dict[str, object] = response.json()  # type: ignore[attr-defined]
    assert body["status"] == status
    assert str(body["type"]).startswith("/problems/")
    assert body["title"]
    return body


def test_statuses(client: TestClient, tenant: Tenant) -> None:
    customer = new_customer(client, tenant, external_id="err-1")
    h = tenant.headers()
    assert_problem(client.get("/no/such/path"), 404)
    assert_problem(client.get(f"/v1/customers/{uuid.uuid4()}", headers=h), 404)
    assert_problem(client.put("/v1/customers", headers=h, json={}), 405)
    assert_problem(client.post("/v1/customers", json={"last_name": "x", "external_id": "err-1"}, headers=h), 409)
    assert_problem(
        client.patch(f"/v1/customers/{customer['id']}", json={}, headers=tenant.headers(**{"If-Match": '"v7"'})),
        412,
    )
    assert_problem(
        client.post("/v1/customers", content=b"last_name=x", headers={**h, "Content-Type": "text/plain"}), 415
    )
    body = assert_problem(
        client.post("/v1/customers", content=b"{not json", headers={**h, "Content-Type": "application/json"}),
        422,
    )
    assert body["errors"]
    assert_problem(client.get("/v1/customers", headers={"Authorization": "Bearer nope"}), 401)


@pytest.fixture(scope="module")
def failing_app(database_url: str) -> FastAPI:
    app = create_app(get_settings(), database_url=database_url)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret customer maija@example.fi")

    return app


def test_500_is_a_problem_without_details(failing_app: FastAPI, capfd: pytest.CaptureFixture[str]) -> None:
    with TestClient(failing_app, raise_server_exceptions=False) as client:
        response = client.get("/boom")
    body = assert_problem(response, 500)
    assert "maija" not in response.text
    assert "Traceback" not in response.text
    assert body["detail"] == "An unexpected error; it has been logged."
    logs = capfd.readouterr().err
    assert "RuntimeError" in logs
    assert "maija" not in logs


def test_logs_carry_no_personal_data(client: TestClient, tenant: Tenant, capfd: pytest.CaptureFixture[str]) -> None:
    capfd.readouterr()
    marker = f"loki{uuid.uuid4().hex[:6]}"
    created = new_customer(client, tenant, last_name=marker, email=f"{marker}@example.fi")
    client.get(f"/v1/customers?email={marker}@example.fi&name={marker}", headers=tenant.headers())
    client.patch(f"/v1/customers/{created['id']}", json={"email": "bad"}, headers=tenant.headers())
    client.put(f"/v1/customers/by-external-id/{marker}", json={"last_name": marker}, headers=tenant.headers())
    logs = capfd.readouterr().err
    assert '"event": "request"' in logs
    assert '"route": "/v1/customers/by-external-id/{external_id}"' in logs
    assert marker not in logs
    assert tenant.keys[next(iter(tenant.keys))] not in logs


def test_request_id_round_trip(client: TestClient) -> None:
    assert client.get("/health/live", headers={"X-Request-ID": "abc-1"}).headers["x-request-id"] == "abc-1"
    generated = client.get("/health/live", headers={"X-Request-ID": "bad id with spaces"}).headers["x-request-id"]
    assert generated != "bad id with spaces"
    assert len(generated) == 32


def test_405_names_every_method_of_the_path(client: TestClient, tenant: Tenant) -> None:
    response = client.put(f"/v1/customers/{uuid.uuid4()}", json={}, headers=tenant.headers())
    assert_problem(response, 405)
    assert response.headers["allow"] == "DELETE, GET, PATCH"


def test_missing_resource_is_404_whatever_if_match_says(client: TestClient, tenant: Tenant) -> None:
    for if_match in ('"v1"', "garbage"):
        response = client.patch(
            f"/v1/customers/{uuid.uuid4()}", json={"city": "X"}, headers=tenant.headers(**{"If-Match": if_match})
        )
        assert_problem(response, 404)


def test_numbers_are_not_dates(client: TestClient, tenant: Tenant) -> None:
    body = {"last_name": "A", "relationship_start_date": 0}
    assert_problem(client.post("/v1/customers", json=body, headers=tenant.headers()), 422)
    assert_problem(client.get("/v1/audit?until=0.5", headers=tenant.headers()), 422)
    assert client.get("/v1/audit?until=2026-01-01T00:00:00Z", headers=tenant.headers()).status_code == 200


def test_nul_characters_are_refused_not_a_500(client: TestClient, tenant: Tenant) -> None:
    h = tenant.headers()
    assert_problem(client.post("/v1/customers", json={"first_name": "a\u0000b"}, headers=h), 422)
    assert_problem(client.get("/v1/customers?name=%00", headers=h), 422)
    assert_problem(client.put("/v1/customers/by-external-id/a%00b", json={"last_name": "A"}, headers=h), 422)
    assert_problem(client.post("/v1/api-keys", json={"name": "a\u0000", "role": "agent"}, headers=h), 422)


def test_out_of_range_cursor(client: TestClient, tenant: Tenant) -> None:
    cursor = base64.urlsafe_b64encode(str(10**40).encode()).decode()
    assert_problem(client.get(f"/v1/audit?cursor={cursor}", headers=tenant.headers()), 400)


@pytest.mark.parametrize(
    ("message", "given"),
    [
        ("The domain name secretdomain.fi does not exist.", "maija@secretdomain.fi"),
        ("value 'maija@secretdomain.fi' is not valid", "maija@secretdomain.fi"),
        ("Virtanen, Matti is not a name we know", "Matti Virtanen"),
    ],
)
def test_a_message_keeps_no_piece_of_the_input(message: str, given: str) -> None:
    redacted = redact(message, given)
    for piece in ("secretdomain", "maija", "Matti", "Virtanen"):
        assert piece not in redacted
    assert " not " in redacted  # what was wrong is still said


def test_a_message_without_the_input_is_unchanged() -> None:
    message = "value is not a valid email address: An email address must have an @-sign."
    assert redact(message, "no-at-sign.example.fi") == message
