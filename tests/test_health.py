"""Liveness, readiness and metrics need no key and say what a load balancer and Prometheus need."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import Tenant, new_customer


def test_live_and_ready(client: TestClient) -> None:
    assert client.get("/health/live").json() == {"status": "ok"}
    assert client.get("/health/ready").json() == {"status": "ok"}


def test_metrics_count_requests_by_route_template(client: TestClient, tenant: Tenant) -> None:
    created = new_customer(client, tenant)
    client.get(f"/v1/customers/{created['id']}", headers=tenant.headers())
    text = client.get("/metrics").text
    assert 'rekisteri_http_requests_total{method="GET",route="/v1/customers/{customer_id}",status="200"}' in text
    assert str(created["id"]) not in text  # ids never become labels
