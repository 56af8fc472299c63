"""The disclosure log (GDPR Art. 15(1)(c), 19, 30(1)(d); CJEU C-154/21): every time a person's data leaves the
service to a recipient of the register it is logged, in the transaction that sends it; the log is read per
person, tells Art. 19 who must hear of a change, and goes with the person's data."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import psycopg
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.json import dumps, loads
from app.models.api_keys import Role
from app.services import delivery, disclosures
from tests.conftest import Tenant, new_customer
from tests.test_erasure import act, erase, new_request
from tests.test_retention import keep_for_ten_years, sweep, years
from tests.test_webhooks import Receiver, add_recipient, prohibit, subscribe, work_the_queue

Db = psycopg.Connection[tuple[Any, ...]]
NDJSON = "application/x-ndjson"


def partner_key(
    client: TestClient, tenant: Tenant, name: str = "Kumppani Oy", role: str = "integration"
) -> dict[str, str]:
    """The headers of a key that a recipient's own system uses (the recipient added to the register first)."""
    recipient = add_recipient(client, tenant, name)
    body = {"name": f"{name}: järjestelmä", "role": role, "recipient": recipient}
    created = client.post("/v1/api-keys", json=body, headers=tenant.headers())
    assert created.status_code == 201, created.text
    return {"Authorization": f"Bearer {created.json()['key']}"}


def log_of(client: TestClient, tenant: Tenant, customer_id: Any) -> list[dict[str, Any]]:
    """The person's whole disclosure log, newest first, following the pages."""
    entries: list[dict[str, Any]] = []
    url: str | None = f"/v1/customers/{customer_id}/disclosures?limit=200"
    while url:
        page = client.get(url, headers=tenant.headers(Role.auditor))
        assert page.status_code == 200, page.text
        entries += page.json()["items"]
        url = page.json()["next"]
    return entries


def campaign(client: TestClient, headers: dict[str, str], lines: list[dict[str, str]]) -> list[dict[str, Any]]:
    body = b"".join(dumps(line) + b"\n" for line in lines)
    answer = client.post(
        "/v1/marketing/check",
        params={"channel": "direct_mail"},
        content=body,
        headers={**headers, "content-type": NDJSON},
    )
    assert answer.status_code == 200, answer.text
    return [loads(line) for line in answer.text.splitlines()]


def rows_about(owner_db: Db, customer_id: Any) -> int:
    found = owner_db.execute("SELECT count(*) FROM disclosure WHERE customer_id = %s", (customer_id,)).fetchone()
    assert found is not None
    return int(found[0])


# --- webhook deliveries ---------------------------------------------------------------------------------


