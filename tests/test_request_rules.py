"""The edges of the request rules: when the clock stands, which restriction a refusal lifts, what a restricted or
erased person's orders may still do, who hears of a change (Art. 19), and input the rules refuse."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.services import deadlines
from tests.conftest import Tenant, new_customer
from tests.test_requests import act, customer, intake
from tests.test_webhooks import subscribe

Db = Any


def move_identity_request(owner_db: Db, request_id: str, days_ago: int) -> None:
    """Date the question for proof of identity `days_ago` days back (no API sets the past)."""
    with owner_db.transaction():
        owner_db.execute("SET LOCAL session_replication_role = replica")
        owner_db.execute(
            "UPDATE subject_request SET identity_requested_at = now() - make_interval(days => %s) WHERE id = %s",
            (days_ago, request_id),
        )


def overdue_ids(client: TestClient, tenant: Tenant) -> list[str]:
    items = client.get("/v1/requests", params={"overdue": "true"}, headers=tenant.headers()).json()["items"]
    return [r["id"] for r in items]


def received_due_on(day: dt.date) -> dt.date | None:
    """A day of receipt whose answer is due on `day`, if there is one."""
    for back in range(25, 40):
        received = day - dt.timedelta(days=back)
        if deadlines.answer_due(received) == day:
            return received
    return None


def at_noon(day: dt.date) -> str:
    return dt.datetime.combine(day, dt.time(12), tzinfo=deadlines.HELSINKI).isoformat()


# --- the clock ------------------------------------------------------------------------------------


def test_asking_for_identity_after_the_deadline_does_not_hide_a_late_request(
    client: TestClient, tenant: Tenant
) -> None:
    person = new_customer(client, tenant)
    received = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
    request = intake(client, tenant, "access", customer_id=person["id"], received_at=received.isoformat())
    assert request["overdue"] is True
    waiting = act(client, tenant, request["id"], "request-identity", reason="Asked too late.")
    assert waiting["status"] == "awaiting_identity"
    assert waiting["overdue"] is True
    assert request["id"] in overdue_ids(client, tenant)
    verified = act(client, tenant, request["id"], "verify", method="document")
    assert verified["paused_days"] == 0
    assert verified["due_date"] == request["due_date"]


def test_a_standing_clock_keeps_the_first_deadline_open_for_an_extension(
    client: TestClient, tenant: Tenant, owner_db: Db
) -> None:
    person = new_customer(client, tenant)
    received = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
    request = intake(client, tenant, "access", customer_id=person["id"], received_at=received.isoformat())
    act(client, tenant, request["id"], "request-identity", reason="Two people share the name.")
    move_identity_request(owner_db, request["id"], 35)  # asked five days after receipt
    assert request["id"] not in overdue_ids(client, tenant)
    extended = act(client, tenant, request["id"], "extend", months=1, reason="The records are in two systems.")
    assert extended["extension_months"] == 1
    verified = act(client, tenant, request["id"], "verify", method="document")
    expected = deadlines.answer_due(deadlines.local_date(received), extension_months=1, paused_days=35)
    assert verified["due_date"] == expected.isoformat()


def test_an_extension_is_possible_on_the_due_date_and_not_the_day_after(client: TestClient, tenant: Tenant) -> None:
    today = deadlines.today()
    on_time = received_due_on(today)
    if on_time is not None:  # only a working day can be a due date
        request = intake(client, tenant, "access", person={"email": "due@example.fi"}, received_at=at_noon(on_time))
        assert request["due_date"] == today.isoformat()
        act(client, tenant, request["id"], "extend", months=2, reason="Due today: still in time.")
    yesterday = next(d for d in (today - dt.timedelta(days=n) for n in range(1, 8)) if received_due_on(d))
    late_received = received_due_on(yesterday)
    assert late_received is not None
    late = intake(client, tenant, "access", person={"email": "late@example.fi"}, received_at=at_noon(late_received))
    assert late["due_date"] == yesterday.isoformat()
    assert late["overdue"] is True
    act(client, tenant, late["id"], "extend", 409, months=2, reason="A day too late.")


# --- restriction and objection ---------------------------------------------------------------------


def test_refusing_an_objection_keeps_the_persons_own_restriction(client: TestClient, tenant: Tenant) -> None:
    person = new_customer(client, tenant, city="Oulu")
    contested = intake(
        client,
        tenant,
        "restriction",
        customer_id=person["id"],
        restriction={"ground": "accuracy_contested", "contested_fields": ["city"]},
    )
    act(client, tenant, contested["id"], "complete")
    objection = intake(
        client, tenant, "objection", customer_id=person["id"], objection={"kind": "particular_situation"}
    )
    assert customer(client, tenant, person["id"])["restriction_ground"] == "accuracy_contested"
    act(client, tenant, objection["id"], "refuse", reasons="Compelling legitimate grounds: an open contract.")
    after = customer(client, tenant, person["id"])
    assert after["restricted_at"] is not None
    assert after["restriction_ground"] == "accuracy_contested"
    assert after["restriction_fields"] == ["city"]


def test_with_two_objections_weighed_refusing_one_keeps_the_restriction(client: TestClient, tenant: Tenant) -> None:
    person = new_customer(client, tenant)
    body = {"customer_id": person["id"], "objection": {"kind": "particular_situation"}}
    first = intake(client, tenant, "objection", **body)
    second = intake(client, tenant, "objection", **body)
    act(client, tenant, first["id"], "refuse", reasons="Our grounds override for the first.")
    assert customer(client, tenant, person["id"])["restricted_at"] is not None
    path = f"/v1/customers/{person['id']}/restriction"
    assert client.post(f"{path}/notice", json={"via": "letter"}, headers=tenant.headers()).status_code == 200
    lift = client.delete(path, headers=tenant.headers())
    assert lift.status_code == 409
    assert "18(1)(d)" in lift.json()["detail"]
    act(client, tenant, second["id"], "refuse", reasons="Our grounds override for the second as well.")
    assert customer(client, tenant, person["id"])["restricted_at"] is None


def test_lifting_a_restriction_tells_the_recipients(client: TestClient, tenant: Tenant) -> None:
    hook = subscribe(client, tenant, "https://crm.example.fi/hooks")
    person = new_customer(client, tenant)
    request = intake(client, tenant, "restriction", customer_id=person["id"], restriction={"ground": "legal_claims"})
    act(client, tenant, request["id"], "complete")
    path = f"/v1/customers/{person['id']}/restriction"
    client.post(f"{path}/notice", json={"via": "email"}, headers=tenant.headers())
    assert client.delete(path, headers=tenant.headers()).status_code == 200
    deliveries = client.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=tenant.headers()).json()["items"]
    assert sorted(d["event_type"] for d in deliveries) == ["customer.restricted", "customer.restriction_lifted"]


# --- orders of a restricted or erased person ---------------------------------------------------------


def new_order(client: TestClient, tenant: Tenant, customer_id: str) -> dict[str, Any]:
    body = {
        "order_date": deadlines.today().isoformat(),
        "lines": [{"description": "Hylly", "quantity": "1", "unit_price": "40.00"}],
        "total": "40.00",
        "invoice_status": "open",
    }
    response = client.post(f"/v1/customers/{customer_id}/orders", json=body, headers=tenant.headers())
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


@pytest.mark.parametrize("state", ["restricted", "erased"])
def test_the_orders_are_only_stored_but_the_invoice_may_be_settled(
    client: TestClient, tenant: Tenant, state: str
) -> None:
    person = new_customer(client, tenant)
    order = new_order(client, tenant, person["id"])
    if state == "restricted":
        body: dict[str, Any] = {"restriction": {"ground": "legal_claims"}}
        request = intake(client, tenant, "restriction", customer_id=person["id"], **body)
    else:
        body = {"erasure": {"ground": "consent_withdrawn"}}
        request = intake(client, tenant, "erasure", customer_id=person["id"], **body)
    act(client, tenant, request["id"], "complete")
    path = f"/v1/orders/{order['id']}"
    edit = client.patch(path, json={"total": "1.00"}, headers=tenant.headers())
    assert edit.status_code == 409
    assert "invoice_status" in edit.json()["detail"]
    assert client.patch(path, json={"total": order["total"]}, headers=tenant.headers()).status_code == 200  # no change
    settled = client.patch(path, json={"invoice_status": "paid"}, headers=tenant.headers())
    assert settled.status_code == 200, settled.text
    assert settled.json()["invoice_status"] == "paid"


def test_a_customer_with_requests_is_erased_not_deleted(client: TestClient, tenant: Tenant) -> None:
    person = new_customer(client, tenant)
    intake(client, tenant, "access", customer_id=person["id"])
    response = client.delete(f"/v1/customers/{person['id']}", headers=tenant.headers())
    assert response.status_code == 409
    assert "erasure request" in response.json()["detail"]


# --- Art. 19: who hears of a change ------------------------------------------------------------------


def test_a_recipient_of_the_persons_data_hears_of_the_rectification_whatever_it_subscribed_to(
    client: TestClient, tenant: Tenant
) -> None:
    def subscribe_as(name: str) -> None:
        subscribe(client, tenant, f"https://{name}.example.fi/hooks", description=name, events=["marketing.changed"])

    subscribe_as("mailer")  # takes marketing events: it gets the person's data
    person = new_customer(client, tenant)
    marketing = {"channels": {"direct_mail": {"prohibited": True}}, "received_via": "letter"}
    client.put(f"/v1/customers/{person['id']}/marketing", json=marketing, headers=tenant.headers())
    subscribe_as("newcomer")  # subscribed after: never received anything about the person
    request = intake(
        client, tenant, "rectification", customer_id=person["id"], rectification={"corrections": {"city": "Pori"}}
    )
    done = act(client, tenant, request["id"], "complete")
    assert done["outcome"]["recipients_notified"] == ["mailer"]


# --- refused input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("refuse", {"reasons": "   "}),
        ("extend", {"months": 1, "reason": " \n "}),
        ("request-identity", {"reason": "\t"}),
    ],
)
def test_blank_reasons_are_no_reasons(client: TestClient, tenant: Tenant, action: str, body: dict[str, Any]) -> None:
    request = intake(client, tenant, "access", person={"email": "blank@example.fi"})
    act(client, tenant, request["id"], action, 422, **body)


def test_a_refused_correction_needs_a_reason(client: TestClient, tenant: Tenant) -> None:
    person = new_customer(client, tenant)
    request = intake(
        client, tenant, "rectification", customer_id=person["id"], rectification={"corrections": {"city": "Kemi"}}
    )
    act(client, tenant, request["id"], "complete", 422, refuse_fields={"city": " "})


@pytest.mark.parametrize(
    ("received_at", "status"),
    [
        ("0001-01-01T00:30:00+14:00", 422),
        ("2018-05-24T12:00:00Z", 422),
        ("2018-05-25T12:00:00+03:00", 201),
    ],
)
def test_received_before_the_gdpr_applied_is_refused(
    client: TestClient, tenant: Tenant, received_at: str, status: int
) -> None:
    body = {"type": "access", "channel": "letter", "person": {"email": "old@example.fi"}, "received_at": received_at}
    response = client.post("/v1/requests", json=body, headers=tenant.headers())
    assert response.status_code == status, response.text


def test_a_completed_request_cannot_be_refused(client: TestClient, tenant: Tenant) -> None:
    request = intake(client, tenant, "access", person={"email": "done@example.fi"})
    act(client, tenant, request["id"], "complete")
    act(client, tenant, request["id"], "refuse", 409, reasons="Changed our mind.")


def test_every_kind_of_transition_is_audited(client: TestClient, tenant: Tenant) -> None:
    def statuses(request_id: str) -> list[str]:
        events = client.get("/v1/audit", params={"entity_id": request_id}, headers=tenant.headers()).json()["items"]
        return [e["changes"]["status"]["new"] for e in events if "status" in e["fields"]]

    refused = intake(client, tenant, "access", person={"email": "r@example.fi"})
    act(client, tenant, refused["id"], "request-identity", reason="Unclear sender.")
    act(client, tenant, refused["id"], "refuse", reasons="No proof of identity arrived.")
    assert statuses(refused["id"]) == ["received", "awaiting_identity", "refused"]
    withdrawn = intake(client, tenant, "access", person={"email": "w@example.fi"})
    act(client, tenant, withdrawn["id"], "withdraw")
    assert statuses(withdrawn["id"]) == ["received", "withdrawn"]
