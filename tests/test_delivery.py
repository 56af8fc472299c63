"""Webhook delivery under pressure: one controller's hanging receivers hold up no other controller's webhooks, a
subscriber gets a bounded number of deliveries at once, and every attempt ends by its deadline."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.config import get_settings
from app.services import delivery, receivers
from tests.conftest import Tenant, make_tenant, new_customer
from tests.endpoints import Hanging
from tests.test_cli import ROOT
from tests.test_webhooks import Receiver, add_recipient, prohibit, subscribe
from tests.waiting import wait_for

Db = psycopg.Connection[tuple[Any, ...]]


def worker_process(database_url: str, **env: str) -> subprocess.Popen[bytes]:
    """`rekisteri worker` as its own process, as production runs it."""
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker"],
        cwd=ROOT,
        env={**os.environ, "REKISTERI_DATABASE_URL": database_url, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(process: subprocess.Popen[Any]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- fairness -------------------------------------------------------------------------------------------------


@pytest.mark.slow  # a worker process
def test_one_controllers_hanging_receivers_hold_up_no_other_controllers_webhooks(
    client: TestClient, app: FastAPI, receiver: Receiver, hanging: Hanging, database_url: str
) -> None:
    """Controller B subscribes 16 receivers that accept and never answer, and changes a customer; while B's
    deliveries hang, controller A's change reaches A's receiver at once, not after B's timeouts."""
    a, b = make_tenant(client, app), make_tenant(client, app)
    subscribe(client, a, receiver.url)
    recipient = add_recipient(client, b, "Hidas Kauppa")
    for i in range(16):
        subscribe(client, b, hanging.url(f"/hook/{i}"), recipient=recipient)
    prohibit(client, b, new_customer(client, b)["id"])
    worker = worker_process(database_url)
    try:
        # Before the fix the worker's four slots all hung here, for 10 s each.
        wait_for(lambda: hanging.open >= 4, timeout=30, message="the worker never reached B's receivers")
        person = new_customer(client, a)
        changed = time.monotonic()
        prohibit(client, a, person["id"])
        wait_for(lambda: receiver.received, timeout=5, message="A's webhook waited behind B's hanging receivers")
        print(f"A's webhook arrived {time.monotonic() - changed:.2f} s after its change, B's {hanging.open} hanging")
        assert hanging.most <= get_settings().webhook_controller_concurrency
    finally:
        hanging.close()
        stop(worker)


@pytest.mark.slow  # a worker process
def test_a_subscriber_gets_at_most_its_share_of_deliveries_at_once(
    client: TestClient, tenant: Tenant, hanging: Hanging, database_url: str, owner_db: Db
) -> None:
    """Six people's events for one receiver that never answers: two are sent, two wait their turn in the
    worker, the others step aside for later; the receiver never has more than two at once."""
    subscribe(client, tenant, hanging.url())
    for _ in range(6):
        prohibit(client, tenant, new_customer(client, tenant)["id"])
    share = get_settings().webhook_subscriber_concurrency
    stepped_aside = (
        "SELECT count(*) FROM procrastinate_jobs WHERE args->>'controller_id' = %s AND status = 'todo' AND attempts > 0"
    )

    def every_job_taken() -> bool:
        row = owner_db.execute(stepped_aside, (str(tenant.id),)).fetchone()
        return row is not None and row[0] >= 6 - 2 * share

    worker = worker_process(database_url)
    try:
        wait_for(lambda: hanging.open >= share, timeout=30, message="the worker never reached the receiver")
        wait_for(every_job_taken, timeout=30, message="the jobs over the share did not step aside")
        assert hanging.most == share
        # Stepping aside is no attempt: nothing was sent, the delivery says so.
        attempts = owner_db.execute(
            "SELECT sum(jsonb_array_length(attempts)) FROM webhook_delivery WHERE controller_id = %s", (tenant.id,)
        ).fetchone()
        assert attempts == (0,)
    finally:
        hanging.close()
        stop(worker)


def test_a_job_over_its_share_steps_aside_and_comes_back_soon() -> None:
    shares = delivery.Shares(per_controller=2, per_subscriber=1)
    controller = uuid.uuid4()
    with shares.controller(controller), shares.controller(controller):
        with pytest.raises(delivery.StepAside), shares.controller(controller):
            pass
        with shares.controller(uuid.uuid4()):  # another controller is not held up
            pass
    with shares.controller(controller):  # the slots came back
        pass
    waits = [delivery.retry_in(delivery.StepAside(), runs) for runs in range(8)]
    assert waits == [1, 2, 4, 8, 16, 30, 30, 30]
    # A failed attempt keeps its own backoff, counted by the delivery's attempts, not by the job's runs.
    assert delivery.retry_in(delivery.DeliveryFailed(1, "503"), runs=5) == 4
    assert delivery.retry_in(delivery.DeliveryFailed(8, "503"), runs=0) == 4**8


# --- timeouts ---------------------------------------------------------------------------------------------------


class Trickling:
    """A receiver that answers its status line, then a byte of a header every 0.2 s, forever."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/hook"
        self._stopped = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        connection, _ = self.listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\nX-Slowly: ")
            while not self._stopped.wait(0.2):
                try:
                    connection.sendall(b"a")
                except OSError:
                    return

    def close(self) -> None:
        self._stopped.set()
        self.listener.close()


def outgoing_to(url: str) -> delivery.Outgoing:
    return delivery.Outgoing(
        controller_id=uuid.uuid4(),
        delivery_id=uuid.uuid4(),
        webhook_id=uuid.uuid4(),
        event_id=uuid.uuid4(),
        url=url,
        body=b'{"type": "marketing.changed"}',
        secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    )


def anywhere(resolve: receivers.Resolver | None = None, **extra: Any) -> receivers.ReceiverTransport:
    """A transport that lets every address through (the tests' receivers are on loopback)."""
    return receivers.ReceiverTransport(
        permits=lambda _: True, plain_http=True, resolve=resolve or receivers.SystemResolver(threads=2), **extra
    )


def send(url: str, *, timeout: httpx.Timeout, deadline: float) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        async with httpx.AsyncClient(transport=anywhere(), timeout=timeout) as client:
            # The outer limit only keeps a broken deadline from hanging the test run.
            return await asyncio.wait_for(delivery.send(client, outgoing_to(url), deadline=deadline), 30)

    return asyncio.run(go())


def test_a_receiver_that_never_answers_is_given_up_on_after_the_read_timeout(hanging: Hanging) -> None:
    attempt = send(hanging.url(), timeout=httpx.Timeout(0.5), deadline=10)
    assert (attempt["status_code"], attempt["error"]) == (None, "ReadTimeout")


def test_a_receiver_that_trickles_is_given_up_on_at_the_deadline() -> None:
    """Each byte comes well within the read timeout, so only the deadline on the whole exchange ends it."""
    trickling = Trickling()
    try:
        attempt = send(trickling.url, timeout=httpx.Timeout(1.0), deadline=1.5)
    finally:
        trickling.close()
    assert (attempt["status_code"], attempt["error"]) == (None, "TimeoutError")


def test_the_deadline_is_longer_than_a_connect_and_a_read_and_bounds_them() -> None:
    assert delivery.TIMEOUT.connect is not None
    assert delivery.TIMEOUT.read is not None
    assert delivery.TIMEOUT.connect < delivery.DEADLINE
    assert delivery.TIMEOUT.read < delivery.DEADLINE
