"""Many processes against one PostgreSQL: two API servers and two workers, as a deployment runs them.

Conflicting writes to one customer through both servers lose nothing (with If-Match exactly one wins, without it
every write lands, in one order the audit log tells), the audit chain still verifies, and two workers deliver
each webhook event to each subscriber exactly once.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from app.models.api_keys import Role
from tests.conftest import Tenant, new_customer
from tests.ports import free_port
from tests.test_cli import ROOT
from tests.test_faults import waiting_with_writes
from tests.test_limits import wait_ready
from tests.test_webhooks import Receiver, subscribe
from tests.waiting import wait_for

pytestmark = pytest.mark.slow  # API server and worker processes


def spawn(database_url: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", *args],
        cwd=ROOT,
        env={**os.environ, "REKISTERI_DATABASE_URL": database_url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def stop(*processes: subprocess.Popen[str]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def servers(database_url: str) -> Iterator[list[str]]:
    """Two API processes on the test database."""
    ports = [free_port(), free_port()]
    processes = [spawn(database_url, "serve", "--port", str(port)) for port in ports]
    try:
        for port in ports:
            wait_ready(port)
        yield [f"http://127.0.0.1:{port}" for port in ports]
    finally:
        stop(*processes)


def city_changes(client: TestClient, tenant: Tenant, customer_id: str) -> list[tuple[str, str]]:
    """The customer's city changes in the audit log, in the order of the chain: (old, new)."""
    events = client.get(
        "/v1/audit", params={"entity_id": customer_id, "limit": 500}, headers=tenant.headers(Role.auditor)
    ).json()["items"]
    return [
        (e["changes"]["city"]["old"], e["changes"]["city"]["new"])
        for e in events
        if e["action"] == "update" and "city" in e["fields"]
    ]


def queued_deliveries(db: psycopg.Connection[tuple[Any, ...]], tenant: Tenant) -> int:
    """The tenant's webhook delivery jobs not yet done: waiting, running, or waiting for a retry."""
    row = db.execute(
        "SELECT count(*) FROM procrastinate_jobs WHERE queue_name = 'webhooks' AND status IN ('todo', 'doing') "
        "AND args->>'controller_id' = %s",
        (str(tenant.id),),
    ).fetchone()
    return int(row[0]) if row else 0


