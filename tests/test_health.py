"""Liveness, readiness and metrics need no API key and say what a load balancer and Prometheus need; metrics may
take a key of their own, and must in production."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr, ValidationError

from app.config import Settings, get_settings
from app.errors import PROBLEM_JSON
from app.main import create_app
from tests.conftest import Tenant, new_customer

Db = psycopg.Connection[tuple[Any, ...]]


def gauges(client: TestClient) -> dict[str, float]:
    """The metrics without labels, by name."""
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(client.get("/metrics").text)
        for sample in family.samples
        if not sample.labels
    }


def test_live_and_ready(client: TestClient) -> None:
    assert client.get("/health/live").json() == {"status": "ok"}
    answer = client.get("/health/ready")
    assert answer.status_code == 200
    assert answer.json()["status"] == "ok"
    assert answer.json()["worker"]["status"] in {"ok", "stale", "absent"}


def test_metrics_count_requests_by_route_template(client: TestClient, tenant: Tenant) -> None:
    created = new_customer(client, tenant)
    client.get(f"/v1/customers/{created['id']}", headers=tenant.headers())
    text = client.get("/metrics").text
    assert 'rekisteri_http_requests_total{method="GET",route="/v1/customers/{customer_id}",status="200"}' in text
    assert str(created["id"]) not in text  # ids never become labels


# --- /metrics behind a key of its own ------------------------------------------------------------------------

METRICS_KEY = "m" * 24


def metrics_client(database_url: str, **settings: object) -> TestClient:
    configured = get_settings().model_copy(update=settings)
    return TestClient(create_app(configured, database_url=database_url), raise_server_exceptions=False)


def assert_problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert "rekisteri_http_requests_total" not in response.text


def test_with_a_metrics_key_only_its_holder_reads_the_metrics(database_url: str) -> None:
    with metrics_client(database_url, metrics_key=SecretStr(METRICS_KEY)) as client:
        for headers in ({}, {"Authorization": "Bearer " + "x" * 24}, {"Authorization": METRICS_KEY}):
            refused = client.get("/metrics", headers=headers)
            assert_problem(refused, 401)
            assert refused.headers["www-authenticate"] == "Bearer"
        allowed = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_KEY}"})
        assert allowed.status_code == 200
        assert "rekisteri_http_requests_total" in allowed.text
        assert client.get("/health/ready").status_code == 200  # the probes stay open


def test_in_production_metrics_are_off_without_a_key(database_url: str) -> None:
    with metrics_client(database_url, environment="production") as client:
        assert_problem(client.get("/metrics"), 403)
        assert client.get("/health/ready").status_code == 200
    with metrics_client(database_url, environment="production", metrics_key=SecretStr(METRICS_KEY)) as client:
        assert client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_KEY}"}).status_code == 200


def test_a_metrics_key_is_a_real_secret() -> None:
    assert Settings(metrics_key="").metrics_key is None  # compose passes an unset variable as ""
    assert Settings(metrics_key="  ").metrics_key is None
    for weak in ("changeme", "short"):
        with pytest.raises(ValidationError, match="METRICS_KEY"):
            Settings(metrics_key=weak)


def test_ready_reports_the_latest_heartbeat(client: TestClient, owner_db: Db) -> None:
    # A worker's heartbeat is its row in procrastinate's table; one that beat a moment ago is alive.
    row = owner_db.execute("INSERT INTO procrastinate_workers DEFAULT VALUES RETURNING id, last_heartbeat").fetchone()
    assert row is not None
    try:
        worker = client.get("/health/ready").json()["worker"]
        assert worker["status"] == "ok"
        assert worker["alive"] >= 1
        assert dt.datetime.fromisoformat(worker["last_heartbeat_at"]) >= row[1]
        assert 0 <= worker["seconds_since_heartbeat"] < 3600
        assert gauges(client)["rekisteri_workers_alive"] >= 1
    finally:
        owner_db.execute("DELETE FROM procrastinate_workers WHERE id = %s", (row[0],))


def test_metrics_tell_the_age_of_the_oldest_pending_delivery(client: TestClient, tenant: Tenant, owner_db: Db) -> None:
    # A delivery that has waited an hour (its subscriber down, or no worker running), written as the owner.
    delivery = uuid.uuid4()
    owner_db.execute(
        "INSERT INTO webhook_delivery (controller_id, id, webhook_id, event_id, status, attempts, created_at) "
        "VALUES (%s, %s, %s, %s, 'pending', '[]', now() - interval '1 hour')",
        (tenant.id, delivery, uuid.uuid4(), uuid.uuid4()),
    )
    try:
        figures = gauges(client)
        assert figures["rekisteri_webhook_oldest_pending_delivery_seconds"] >= 3600
        assert figures["rekisteri_webhook_deliveries_pending"] >= 1
    finally:
        owner_db.execute("DELETE FROM webhook_delivery WHERE id = %s", (delivery,))