class TestWebhookDeliveries:
    def test_a_delivery_the_receiver_took_is_logged(
        self, client: TestClient, tenant: Tenant, receiver: Receiver, database_url: str
    ) -> None:
        hook = subscribe(client, tenant, receiver.url, description="Verkkokauppa")
        person = new_customer(client, tenant, external_id=f"shop-{uuid.uuid4().hex[:8]}")
        prohibit(client, tenant, person["id"])
        assert log_of(client, tenant, person["id"]) == []  # nothing left yet: the worker sends after the commit
        work_the_queue(client, database_url)
        sent = client.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=tenant.headers()).json()["items"][0]
        [entry] = log_of(client, tenant, person["id"])
        assert entry["recipient"] == "verkkokauppa"
        assert entry["recipient_name"] == "Verkkokauppa"
        assert entry["categories"] == ["identifiers", "marketing"]
        assert entry["channel"] == "webhook"
        assert entry["reference"] == sent["id"]
        assert entry["disclosed_at"] == sent["delivered_at"]

    def test_a_refused_delivery_is_no_disclosure(
        self, client: TestClient, tenant: Tenant, receiver: Receiver, database_url: str
    ) -> None:
        receiver.statuses = [503]
        subscribe(client, tenant, receiver.url)
        person = new_customer(client, tenant)
        prohibit(client, tenant, person["id"])
        work_the_queue(client, database_url)
        assert len(receiver.received) == 1
        assert log_of(client, tenant, person["id"]) == []

    def test_a_rectification_names_the_fields_it_carried(
        self, client: TestClient, tenant: Tenant, receiver: Receiver, database_url: str
    ) -> None:
        subscribe(client, tenant, receiver.url, events=["customer.rectified"])
        person = new_customer(client, tenant)
        request = new_request(
            client, tenant, "rectification", customer_id=person["id"], rectification={"corrections": {"city": "Oulu"}}
        )
        act(client, tenant, request["id"], "complete")
        work_the_queue(client, database_url)
        assert [e["categories"] for e in log_of(client, tenant, person["id"])] == [["identifiers", "city"]]

    def test_the_delivery_and_its_disclosure_commit_together(
        self, client: TestClient, app: FastAPI, tenant: Tenant, receiver: Receiver, owner_db: Db
    ) -> None:
        """Both or neither: a delivery marked delivered always has its entry, and an entry its delivery."""
        subscribe(client, tenant, receiver.url)
        person = new_customer(client, tenant)
        prohibit(client, tenant, person["id"])
        found = owner_db.execute("SELECT id FROM webhook_delivery WHERE controller_id = %s", (tenant.id,)).fetchone()
        assert found is not None
        delivery_id = found[0]

        def seen() -> tuple[str, int]:
            status = owner_db.execute("SELECT status::text FROM webhook_delivery WHERE id = %s", (delivery_id,))
            logged = owner_db.execute("SELECT count(*) FROM disclosure WHERE reference = %s", (delivery_id,))
            return str(status.fetchone()[0]), int(logged.fetchone()[0])  # type: ignore[index]

        async def deliver(commit: bool) -> tuple[str, int]:
            async with app.state.owner_sessionmaker() as session, session.begin():
                outgoing = await delivery.claim(session=session, controller_id=tenant.id, delivery_id=delivery_id)
            assert outgoing is not None
            async with httpx.AsyncClient() as http:
                attempt = await delivery.send(http, outgoing)
            async with app.state.owner_sessionmaker() as session:
                await session.begin()
                settled = await delivery.record(session=session, outgoing=outgoing, attempt=attempt)
                assert settled is None
                during = seen()  # another connection sees neither until the commit
                await (session.commit() if commit else session.rollback())
                return during

        assert client.portal is not None
        assert client.portal.call(deliver, False) == ("pending", 0)
        assert seen() == ("pending", 0)  # rolled back: neither
        assert client.portal.call(deliver, True) == ("pending", 0)
        assert seen() == ("delivered", 1)  # committed: both
        assert len(receiver.received) == 2

    def test_the_erasure_event_is_not_logged_and_the_earlier_entries_go(
        self, client: TestClient, tenant: Tenant, receiver: Receiver, database_url: str, owner_db: Db
    ) -> None:
        """The erasure event carries only what the recipient holds, so that it can erase it (Art. 17(2), 19):
        logging it would keep a trace of a person whose data is gone."""
        subscribe(client, tenant, receiver.url, description="Verkkokauppa")
        person = new_customer(client, tenant)
        prohibit(client, tenant, person["id"])
        work_the_queue(client, database_url)
        assert rows_about(owner_db, person["id"]) == 1
        done = erase(client, tenant, person["id"])
        assert done["outcome"]["recipients_notified"] == ["Verkkokauppa"]
        work_the_queue(client, database_url)
        assert [loads_type(body) for _, body in receiver.received] == ["marketing.changed", "customer.erased"]
        assert rows_about(owner_db, person["id"]) == 0


def loads_type(body: bytes) -> str:
    return str(loads(body)["type"])


# --- keys tied to a recipient ----------------------------------------------------------------------------


