"""Webhooks: subscriptions, signed delivery by the worker to a real receiver, retries, exactly once."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app import worker
from app.actor import Actor
from app.json import loads
from app.models.api_keys import Role
from app.models.marketing import MarketingUpdate
from app.services import marketing
from tests.conftest import Tenant, new_customer
from tests.endpoints import Receiver
from tests.waiting import wait_for


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Check a Standard Webhooks signature as a receiver would."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(f"v1,{expected}", part) for part in headers["webhook-signature"].split())


def work_the_queue(client: TestClient, database_url: str) -> None:
    assert client.portal is not None
    client.portal.call(lambda: worker.run(database_url, wait=False))


def work_the_queue_until(
    client: TestClient, database_url: str, condition: Callable[[], object], *, message: str, timeout: float = 20
) -> None:
    """Work the queue until `condition` holds: for a retry, which is due only after its backoff (4 s the first)."""

    def worked() -> object:
        work_the_queue(client, database_url)
        return condition()

    wait_for(worked, timeout=timeout, message=message, interval=0.2)


def add_recipient(client: TestClient, tenant: Tenant, name: str, **fields: object) -> str:
    """Name a recipient in the controller's register (GDPR Art. 30(1)(d)), as an admin does before subscribing
    it; its id is its name in lower case, hyphenated. Returns the id."""
    rid = "-".join("".join(c if c.isalnum() else " " for c in name.lower()).split())
    response = client.get("/v1/controller", headers=tenant.headers())
    assert response.status_code == 200, response.text
    profile = response.json()["profile"]
    entry = {
        "id": rid,
        "name": name,
        "category": "processor",
        "data": [
            {"fi": "Asiakkaan tunnisteet ja markkinointiluvat", "en": "Customer identifiers and marketing choices"}
        ],
        "purpose": {"fi": "Asiakassuhteen hoitaminen", "en": "Serving the customer relationship"},
        "country": "FI",
        **fields,
    }
    profile["recipients"] = [r for r in profile.get("recipients") or [] if r["id"] != rid] + [entry]
    response = client.put("/v1/controller", json=profile, headers=tenant.headers())
    assert response.status_code == 200, response.text
    return rid


def subscribe(client: TestClient, tenant: Tenant, url: str, **extra: Any) -> dict[str, Any]:
    """Subscribe `url`; its recipient (named after the description, else the URL's host) is added to the
    register first unless `recipient` names one."""
    if "recipient" not in extra:
        extra["recipient"] = add_recipient(client, tenant, extra.get("description") or urlsplit(url).hostname or url)
    response = client.post("/v1/webhooks", json={"url": url, **extra}, headers=tenant.headers())
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def read_pages(client: TestClient, tenant: Tenant, url: str, *, limit: int) -> list[str]:
    """The ids of every item, following the `next` links from the first page."""
    ids: list[str] = []
    next_url: str | None = f"{url}?limit={limit}"
    while next_url:
        page = client.get(next_url, headers=tenant.headers())
        assert page.status_code == 200, page.text
        ids += [item["id"] for item in page.json()["items"]]
        next_url = page.json()["next"]
    return ids


def prohibit(client: TestClient, tenant: Tenant, customer_id: object, channel: str = "direct_mail") -> None:
    response = client.put(
        f"/v1/customers/{customer_id}/marketing",
        json={"channels": {channel: {"prohibited": True}}},
        headers=tenant.headers(Role.integration),
    )
    assert response.status_code == 200, response.text


def test_signature_matches_the_standard_webhooks_test_vector() -> None:
    from app.services.webhooks import sign

    body = b'{"test": 2432232314}'
    signature = sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


class TestSubscriptions:
    def test_admins_only_and_secret_once(self, client: TestClient, tenant: Tenant) -> None:
        body = {"url": "https://shop.example.fi/hooks"}
        assert client.post("/v1/webhooks", json=body, headers=tenant.headers(Role.integration)).status_code == 403
        created = subscribe(client, tenant, body["url"])
        assert created["secret"].startswith("whsec_")
        listed = client.get("/v1/webhooks", headers=tenant.headers()).text
        assert created["id"] in listed
        assert created["secret"] not in listed

    def test_bad_urls(self, client: TestClient, tenant: Tenant) -> None:
        recipient = add_recipient(client, tenant, "Verkkokauppa")
        for url in ("not a url", "ftp://example.fi/x"):
            body = {"url": url, "recipient": recipient}
            assert client.post("/v1/webhooks", json=body, headers=tenant.headers()).status_code == 422

    def test_unsubscribe(self, client: TestClient, tenant: Tenant, other_tenant: Tenant) -> None:
        created = subscribe(client, tenant, "https://shop.example.fi/hooks")
        assert client.delete(f"/v1/webhooks/{created['id']}", headers=other_tenant.headers()).status_code == 404
        assert client.delete(f"/v1/webhooks/{created['id']}", headers=tenant.headers()).status_code == 204
        assert client.get("/v1/webhooks", headers=tenant.headers()).json()["items"] == []
        # The delivery history stays readable.
        history = client.get(f"/v1/webhooks/{created['id']}/deliveries", headers=tenant.headers())
        assert history.status_code == 200


class TestDelivery:
    def test_signed_delivery_after_commit(
        self, client: TestClient, tenant: Tenant, receiver: Receiver, database_url: str, owner_db: Any
    ) -> None:
        hook = subscribe(client, tenant, receiver.url)
        customer = new_customer(client, tenant, external_id="shop-77")
        prohibit(client, tenant, customer["id"])
        assert receiver.received == []  # nothing is sent from inside the request
        job = owner_db.execute(
            "SELECT queue_name, task_name, lock, status::text FROM procrastinate_jobs "
            "WHERE args->>'controller_id' = %s",
            (str(tenant.id),),
        ).fetchall()
        assert job == [("webhooks", "deliver", f"webhook:{hook['id']}:{customer['id']}", "todo")]
        work_the_queue(client, database_url)
        assert len(receiver.received) == 1
        headers, body = receiver.received[0]
        assert verify(hook["secret"], headers, body)
        assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
        event = loads(body)
        assert event["type"] == "marketing.changed"
        assert event["data"]["customer_id"] == customer["id"]
        assert event["data"]["external_id"] == "shop-77"
        assert event["data"]["decisions"]["direct_mail"] == {"allowed": False, "reason": "prohibited"}
        deliveries = client.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=tenant.headers()).json()["items"]
        assert [(d["status"], len(d["attempts"])) for d in deliveries] == [("delivered", 1)]
        assert deliveries[0]["attempts"][0]["status_code"] == 204
        # A tampered body fails the check a receiver makes.
        assert not verify(hook["secret"], headers, body.replace(b"prohibited", b"consent"))

    def test_no_change_no_event(
        self, client: TestClient, tenant: Tenant, receiver: Receiver, database_url: str
    ) -> None:
        hook = subscribe(client, tenant, receiver.url)
        customer = new_customer(client, tenant)
        prohibit(client, tenant, customer["id"])
        prohibit(client, tenant, customer["id"])  # already so: nothing recorded, nothing sent
        work_the_queue(client, database_url)
        work_the_queue(client, database_url)
        assert len(receiver.received) == 1
        deliveries = client.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=tenant.headers()).json()["items"]
        assert len(deliveries) == 1

    @pytest.mark.slow  # waits out the first retry's backoff
    def test_retried_with_backoff_until_taken(
        self, client: TestClient, tenant: Tenant, receiver: Receiver, database_url: str
    ) -> None:
        hook = subscribe(client, tenant, receiver.url)
        receiver.statuses = [503]
        prohibit(client, tenant, new_customer(client, tenant)["id"])
        work_the_queue(client, database_url)
        deliveries = client.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=tenant.headers()).json()["items"]
        assert [(d["status"], [a["status_code"] for a in d["attempts"]]) for d in deliveries] == [("pending", [503])]
        work_the_queue_until(client, database_url, lambda: len(receiver.received) >= 2, message="no retry came")
        deliveries = client.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=tenant.headers()).json()["items"]
        assert [(d["status"], [a["status_code"] for a in d["attempts"]]) for d in deliveries] == [
            ("delivered", [503, 204])
        ]
        first, retry = (dt.datetime.fromisoformat(a["at"]) for a in deliveries[0]["attempts"])
        assert (retry - first).total_seconds() > 3.5  # the first retry waits 4 s
        ids = {headers["webhook-id"] for headers, _ in receiver.received}
        assert len(ids) == 1  # the same id on the retry, so the receiver can deduplicate

    def test_other_controllers_subscribers_get_nothing(
        self, client: TestClient, tenant: Tenant, other_tenant: Tenant, receiver: Receiver, database_url: str
    ) -> None:
        subscribe(client, other_tenant, receiver.url)
        prohibit(client, tenant, new_customer(client, tenant)["id"])
        work_the_queue(client, database_url)
        assert receiver.received == []

    def test_a_rolled_back_change_sends_nothing(
        self, client: TestClient, app: FastAPI, tenant: Tenant, receiver: Receiver, database_url: str, owner_db: Any
    ) -> None:
        hook = subscribe(client, tenant, receiver.url)
        customer = new_customer(client, tenant)
        jobs = "SELECT count(*) FROM procrastinate_jobs WHERE args->>'controller_id' = %s"
        before = owner_db.execute(jobs, (str(tenant.id),)).fetchone()
        actor = Actor(controller_id=tenant.id, key_id=None, name="test", role="admin")

        async def change_then_fail() -> None:
            async with app.state.owner_sessionmaker() as session, session.begin():
                session.info["actor"] = actor
                await marketing.update(
                    session=session,
                    actor=actor,
                    customer_id=uuid.UUID(str(customer["id"])),
                    data=MarketingUpdate.model_validate({"channels": {"direct_mail": {"prohibited": True}}}),
                )
                raise RuntimeError("the request failed after the change was made")

        assert client.portal is not None
        with pytest.raises(RuntimeError, match="failed after"):
            client.portal.call(change_then_fail)
        assert owner_db.execute(jobs, (str(tenant.id),)).fetchone() == before  # the job went with the change
        work_the_queue(client, database_url)
        assert receiver.received == []
        assert client.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=tenant.headers()).json()["items"] == []

    @pytest.mark.slow  # waits out the first retry's backoff
    def test_a_persons_events_arrive_in_order(
        self, client: TestClient, tenant: Tenant, receiver: Receiver, database_url: str
    ) -> None:
        subscribe(client, tenant, receiver.url)
        customer = new_customer(client, tenant)["id"]
        receiver.statuses = [503]
        url = f"/v1/customers/{customer}/marketing"
        consent = {"channels": {"electronic": {"consent": True}}, "wording": "Kyllä."}
        assert client.put(url, json=consent, headers=tenant.headers()).status_code == 200
        withdraw = {"channels": {"electronic": {"consent": False}}}
        assert client.put(url, json=withdraw, headers=tenant.headers()).status_code == 200
        work_the_queue(client, database_url)
        assert len(receiver.received) == 1  # the consent was refused; the withdrawal waits behind its retry
        work_the_queue_until(
            client, database_url, lambda: len(receiver.received) >= 3, message="the retry and the withdrawal never came"
        )
        allowed = [loads(body)["data"]["decisions"]["electronic"]["allowed"] for _, body in receiver.received]
        assert allowed == [True, True, False]

    def test_deliveries_are_listed_newest_first_page_after_page(self, client: TestClient, tenant: Tenant) -> None:
        hook = subscribe(client, tenant, "https://shop.example.fi/hooks")
        url = f"/v1/webhooks/{hook['id']}/deliveries"
        customer = new_customer(client, tenant)["id"]
        made: list[str] = []
        for channel in ("direct_mail", "telemarketing", "electronic", "market_research", "list_publication"):
            prohibit(client, tenant, customer, channel)
            listed = {d["id"] for d in client.get(url, headers=tenant.headers()).json()["items"]}
            made += listed - set(made)  # the one this change made
        assert len(made) == 5
        assert read_pages(client, tenant, url, limit=2) == made[::-1]

    def test_deliveries_made_at_the_same_moment_page_in_a_stable_order(
        self, client: TestClient, tenant: Tenant, owner_db: Any
    ) -> None:
        hook = subscribe(client, tenant, "https://shop.example.fi/hooks")
        url = f"/v1/webhooks/{hook['id']}/deliveries"
        customer = new_customer(client, tenant)["id"]
        for channel in ("direct_mail", "telemarketing", "electronic", "market_research"):
            prohibit(client, tenant, customer, channel)
        owner_db.execute(
            "UPDATE webhook_delivery SET created_at = '2026-12-01T10:00:00Z' WHERE controller_id = %s", (tenant.id,)
        )
        every = [d["id"] for d in client.get(url, headers=tenant.headers()).json()["items"]]
        assert every == sorted(every, reverse=True)  # the same time: by id, each once
        assert read_pages(client, tenant, url, limit=1) == every

    def test_a_cursor_not_issued_is_refused(self, client: TestClient, tenant: Tenant) -> None:
        hook = subscribe(client, tenant, "https://shop.example.fi/hooks")
        url = f"/v1/webhooks/{hook['id']}/deliveries"
        response = client.get(url, params={"cursor": str(uuid.uuid4())}, headers=tenant.headers())
        assert response.status_code == 400
        assert response.headers["content-type"].startswith("application/problem+json")

    def test_unknown_webhook_deliveries(self, client: TestClient, tenant: Tenant) -> None:
        response = client.get(f"/v1/webhooks/{uuid.uuid4()}/deliveries", headers=tenant.headers())
        assert response.status_code == 404


@pytest.mark.slow
def test_the_worker_command_delivers_and_stops_cleanly(
    client: TestClient, tenant: Tenant, receiver: Receiver, database_url: str
) -> None:
    """`rekisteri worker` as its own process: picks up the job, delivers, and exits on SIGTERM."""
    import os
    import signal
    import subprocess
    import sys

    subscribe(client, tenant, receiver.url)
    prohibit(client, tenant, new_customer(client, tenant)["id"])
    env = {**os.environ, "REKISTERI_DATABASE_URL": database_url}
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:

        def delivered() -> bool:
            assert process.poll() is None, "the worker exited"
            return bool(receiver.received)

        wait_for(delivered, timeout=30, message="the worker delivered nothing", interval=0.2)
        assert len(receiver.received) == 1
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0


def test_private_receivers_only_in_development() -> None:
    from app.config import Settings

    key = base64.urlsafe_b64encode(b"k" * 32).decode()
    assert Settings(environment="development").webhook_private_addresses is True
    assert Settings(environment="production", master_key=key).webhook_private_addresses is False


def test_production_rules_unless_development_is_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """A deployment that sets only its database and master key gets production rules: webhooks to public https
    receivers only. `make run` and the tests ask for development."""
    from app.config import Settings

    monkeypatch.delenv("REKISTERI_ENVIRONMENT", raising=False)
    settings = Settings(master_key=base64.urlsafe_b64encode(b"k" * 32).decode())
    assert settings.environment == "production"
    assert settings.webhook_private_addresses is False
    with pytest.raises(ValueError, match="REKISTERI_MASTER_KEY must be set"):
        Settings(master_key=None)


# --- the subscriber is a recipient of the register (GDPR Art. 30(1)(d), 15(1)(c)) --------------------------------


class TestRecipient:
    def test_a_new_subscription_names_its_recipient(self, client: TestClient, tenant: Tenant) -> None:
        """Each delivery about a person is a disclosure to a recipient: which one must be known (Art. 30(1)(d))."""
        missing = client.post("/v1/webhooks", json={"url": "https://shop.example.fi/h"}, headers=tenant.headers())
        assert missing.status_code == 422
        assert ["body", "recipient"] in [e["loc"] for e in missing.json()["errors"]]

    def test_the_recipient_must_be_in_the_register_in_force(self, client: TestClient, tenant: Tenant) -> None:
        body = {"url": "https://shop.example.fi/h", "recipient": "no-such-recipient"}
        unknown = client.post("/v1/webhooks", json=body, headers=tenant.headers())
        assert unknown.status_code == 422
        assert unknown.headers["content-type"].startswith("application/problem+json")
        assert unknown.json()["errors"][0]["loc"] == ["body", "recipient"]
        assert "no-such-recipient" in unknown.json()["detail"]
        assert client.get("/v1/webhooks", headers=tenant.headers()).json()["items"] == []

    def test_the_subscription_shows_its_recipient(self, client: TestClient, tenant: Tenant) -> None:
        recipient = add_recipient(client, tenant, "Verkkokauppa Oy")
        created = subscribe(client, tenant, "https://shop.example.fi/h", recipient=recipient)
        assert created["recipient"] == "verkkokauppa-oy"
        listed = client.get("/v1/webhooks", headers=tenant.headers()).json()["items"]
        assert [(w["id"], w["recipient"]) for w in listed] == [(created["id"], "verkkokauppa-oy")]

    def test_a_recipient_stays_in_the_register_while_a_live_webhook_names_it(
        self, client: TestClient, tenant: Tenant
    ) -> None:
        created = subscribe(client, tenant, "https://shop.example.fi/h", description="Verkkokauppa")
        profile = client.get("/v1/controller", headers=tenant.headers()).json()["profile"]
        without = {**profile, "recipients": [r for r in profile["recipients"] if r["id"] != "verkkokauppa"]}
        refused = client.put("/v1/controller", json=without, headers=tenant.headers())
        assert refused.status_code == 409
        assert "verkkokauppa" in refused.json()["detail"]
        assert client.get("/v1/controller", headers=tenant.headers()).json()["profile"] == profile
        # Renamed, it stays the same recipient: only its removal is refused.
        renamed = {**profile, "recipients": [{**r, "name": "Verkkokauppa Oy"} for r in profile["recipients"]]}
        assert client.put("/v1/controller", json=renamed, headers=tenant.headers()).status_code == 200
        assert client.delete(f"/v1/webhooks/{created['id']}", headers=tenant.headers()).status_code == 204
        assert client.put("/v1/controller", json=without, headers=tenant.headers()).status_code == 200