def test_with_if_match_exactly_one_of_the_conflicting_writes_wins(
    servers: list[str], client: TestClient, tenant: Tenant
) -> None:
    person = new_customer(client, tenant, city="Alku")

    def write(i: int) -> int:
        base = servers[i % 2]
        response = httpx.patch(
            f"{base}/v1/customers/{person['id']}",
            json={"city": f"Kaupunki {i}"},
            headers=tenant.headers(**{"If-Match": '"v1"'}),
            timeout=30,
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        codes = Counter(pool.map(write, range(40)))
    assert codes == {200: 1, 412: 39}
    after = client.get(f"/v1/customers/{person['id']}", headers=tenant.headers()).json()
    assert after["version"] == 2
    changes = city_changes(client, tenant, person["id"])
    assert len(changes) == 1
    assert changes[0] == ("Alku", after["city"])
    assert client.get("/v1/audit/verify", headers=tenant.headers(Role.auditor)).json()["ok"] is True


def test_without_if_match_every_write_lands_in_one_order(
    servers: list[str], client: TestClient, tenant: Tenant
) -> None:
    person = new_customer(client, tenant, city="Alku")

    def write(i: int) -> int:
        response = httpx.patch(
            f"{servers[i % 2]}/v1/customers/{person['id']}",
            json={"city": f"Kaupunki {i}"},
            headers=tenant.headers(),
            timeout=30,
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        codes = Counter(pool.map(write, range(40)))
    assert codes == {200: 40}
    after = client.get(f"/v1/customers/{person['id']}", headers=tenant.headers()).json()
    assert after["version"] == 41  # forty changes, none lost
    changes = city_changes(client, tenant, person["id"])
    assert len(changes) == 40
    # Each change starts from the one before it: no write was made on a stale copy.
    assert changes[0][0] == "Alku"
    assert all(changes[i][0] == changes[i - 1][1] for i in range(1, 40))
    assert changes[-1][1] == after["city"]
    assert {new for _, new in changes} == {f"Kaupunki {i}" for i in range(40)}
    assert client.get("/v1/audit/verify", headers=tenant.headers(Role.auditor)).json()["ok"] is True


def test_concurrent_imports_of_the_same_new_external_ids_all_succeed(
    servers: list[str], client: TestClient, tenant: Tenant
) -> None:
    # Found by the soak: two imports (or an import and a PUT) of one new external id both inserted, and one
    # of them failed on the unique index with a 409. They now wait for each other and the second updates.
    ids = [f"kilpa-{n}" for n in range(30)]

    def write(i: int) -> int:
        base = servers[i % 2]
        if i % 3 == 0:
            external_id = ids[i % len(ids)]
            response = httpx.put(
                f"{base}/v1/customers/by-external-id/{external_id}",
                json={"last_name": f"Kilpa {i}"},
                headers=tenant.headers(),
                timeout=60,
            )
        else:
            chosen = [ids[(i * 7 + k) % len(ids)] for k in range(12)]  # overlapping, in different orders
            body = "".join(f'{{"external_id": "{e}", "last_name": "Kilpa {i}"}}\n' for e in reversed(chosen))
            response = httpx.post(
                f"{base}/v1/customers/import",
                content=body,
                headers=tenant.headers(**{"Content-Type": "application/x-ndjson"}),
                timeout=60,
            )
        return response.status_code

    with ThreadPoolExecutor(max_workers=12) as pool:
        codes = Counter(pool.map(write, range(48)))
    assert set(codes) <= {200, 201}, codes
    for external_id in ids:  # each id once, none lost
        found = client.get("/v1/customers", params={"external_id": external_id}, headers=tenant.headers()).json()
        assert len(found["items"]) == 1
    assert client.get("/v1/audit/verify", headers=tenant.headers(Role.auditor)).json()["ok"] is True


def test_a_long_import_holds_up_no_other_writer(
    servers: list[str], client: TestClient, tenant: Tenant, owner_db: psycopg.Connection[tuple[Any, ...]]
) -> None:
    # While an import of many batches is open, a customer it will reach is edited through the other server.
    # The import once took the audit chain's lock at its first batch and held it to the end: the edit locked
    # the customer and waited for the chain, the import reached the customer and waited for the edit, and
    # PostgreSQL broke the deadlock by failing one of them. Now the import joins the chain at commit.
    tag = uuid.uuid4().hex[:8]
    person = client.put(
        f"/v1/customers/by-external-id/{tag}-later", json={"last_name": "Ennen"}, headers=tenant.headers()
    ).json()
    more = threading.Event()

    def body() -> Iterator[bytes]:
        for i in range(2500):  # two batches of 1,000 applied, then the import waits for the rest
            yield b'{"external_id": "%s-%d", "last_name": "Tuonti"}\n' % (tag.encode(), i)
        more.wait(60)
        yield b'{"external_id": "%s-later", "last_name": "Tuonti", "city": "Oulu"}\n' % tag.encode()

    answers: list[httpx.Response] = []
    importing = threading.Thread(
        target=lambda: answers.append(
            httpx.post(
                f"{servers[0]}/v1/customers/import",
                content=body(),
                headers=tenant.headers(Role.integration, **{"Content-Type": "application/x-ndjson"}),
                timeout=120,
            )
        )
    )
    importing.start()
    try:
        wait_for(lambda: waiting_with_writes(owner_db), timeout=60, message="the import never wrote its batches")
        edited = httpx.patch(
            f"{servers[1]}/v1/customers/{person['id']}", json={"city": "Kemi"}, headers=tenant.headers(), timeout=10
        )
        assert edited.status_code == 200  # at once, while the import is still open
        assert not answers
    finally:
        more.set()
        importing.join(timeout=120)
    assert answers[0].status_code == 200, answers[0].text
    assert answers[0].json()["created"] == 2500
    after = client.get(f"/v1/customers/{person['id']}", headers=tenant.headers()).json()
    assert (after["last_name"], after["city"], after["version"]) == ("Tuonti", "Oulu", 3)
    assert city_changes(client, tenant, person["id"]) == [(None, "Kemi"), ("Kemi", "Oulu")]
    assert client.get("/v1/audit/verify", headers=tenant.headers(Role.auditor)).json()["ok"] is True


def test_two_workers_deliver_each_event_once_to_each_subscriber(
    servers: list[str],
    client: TestClient,
    tenant: Tenant,
    database_url: str,
    owner_db: psycopg.Connection[tuple[Any, ...]],
) -> None:
    receivers = [Receiver(), Receiver()]
    try:
        for receiver in receivers:
            subscribe(client, tenant, receiver.url)
        people = [new_customer(client, tenant) for _ in range(10)]
        for i in range(30):
            person = people[i % 10]
            # Each person's prohibition on, off, on: three changes, three events.
            change = {"channels": {"telemarketing": {"prohibited": (i // 10) % 2 == 0}}, "received_via": "phone"}
            response = httpx.put(
                f"{servers[i % 2]}/v1/customers/{person['id']}/marketing",
                json=change,
                headers=tenant.headers(),
                timeout=30,
            )
            assert response.status_code == 200, response.text
        workers = [spawn(database_url, "worker"), spawn(database_url, "worker")]
        try:
            wait_for(
                lambda: all(len(r.received) >= 30 for r in receivers),
                timeout=60,
                message="the workers did not deliver every event",
                interval=0.2,
            )
            # Every delivery job is done (a done job is deleted): none is left that could send a duplicate.
            wait_for(lambda: not queued_deliveries(owner_db, tenant), timeout=30, message="delivery jobs left over")
        finally:
            stop(*workers)
        for receiver in receivers:
            ids = Counter(headers["webhook-id"] for headers, _ in receiver.received)
            assert len(ids) == 30
            assert set(ids.values()) == {1}, "an event was delivered twice"
    finally:
        for receiver in receivers:
            receiver.server.shutdown()