class TestKeysOfRecipients:
    def test_a_campaign_check_logs_each_person_answered_about(
        self, client: TestClient, tenant: Tenant, owner_db: Db
    ) -> None:
        """One entry per person in the register answered about; not for identifiers that match nobody, nor for
        an erased person, whose data is gone."""
        partner = partner_key(client, tenant)
        first, second, gone = (new_customer(client, tenant, external_id=uuid.uuid4().hex) for _ in range(3))
        erase(client, tenant, gone["id"])
        answers = campaign(
            client,
            partner,
            [
                {"email": first["email"]},
                {"external_id": first["external_id"]},  # the same person twice: one entry
                {"customer_id": second["id"]},
                {"customer_id": gone["id"]},
                {"customer_id": str(uuid.uuid4())},  # nobody
                {"email": "nobody@example.fi"},
                {"nonsense": "x"},
            ],
        )
        assert len(answers) == 7
        for person in (first, second):
            [entry] = log_of(client, tenant, person["id"])
            assert (entry["recipient"], entry["channel"]) == ("kumppani-oy", "campaign")
            assert entry["categories"] == ["identifiers", "marketing"]
        assert rows_about(owner_db, gone["id"]) == 0
        total = owner_db.execute("SELECT count(*) FROM disclosure WHERE controller_id = %s", (tenant.id,)).fetchone()
        assert total == (2,)

    def test_the_controllers_own_keys_disclose_to_no_recipient(self, client: TestClient, tenant: Tenant) -> None:
        person = new_customer(client, tenant)
        campaign(client, tenant.headers(Role.integration), [{"customer_id": person["id"]}])
        client.get(f"/v1/customers/{person['id']}/marketing/electronic", headers=tenant.headers(Role.integration))
        client.get(f"/v1/customers/{person['id']}/export", headers=tenant.headers(Role.agent))
        assert log_of(client, tenant, person["id"]) == []

    def test_an_export_downloaded_by_a_recipients_key_is_logged(self, client: TestClient, tenant: Tenant) -> None:
        """An outsourced customer service (a processor) downloads what it hands to the person: a disclosure to it."""
        service = partner_key(client, tenant, "Asiakaspalvelu Oy", role="agent")
        person = new_customer(client, tenant)
        assert client.get(f"/v1/customers/{person['id']}/export", headers=service).status_code == 200
        portable = client.get(f"/v1/customers/{person['id']}/export?kind=portability", headers=service)
        assert portable.status_code == 200
        request = new_request(client, tenant, "access", customer_id=person["id"])
        act(client, tenant, request["id"], "complete")
        assert client.get(f"/v1/requests/{request['id']}/export", headers=service).status_code == 200
        entries = log_of(client, tenant, person["id"])
        assert [(e["channel"], e["reference"]) for e in entries] == [
            ("export", request["id"]),
            ("export", None),
            ("export", None),
        ]
        assert entries[0]["categories"] == list(disclosures.EXPORT_CATEGORIES["access"])
        assert entries[1]["categories"] == list(disclosures.EXPORT_CATEGORIES["portability"])


# --- Art. 19: who received the data hears of a change ------------------------------------------------------------


def test_a_recipient_that_received_the_data_by_its_key_hears_of_the_rectification(
    client: TestClient, tenant: Tenant, receiver: Receiver, database_url: str
) -> None:
    """GDPR Art. 19: every recipient to whom the data was disclosed is told, however it received them; its
    subscription to marketing events only does not change that."""
    partner = partner_key(client, tenant, "Kumppani Oy")
    subscribe(client, tenant, receiver.url, recipient="kumppani-oy", events=["marketing.changed"])
    stranger = subscribe(client, tenant, "https://stranger.example.fi/h", events=["marketing.changed"])
    person = new_customer(client, tenant)
    campaign(client, partner, [{"customer_id": person["id"]}])
    request = new_request(
        client, tenant, "rectification", customer_id=person["id"], rectification={"corrections": {"city": "Kemi"}}
    )
    done = act(client, tenant, request["id"], "complete")
    assert done["outcome"]["recipients_notified"] == ["Kumppani Oy"]
    work_the_queue(client, database_url)
    assert [loads_type(body) for _, body in receiver.received] == ["customer.rectified"]
    none = client.get(f"/v1/webhooks/{stranger['id']}/deliveries", headers=tenant.headers()).json()["items"]
    assert none == []


# --- erasure and retention take the entries ------------------------------------------------------------------


class TestErasure:
    def test_erasure_leaves_no_disclosure_entry_but_the_answer_names_who_had_the_data(
        self, client: TestClient, tenant: Tenant, receiver: Receiver, database_url: str, owner_db: Db
    ) -> None:
        """Entries are kept as long as the person's data (Art. 5(1)(e)): erased with it. The erasure's outcome
        keeps who received the data, as the record that Art. 19 was done and for the letter (Art. 19, 2nd
        sentence)."""
        subscribe(client, tenant, receiver.url, description="Verkkokauppa")
        partner = partner_key(client, tenant, "Kumppani Oy")
        person = new_customer(client, tenant)
        prohibit(client, tenant, person["id"])
        work_the_queue(client, database_url)
        campaign(client, partner, [{"customer_id": person["id"]}])
        assert rows_about(owner_db, person["id"]) == 2
        done = erase(client, tenant, person["id"])
        assert rows_about(owner_db, person["id"]) == 0
        assert log_of(client, tenant, person["id"]) == []
        told = done["outcome"]["disclosed_to"]
        assert sorted(d["name"] for d in told) == ["Kumppani Oy", "Verkkokauppa"]
        assert all(d["first_date"] and d["last_date"] for d in told)
        assert {"category": "disclosure_log", "count": 2} in done["outcome"]["erased"]
        letter = client.get(f"/v1/requests/{done['id']}/letter?lang=en", headers=tenant.headers()).text
        assert "Kumppani Oy (Processor" in letter
        assert "- the record of the disclosures of your data to recipients (2)" in letter
        assert "not been disclosed to any recipients" not in letter

    def test_the_retention_sweep_takes_the_entries_too(
        self, client: TestClient, app: FastAPI, tenant: Tenant, owner_db: Db
    ) -> None:
        """Retention anonymises through the erasure's path: the log goes with what expired."""
        keep_for_ten_years(client, tenant)
        partner = partner_key(client, tenant)
        person = new_customer(client, tenant, relationship_end_date=years(-11).isoformat())
        campaign(client, partner, [{"customer_id": person["id"]}])
        assert rows_about(owner_db, person["id"]) == 1
        report = sweep(app, client, tenant, years(0))
        assert report.anonymised == 1
        assert rows_about(owner_db, person["id"]) == 0

    def test_deleting_a_customer_takes_the_entries(self, client: TestClient, tenant: Tenant, owner_db: Db) -> None:
        partner = partner_key(client, tenant)
        person = new_customer(client, tenant)
        campaign(client, partner, [{"customer_id": person["id"]}])
        assert client.delete(f"/v1/customers/{person['id']}", headers=tenant.headers()).status_code == 204
        assert rows_about(owner_db, person["id"]) == 0


# --- GET /v1/customers/{id}/disclosures ----------------------------------------------------------------------


class TestListDisclosures:
    def test_needs_a_key(self, client: TestClient, tenant: Tenant) -> None:
        person = new_customer(client, tenant)
        assert client.get(f"/v1/customers/{person['id']}/disclosures").status_code == 401

    def test_integrations_may_not_read_it(self, client: TestClient, tenant: Tenant) -> None:
        person = new_customer(client, tenant)
        answer = client.get(f"/v1/customers/{person['id']}/disclosures", headers=tenant.headers(Role.integration))
        assert answer.status_code == 403

    def test_another_controllers_customer_is_404(
        self, client: TestClient, tenant: Tenant, other_tenant: Tenant
    ) -> None:
        person = new_customer(client, tenant)
        campaign(client, partner_key(client, tenant), [{"customer_id": person["id"]}])
        answer = client.get(f"/v1/customers/{person['id']}/disclosures", headers=other_tenant.headers())
        assert answer.status_code == 404
        assert answer.headers["content-type"].startswith("application/problem+json")
        unknown = client.get(f"/v1/customers/{uuid.uuid4()}/disclosures", headers=tenant.headers())
        assert unknown.status_code == 404

    def test_newest_first_in_pages(self, client: TestClient, tenant: Tenant) -> None:
        partner = partner_key(client, tenant)
        person = new_customer(client, tenant)
        for _ in range(3):
            campaign(client, partner, [{"customer_id": person["id"]}])
        for role in (Role.admin, Role.agent, Role.auditor):
            first = client.get(
                f"/v1/customers/{person['id']}/disclosures", params={"limit": 2}, headers=tenant.headers(role)
            )
            assert first.status_code == 200, role
        page = first.json()
        assert len(page["items"]) == 2
        rest = client.get(page["next"], headers=tenant.headers()).json()
        assert len(rest["items"]) == 1
        assert rest["next"] is None
        entries = page["items"] + rest["items"]
        assert len({e["id"] for e in entries}) == 3
        moments = [(e["disclosed_at"], e["id"]) for e in entries]
        assert moments == sorted(moments, reverse=True)
