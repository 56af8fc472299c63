"""Access (Art. 15) and portability (Art. 20) exports: content, formats, audit, roles, streaming."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid
import zipfile
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.actor import system_actor
from app.models.api_keys import Role
from app.models.profile import ControllerProfile
from app.services import access, exports, portability
from tests.conftest import EXAMPLES, Tenant, make_tenant, new_customer
from tests.test_webhooks import Receiver, add_recipient, subscribe, work_the_queue

PROBLEM = "application/problem+json"
PROFILE = ControllerProfile.load(EXAMPLES / "sonmark.toml")
NOTICE = PROFILE.notice
REGISTER = PROFILE.recipients

PERSON = {
    "external_id": "shop-42",
    "customer_number": "A-1001",
    "first_name": "Sven",
    "last_name": "Svensson",
    "email": "sven.svensson@example.se",
    "phone": "+46 70 123 45 67",
    "street_address": "Storgatan 1",
    "postal_code": "111 22",
    "city": "Stockholm",
    "country": "SE",
    "ip_address": "192.0.2.10",
    "preferred_language": "sv",
    "newsletter": True,
    "payment_method": "invoice",
    "payment_terms": "14 days",
    "delivery_method": "post",
    "relationship_start_date": "2024-01-15",
    "source": "registration",
    "kind": "private",
}
ORDERS = [
    {
        "external_id": "o-1",
        "order_date": "2026-01-02",
        "lines": [
            {"description": "Kaiutin", "quantity": "2", "unit_price": "49.90", "sku": "SPK-1"},
            {"description": "Kaapeli, 2 m", "quantity": "1", "unit_price": "9.90"},
        ],
        "total": "109.70",
        "currency": "EUR",
        "invoice_status": "paid",
    },
    {
        "external_id": "o-2",
        "order_date": "2026-03-04",
        "lines": [{"description": "Vahvistin", "quantity": "1", "unit_price": "299.00", "sku": "AMP-7"}],
        "total": "299.00",
        "currency": "EUR",
        "invoice_status": "open",
    },
]
WORDING = "Haluan sähköpostia tarjouksista."
DERIVED = {"customer_number", "source", "external_id", "kind", "payment_terms"}
DERIVED |= {"relationship_start_date", "relationship_end_date"}


# --- helpers --------------------------------------------------------------------------------------


def export(client: TestClient, tenant: Tenant, customer_id: Any, role: Role = Role.admin, **params: str) -> Any:
    return client.get(f"/v1/customers/{customer_id}/export", params=params, headers=tenant.headers(role))


def document(client: TestClient, tenant: Tenant, customer_id: Any, **params: str) -> dict[str, Any]:
    response = export(client, tenant, customer_id, **params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return json.loads(response.content)  # type: ignore[no-any-return]


def rich_customer(client: TestClient, tenant: Tenant) -> dict[str, Any]:
    """A customer with every kind of data: fields, a change, orders, marketing choices and a request."""
    person = new_customer(client, tenant, **PERSON)
    headers = tenant.headers()
    changed = client.patch(f"/v1/customers/{person['id']}", json={"city": "Göteborg"}, headers=headers)
    assert changed.status_code == 200, changed.text
    for order in ORDERS:
        created = client.post(f"/v1/customers/{person['id']}/orders", json=order, headers=headers)
        assert created.status_code == 201, created.text
    marketing = {
        "channels": {"electronic": {"consent": True}, "telemarketing": {"prohibited": True}},
        "received_via": "web",
        "wording": WORDING,
    }
    recorded = client.put(f"/v1/customers/{person['id']}/marketing", json=marketing, headers=headers)
    assert recorded.status_code == 200, recorded.text
    request = client.post(
        "/v1/requests", json={"type": "access", "customer_id": person["id"], "channel": "email"}, headers=headers
    )
    assert request.status_code == 201, request.text
    person["request_id"] = request.json()["id"]
    return person  # type: ignore[no-any-return]


def disclosures(client: TestClient, tenant: Tenant, customer_id: Any) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    url: str | None = "/v1/audit"
    params: dict[str, Any] | None = {"entity_id": str(customer_id), "limit": 200}
    while url:
        page = client.get(url, params=params, headers=tenant.headers(Role.auditor))
        assert page.status_code == 200, page.text
        events += page.json()["items"]
        url, params = page.json()["next"], None
    return [e for e in events if e["action"] == "disclose"]


def chain_ok(client: TestClient, tenant: Tenant) -> None:
    verified = client.get("/v1/audit/verify", headers=tenant.headers(Role.auditor))
    assert verified.status_code == 200
    assert verified.json()["ok"] is True, verified.json()


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    problem = response.json()
    assert problem["status"] == status
    assert problem["type"]
    assert problem["title"]
    return problem  # type: ignore[no-any-return]


def read_csv(archive: zipfile.ZipFile, name: str) -> list[dict[str, str]]:
    with archive.open(name) as raw:
        return list(csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8", newline="")))


def fast_orders(
    owner_db: psycopg.Connection[Any], tenant: Tenant, customer_id: Any, count: int
) -> list[tuple[uuid.UUID, dt.date]]:
    """Insert `count` orders directly as the owner, the audit trigger off (a fixture, not a path the app has)."""
    start = dt.date(2020, 1, 1)
    rows = [(uuid.uuid4(), start + dt.timedelta(days=n % 2000)) for n in range(count)]
    line = [{"description": "Kaiutin", "quantity": "1", "unit_price": "10.00", "sku": "SPK-1"}]
    with owner_db.transaction():
        owner_db.execute("SET LOCAL session_replication_role = replica")
        with owner_db.cursor().copy(
            "COPY customer_order (controller_id, id, customer_id, external_id, order_date, lines, total, currency, "
            "invoice_status, version, created_at) FROM STDIN"
        ) as copy:
            for n, (order_id, day) in enumerate(rows):
                copy.write_row(
                    (
                        tenant.id,
                        order_id,
                        customer_id,
                        f"bulk-{customer_id}-{n}",
                        day,
                        json.dumps(line),
                        "10.00",
                        "EUR",
                        "paid",
                        1,
                        "2026-01-01T00:00:00Z",
                    )
                )
    return rows


# --- access (Art. 15) -----------------------------------------------------------------------------


class TestAccess:
    def test_holds_all_the_persons_data(self, client: TestClient, tenant: Tenant) -> None:
        person = rich_customer(client, tenant)
        doc = document(client, tenant, person["id"])
        assert doc["schema"] == "rekisteri.access/2"
        assert dt.datetime.fromisoformat(doc["generated_at"])
        assert doc["controller"]["name"] == "SonMark Oy"
        assert doc["controller"]["business_id"] == "2477816-7"
        assert doc["controller"]["contact_person"]["email"] == "ular.mihkelson@sonmark.fi"

        customer = doc["customer"]
        assert customer["id"] == person["id"]
        assert "controller_id" not in customer
        assert customer["first_name"] == "Sven"
        assert customer["email"] == "sven.svensson@example.se"
        assert customer["phone"] == "+46701234567"
        assert customer["city"] == "Göteborg"
        assert customer["customer_number"] == "A-1001"
        assert customer["ip_address"] == "192.0.2.10"

        orders = doc["orders"]
        assert [o["external_id"] for o in orders] == ["o-1", "o-2"]
        assert {o["invoice_status"] for o in orders} == {"paid", "open"}
        assert Decimal(orders[0]["total"]) == Decimal("109.70")
        assert orders[0]["lines"][0]["sku"] == "SPK-1"
        assert len(orders[0]["lines"]) == 2

        channels = {c["channel"]: c for c in doc["marketing"]["channels"]}
        assert channels["electronic"]["decision"]["allowed"] is True
        assert channels["telemarketing"]["prohibited_at"] is not None
        assert channels["telemarketing"]["decision"]["allowed"] is False
        actions = {(h["channel"], h["action"]) for h in doc["marketing"]["history"]}
        assert {("electronic", "consent_granted"), ("telemarketing", "prohibited")} <= actions

        assert [r["id"] for r in doc["requests"]] == [person["request_id"]]
        assert doc["requests"][0]["type"] == "access"

    def test_audit_history_shows_the_decrypted_values(self, client: TestClient, tenant: Tenant) -> None:
        person = rich_customer(client, tenant)
        history = document(client, tenant, person["id"])["audit_history"]
        assert [e["seq"] for e in history] == sorted(e["seq"] for e in history)
        created = next(e for e in history if e["entity"] == "customer" and e["action"] == "create")
        assert created["entity_id"] == person["id"]
        assert created["changes"]["email"]["new"] == "sven.svensson@example.se"
        updated = next(e for e in history if e["entity"] == "customer" and e["action"] == "update")
        assert updated["changes"]["city"] == {"old": "Stockholm", "new": "Göteborg"}
        assert "city" in updated["fields"]
        assert updated["by_role"] == "admin"
        orders = [e for e in history if e["entity"] == "order" and e["action"] == "create"]
        assert sorted(e["changes"]["external_id"]["new"] for e in orders) == ["o-1", "o-2"]
        assert any(e["entity"] == "marketing_event" for e in history)
        assert any(e["entity"] == "request" and e["entity_id"] == person["request_id"] for e in history)
        # Who did it is the controller's staff, not for the person: names and keys stay out.
        assert not {"actor_name", "actor_key_id", "hash", "prev_hash"} & set(history[0])

    def test_information_is_article_15_from_the_profile(self, client: TestClient, tenant: Tenant) -> None:
        person = rich_customer(client, tenant)
        info = document(client, tenant, person["id"])["information"]
        assert info["purposes"] == [p.fi for p in NOTICE.purposes]
        assert info["legal_basis"] == (NOTICE.legal_basis.fi if NOTICE.legal_basis else None)
        assert info["categories_of_data"] == [c.fi for c in NOTICE.data_categories]
        assert info["recipients"] == [r.fi for r in NOTICE.recipients]
        assert info["regular_disclosures"] == [d.fi for d in NOTICE.disclosures]
        assert info["transfers_outside_eea"] == NOTICE.transfers.fi  # type: ignore[union-attr]
        assert info["source"]["your_record"] == "registration"
        assert info["source"]["regular_sources"] == [s.fi for s in NOTICE.sources]
        assert isinstance(info["automated_decision_making"], str)
        assert info["automated_decision_making"]
        assert {"email", "first_name", "city", "country", "ip_address", "customer_number"} <= set(
            info["your_data_held"]
        )
        assert "organisation" not in info["your_data_held"]  # no value held
        assert info["restricted_at"] is None
        assert info["erased_at"] is None
        rights = {r["right"]: r for r in info["rights"]}
        assert {"access", "rectification", "erasure", "restriction", "objection", "portability", "complaint"} <= set(
            rights
        )
        assert all(r["how"] for r in info["rights"])

    def test_recipient_categories_groups_and_safeguards_are_told_too(self, client: TestClient, app: FastAPI) -> None:
        # Solintech's notice names categories of recipients and of data; Sesoma's a safeguard for transfers.
        solintech = make_tenant(client, app, "solintech")
        info = document(client, solintech, new_customer(client, solintech)["id"], lang="en")["information"]
        notice = ControllerProfile.load(EXAMPLES / "solintech.toml").notice
        assert info["categories_of_recipients"] == [r.en for r in notice.recipient_categories]
        assert info["categories_of_recipients"]
        assert info["groups_of_data"] == [g.en for g in notice.data_groups]
        sesoma = make_tenant(client, app, "sesoma")
        info = document(client, sesoma, new_customer(client, sesoma)["id"])["information"]
        assert (
            info["transfer_safeguards"]
            == ControllerProfile.load(EXAMPLES / "sesoma.toml").notice.transfer_safeguards.fi
        )  # type: ignore[union-attr]

    def test_retention_is_stated(self, client: TestClient, tenant: Tenant) -> None:
        # Art. 15(1)(d): the period, or the criteria that set it. The test profile's notice names none.
        person = new_customer(client, tenant)
        retention = document(client, tenant, person["id"])["information"]["retention"]
        assert retention, "an access answer must state how long the data is kept (Art. 15(1)(d))"
        assert all(r["category"] and r["period"] for r in retention)

    def test_complaint_authorities_start_with_finland_then_the_persons_country(
        self, client: TestClient, tenant: Tenant
    ) -> None:
        swede = new_customer(client, tenant, country="SE")
        authorities = document(client, tenant, swede["id"])["information"]["complaint_authorities"]
        assert [a["country"] for a in authorities] == ["FI", "SE"]
        finland = authorities[0]
        assert finland["name_en"] == "Office of the Data Protection Ombudsman"
        assert finland["email"] == "tietosuoja@om.fi"
        assert "Lintulahdenkuja 4" in finland["street_address"]
        assert "verified" in authorities[1]

        finn = new_customer(client, tenant, country="FI")
        authorities = document(client, tenant, finn["id"])["information"]["complaint_authorities"]
        assert [a["country"] for a in authorities] == ["FI"]
        unknown = new_customer(client, tenant)
        authorities = document(client, tenant, unknown["id"])["information"]["complaint_authorities"]
        assert [a["country"] for a in authorities] == ["FI"]

    def test_lang_en_gives_the_english_texts(self, client: TestClient, tenant: Tenant) -> None:
        person = new_customer(client, tenant, source="purchase")
        info = document(client, tenant, person["id"], lang="en")["information"]
        assert info["purposes"] == [p.en for p in NOTICE.purposes]
        assert info["purposes"][0] == "Maintaining the company's customer register"
        assert info["legal_basis"] == (NOTICE.legal_basis.en if NOTICE.legal_basis else None)
        assert info["categories_of_data"] == [c.en for c in NOTICE.data_categories]
        assert info["recipients"] == [r.en for r in NOTICE.recipients]
        assert info["transfers_outside_eea"] == NOTICE.transfers.en  # type: ignore[union-attr]
        assert info["source"]["regular_sources"] == [s.en for s in NOTICE.sources]
        assert info["source"]["your_record"] == "purchase"

    def test_texts_follow_the_asked_language(self, client: TestClient, tenant: Tenant) -> None:
        # A Finnish answer should not explain the person's rights in English.
        person = new_customer(client, tenant)
        fi = document(client, tenant, person["id"], lang="fi")["information"]
        en = document(client, tenant, person["id"], lang="en")["information"]
        sv = document(client, tenant, person["id"], lang="sv")["information"]
        assert fi["purposes"] != en["purposes"]
        assert sv["purposes"] == fi["purposes"]  # no Swedish in the profile: Finnish
        for key in ("rights", "automated_decision_making", "retention"):
            assert fi[key] != en[key], key
            assert sv[key] != en[key], key
        assert [r["right"] for r in fi["rights"]] == [r["right"] for r in en["rights"]]

    def test_a_customer_with_nothing_else(self, client: TestClient, tenant: Tenant) -> None:
        person = new_customer(client, tenant)
        doc = document(client, tenant, person["id"])
        assert doc["orders"] == []
        assert doc["requests"] == []
        assert doc["marketing"]["history"] == []
        assert doc["information"]["recipients_of_your_data"] == []

    def test_restricted_person_still_gets_their_data_and_the_recipients(
        self, client: TestClient, tenant: Tenant, receiver: Receiver, database_url: str
    ) -> None:
        subscribe(client, tenant, receiver.url, description="CRM")
        person = new_customer(client, tenant, city="Vaasa")
        request = client.post(
            "/v1/requests",
            json={
                "type": "restriction",
                "customer_id": person["id"],
                "channel": "email",
                "restriction": {"ground": "accuracy_contested", "contested_fields": ["city"]},
            },
            headers=tenant.headers(),
        ).json()
        done = client.post(f"/v1/requests/{request['id']}/complete", json={}, headers=tenant.headers())
        assert done.status_code == 200, done.text
        work_the_queue(client, database_url)  # the CRM takes the restriction (Art. 19): a disclosure to it
        doc = document(client, tenant, person["id"])
        assert doc["customer"]["city"] == "Vaasa"
        assert doc["information"]["restricted_at"] is not None
        assert [r["name"] for r in doc["information"]["recipients_of_your_data"]] == ["CRM"]
        assert document(client, tenant, person["id"], kind="portability")["provided"]["city"] == "Vaasa"

    def test_erased_persons_audit_values_are_gone(self, client: TestClient, tenant: Tenant) -> None:
        person = new_customer(client, tenant, city="Kuopio")
        request = client.post(
            "/v1/requests",
            json={
                "type": "erasure",
                "customer_id": person["id"],
                "channel": "email",
                "erasure": {"ground": "no_longer_necessary"},
            },
            headers=tenant.headers(),
        ).json()
        done = client.post(f"/v1/requests/{request['id']}/complete", json={}, headers=tenant.headers())
        assert done.status_code == 200, done.text
        response = export(client, tenant, person["id"])
        assert response.status_code == 200, response.text
        doc = json.loads(response.content)
        assert doc["information"]["erased_at"] is not None
        assert b"Kuopio" not in response.content
        assert person["email"].encode() not in response.content
        before = [e for e in doc["audit_history"] if e["action"] != "disclose" and e["entity"] == "customer"]
        assert before
        assert all(e["changes"] is None for e in before)


# --- portability (Art. 20) ------------------------------------------------------------------------


class TestPortability:
    def test_only_what_the_person_provided(self, client: TestClient, tenant: Tenant) -> None:
        person = rich_customer(client, tenant)
        doc = document(client, tenant, person["id"], kind="portability")
        assert doc["schema"] == "rekisteri.portability/1"
        assert doc["controller"] == {"name": "SonMark Oy", "business_id": "2477816-7"}
        provided = doc["provided"]
        assert provided["first_name"] == "Sven"
        assert provided["email"] == "sven.svensson@example.se"
        assert provided["city"] == "Göteborg"
        assert provided["newsletter"] is True
        assert provided["payment_method"] == "invoice"
        assert doc["observed"] == {"ip_address": "192.0.2.10"}
        flat = set(provided) | set(doc["observed"]) | set(doc)
        assert not DERIVED & flat, DERIVED & flat
        assert "id" not in provided
        assert not {"information", "customer", "audit_history", "requests"} & set(doc)

        assert [o["external_id"] for o in doc["orders"]] == ["o-1", "o-2"]
        for order in doc["orders"]:
            assert set(order) == {"id", "external_id", "order_date", "lines", "total", "currency"}
        assert doc["orders"][1]["lines"] == [
            {"description": "Vahvistin", "quantity": "1", "unit_price": "299.00", "sku": "AMP-7"}
        ]
        choices = {(c["channel"], c["action"]): c for c in doc["marketing_choices"]}
        consent = choices[("electronic", "consent_granted")]
        assert consent["received_via"] == "web"
        assert consent["wording"] == WORDING
        assert ("telemarketing", "prohibited") in choices

    def test_zip_of_csv_files(self, client: TestClient, tenant: Tenant) -> None:
        person = rich_customer(client, tenant)
        response = export(client, tenant, person["id"], kind="portability", format="zip")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/zip"
        assert response.headers["content-disposition"] == f'attachment; filename="portability-{person["id"]}.zip"'
        archive = zipfile.ZipFile(io.BytesIO(response.content))
        assert archive.testzip() is None
        assert archive.namelist() == [
            "README.txt",
            "person.csv",
            "marketing_choices.csv",
            "orders.csv",
            "order_lines.csv",
        ]
        assert "rekisteri.portability/1" in archive.read("README.txt").decode()

        fields = {r["field"]: r["value"] for r in read_csv(archive, "person.csv")}
        assert fields["first_name"] == "Sven"
        assert fields["city"] == "Göteborg"
        assert fields["email"] == "sven.svensson@example.se"
        assert fields["ip_address"] == "192.0.2.10"
        assert not DERIVED & set(fields)

        choices = read_csv(archive, "marketing_choices.csv")
        assert {(c["channel"], c["action"]) for c in choices} >= {
            ("electronic", "consent_granted"),
            ("telemarketing", "prohibited"),
        }
        assert next(c for c in choices if c["channel"] == "electronic")["wording"] == WORDING

        orders = read_csv(archive, "orders.csv")
        assert [(o["external_id"], o["order_date"], o["total"], o["currency"]) for o in orders] == [
            ("o-1", "2026-01-02", "109.70", "EUR"),
            ("o-2", "2026-03-04", "299.00", "EUR"),
        ]
        assert "invoice_status" not in orders[0]

        lines = read_csv(archive, "order_lines.csv")
        first = orders[0]["order_id"]
        assert [(ln["order_id"], ln["line"], ln["description"], ln["sku"]) for ln in lines] == [
            (first, "1", "Kaiutin", "SPK-1"),
            (first, "2", "Kaapeli, 2 m", ""),
            (orders[1]["order_id"], "1", "Vahvistin", "AMP-7"),
        ]
        assert Decimal(lines[0]["quantity"]) == 2
        assert Decimal(lines[0]["unit_price"]) == Decimal("49.90")

    def test_zip_of_a_customer_with_nothing_else(self, client: TestClient, tenant: Tenant) -> None:
        person = new_customer(client, tenant)
        response = export(client, tenant, person["id"], kind="portability", format="zip")
        archive = zipfile.ZipFile(io.BytesIO(response.content))
        assert archive.testzip() is None
        assert read_csv(archive, "orders.csv") == []
        assert read_csv(archive, "order_lines.csv") == []
        assert read_csv(archive, "marketing_choices.csv") == []

    def test_zip_is_only_for_portability(self, client: TestClient, tenant: Tenant) -> None:
        person = new_customer(client, tenant)
        problem = assert_problem(export(client, tenant, person["id"], kind="access", format="zip"), 422)
        assert "portability" in problem["detail"]
        assert_problem(export(client, tenant, person["id"], format="zip"), 422)  # access is the default
        assert_problem(export(client, tenant, person["id"], kind="everything"), 422)
        assert disclosures(client, tenant, person["id"]) == []


# --- errors, roles, tenancy -----------------------------------------------------------------------


class TestRefusals:
    def test_unknown_customer_is_404(self, client: TestClient, tenant: Tenant) -> None:
        for params in ({}, {"kind": "portability"}, {"kind": "portability", "format": "zip"}):
            assert_problem(export(client, tenant, uuid.uuid4(), **params), 404)
        assert_problem(client.get("/v1/customers/not-a-uuid/export", headers=tenant.headers()), 422)

    def test_needs_a_key(self, client: TestClient, tenant: Tenant) -> None:
        person = new_customer(client, tenant)
        assert_problem(client.get(f"/v1/customers/{person['id']}/export"), 401)

    @pytest.mark.parametrize("role", [Role.integration, Role.auditor])
    def test_only_staff_may_export(self, client: TestClient, tenant: Tenant, role: Role) -> None:
        person = new_customer(client, tenant)
        for params in ({}, {"kind": "portability"}, {"kind": "portability", "format": "zip"}):
            assert_problem(export(client, tenant, person["id"], role, **params), 403)
        request = client.post(
            "/v1/requests",
            json={"type": "access", "customer_id": person["id"], "channel": "email"},
            headers=tenant.headers(),
        ).json()
        client.post(f"/v1/requests/{request['id']}/complete", json={}, headers=tenant.headers())
        assert_problem(client.get(f"/v1/requests/{request['id']}/export", headers=tenant.headers(role)), 403)
        assert disclosures(client, tenant, person["id"]) == []

    def test_agent_may_export(self, client: TestClient, tenant: Tenant) -> None:
        person = new_customer(client, tenant)
        assert export(client, tenant, person["id"], Role.agent).status_code == 200

    def test_another_controllers_customer_is_404(
        self, client: TestClient, tenant: Tenant, other_tenant: Tenant
    ) -> None:
        person = rich_customer(client, tenant)
        for params in ({}, {"kind": "portability"}, {"kind": "portability", "format": "zip"}):
            assert_problem(export(client, other_tenant, person["id"], **params), 404)
        done = client.post(f"/v1/requests/{person['request_id']}/complete", json={}, headers=tenant.headers())
        assert done.status_code == 200, done.text
        assert_problem(client.get(f"/v1/requests/{person['request_id']}/export", headers=other_tenant.headers()), 404)
        assert disclosures(client, tenant, person["id"]) == []


# --- audit ----------------------------------------------------------------------------------------


class TestDisclosureAudit:
    def test_each_export_is_one_disclose_event(self, client: TestClient, tenant: Tenant) -> None:
        person = rich_customer(client, tenant)
        assert disclosures(client, tenant, person["id"]) == []
        kinds = []
        for params in ({}, {"kind": "portability"}, {"kind": "portability", "format": "zip"}):
            assert export(client, tenant, person["id"], Role.agent, **params).status_code == 200
            events = disclosures(client, tenant, person["id"])
            kinds.append(params.get("kind", "access"))
            assert len(events) == len(kinds)
        assert [e["changes"]["export"]["new"] for e in events] == kinds
        for event in events:
            assert event["entity"] == "customer"
            assert event["subject_id"] == person["id"]
            assert event["actor_role"] == "agent"
            assert event["actor_name"] == "agent tester"
            assert event["erased"] is False
        chain_ok(client, tenant)

    def test_the_access_answer_shows_earlier_disclosures(self, client: TestClient, tenant: Tenant) -> None:
        person = new_customer(client, tenant)
        document(client, tenant, person["id"], kind="portability")
        history = document(client, tenant, person["id"])["audit_history"]
        shown = [e for e in history if e["action"] == "disclose"]
        assert [e["changes"]["export"]["new"] for e in shown][:1] == ["portability"]


# --- the export of a completed request ------------------------------------------------------------


class TestRequestExport:
    def test_access_request_export_after_completion(self, client: TestClient, tenant: Tenant) -> None:
        person = rich_customer(client, tenant)
        url = f"/v1/requests/{person['request_id']}/export"
        assert_problem(client.get(url, headers=tenant.headers()), 409)
        assert disclosures(client, tenant, person["id"]) == []

        done = client.post(f"/v1/requests/{person['request_id']}/complete", json={}, headers=tenant.headers())
        assert done.status_code == 200, done.text
        response = client.get(url, headers=tenant.headers(Role.agent))
        assert response.status_code == 200, response.text
        assert response.headers["content-disposition"] == f'attachment; filename="access-{person["id"]}.json"'
        doc = response.json()
        assert doc["schema"] == "rekisteri.access/2"
        assert doc["customer"]["id"] == person["id"]
        assert [o["external_id"] for o in doc["orders"]] == ["o-1", "o-2"]
        assert doc["requests"][0]["status"] == "completed"
        # The customer's preferred language (sv) has no texts in the profile: the Finnish ones.
        assert doc["information"]["purposes"] == [p.fi for p in NOTICE.purposes]
        english = client.get(url, params={"lang": "en"}, headers=tenant.headers()).json()
        assert english["information"]["purposes"] == [p.en for p in NOTICE.purposes]

        assert_problem(client.get(url, params={"format": "zip"}, headers=tenant.headers()), 422)
        events = disclosures(client, tenant, person["id"])
        assert len(events) == 2
        assert {e["changes"]["request_id"]["new"] for e in events} == {person["request_id"]}
        assert {e["changes"]["export"]["new"] for e in events} == {"access"}
        chain_ok(client, tenant)

    def test_portability_request_export(self, client: TestClient, tenant: Tenant) -> None:
        person = rich_customer(client, tenant)
        request = client.post(
            "/v1/requests",
            json={"type": "portability", "customer_id": person["id"], "channel": "letter"},
            headers=tenant.headers(),
        ).json()
        url = f"/v1/requests/{request['id']}/export"
        assert_problem(client.get(url, params={"format": "zip"}, headers=tenant.headers()), 409)
        client.post(f"/v1/requests/{request['id']}/complete", json={}, headers=tenant.headers())
        doc = client.get(url, headers=tenant.headers()).json()
        assert doc["schema"] == "rekisteri.portability/1"
        as_zip = client.get(url, params={"format": "zip"}, headers=tenant.headers())
        archive = zipfile.ZipFile(io.BytesIO(as_zip.content))
        assert len(read_csv(archive, "orders.csv")) == 2

    def test_other_request_types_have_no_export(self, client: TestClient, tenant: Tenant) -> None:
        person = new_customer(client, tenant)
        request = client.post(
            "/v1/requests",
            json={"type": "marketing_prohibition", "customer_id": person["id"], "channel": "phone"},
            headers=tenant.headers(),
        )
        assert request.status_code == 201, request.text
        client.post(f"/v1/requests/{request.json()['id']}/complete", json={}, headers=tenant.headers())
        assert_problem(client.get(f"/v1/requests/{request.json()['id']}/export", headers=tenant.headers()), 409)

    def test_unknown_request_is_404(self, client: TestClient, tenant: Tenant) -> None:
        assert_problem(client.get(f"/v1/requests/{uuid.uuid4()}/export", headers=tenant.headers()), 404)


# --- streaming ------------------------------------------------------------------------------------


class TestStreaming:
    COUNT = 3000

    def test_thousands_of_orders_stream_in_chunks(
        self, client: TestClient, tenant: Tenant, owner_db: psycopg.Connection[Any]
    ) -> None:
        person = new_customer(client, tenant)
        rows = fast_orders(owner_db, tenant, person["id"], self.COUNT)
        expected = [str(i) for i, _ in sorted(rows, key=lambda r: (r[1], r[0]))]
        for kind in ("access", "portability"):
            chunks: list[bytes] = []
            with client.stream(
                "GET", f"/v1/customers/{person['id']}/export", params={"kind": kind}, headers=tenant.headers()
            ) as response:
                assert response.status_code == 200
                assert "content-length" not in response.headers
                chunks.extend(response.iter_bytes())
            assert len(chunks) > 1, kind
            assert all(chunks), "no empty chunks"
            doc = json.loads(b"".join(chunks))
            assert len(doc["orders"]) == self.COUNT, kind
            assert [o["id"] for o in doc["orders"]] == expected, "ordered by date, then id"

    def test_thousands_of_orders_in_the_zip(
        self, client: TestClient, tenant: Tenant, owner_db: psycopg.Connection[Any]
    ) -> None:
        person = new_customer(client, tenant)
        fast_orders(owner_db, tenant, person["id"], self.COUNT)
        chunks: list[bytes] = []
        with client.stream(
            "GET",
            f"/v1/customers/{person['id']}/export",
            params={"kind": "portability", "format": "zip"},
            headers=tenant.headers(),
        ) as response:
            assert response.status_code == 200
            chunks.extend(response.iter_bytes())
        assert len(chunks) > 1
        assert all(chunks), "no empty chunks"
        archive = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
        assert archive.testzip() is None
        assert len(read_csv(archive, "orders.csv")) == self.COUNT
        assert len(read_csv(archive, "order_lines.csv")) == self.COUNT

    def test_no_empty_chunks_reach_the_server(
        self, client: TestClient, app: FastAPI, tenant: Tenant, owner_db: psycopg.Connection[Any]
    ) -> None:
        # White-box: the test client drops empty chunks, a server sends each one through the ASGI machinery.
        person = new_customer(client, tenant)
        fast_orders(owner_db, tenant, person["id"], self.COUNT)
        customer_id = uuid.UUID(person["id"])
        actor = system_actor(tenant.id, "test")

        async def chunks(kind: str) -> list[bytes]:
            async with app.state.owner_sessionmaker() as session:
                made = {
                    "access": lambda: access.document(session=session, actor=actor, customer_id=customer_id, lang="fi"),
                    "portability": lambda: portability.document(session=session, actor=actor, customer_id=customer_id),
                    "zip": lambda: portability.archive(session=session, actor=actor, customer_id=customer_id),
                }[kind]()
                return [chunk async for chunk in made]

        assert client.portal is not None
        for kind in ("access", "portability", "zip"):
            got = client.portal.call(chunks, kind)
            assert len(got) > 1, kind
            assert all(got), f"{kind}: {sum(not c for c in got)} empty chunks of {len(got)}"


# --- Art. 20(1): only what the person provided, each field with why ------------------------------------------


def test_portability_covers_what_the_person_provided_and_says_why(client: TestClient, tenant: Tenant) -> None:
    """An address from an update service is not provided by the person (Art. 20(1)); a correction they asked for
    is. Each field's source is noted when it is written (`field_sources`)."""
    person = new_customer(client, tenant, source="registration", street_address="Vanha tie 1", city="Espoo")
    assert person["field_sources"]["street_address"] == "registration"
    moved = {"street_address": "Uusi katu 2", "source": "update_service"}
    updated = client.patch(f"/v1/customers/{person['id']}", json=moved, headers=tenant.headers()).json()
    assert updated["field_sources"]["street_address"] == "update_service"
    assert updated["field_sources"]["city"] == "registration"  # not written again: its source stays

    doc = document(client, tenant, person["id"], kind="portability")
    assert "street_address" not in doc["provided"]
    assert doc["left_out"] == {"street_address": "obtained from an address update service, not provided by you"}
    assert doc["provided"]["city"] == "Espoo"
    assert doc["why_included"]["city"] == "you gave it when you registered"

    body = {"type": "rectification", "channel": "email", "customer_id": person["id"]}
    body["rectification"] = {"corrections": {"street_address": "Oikea katu 3"}}
    request = client.post("/v1/requests", json=body, headers=tenant.headers()).json()
    client.post(f"/v1/requests/{request['id']}/complete", json={}, headers=tenant.headers())
    corrected = document(client, tenant, person["id"], kind="portability")
    assert corrected["provided"]["street_address"] == "Oikea katu 3"
    assert corrected["why_included"]["street_address"] == "you gave it as a correction of your data"
    assert corrected["left_out"] == {}


# --- Art. 15(1)(c), 15(2): who received the data, and under what safeguard -------------------------------------


def key_of(client: TestClient, tenant: Tenant, recipient: str, role: str = "integration") -> dict[str, str]:
    """Headers of a key that belongs to `recipient` (of the register)."""
    body = {"name": f"{recipient} system", "role": role, "recipient": recipient}
    created = client.post("/v1/api-keys", json=body, headers=tenant.headers())
    assert created.status_code == 201, created.text
    return {"Authorization": f"Bearer {created.json()['key']}"}


def check(client: TestClient, headers: dict[str, str], customer_id: str) -> None:
    answer = client.get(f"/v1/customers/{customer_id}/marketing/direct_mail", headers=headers)
    assert answer.status_code == 200, answer.text


class TestRecipientsOfYourData:
    def test_the_answer_names_who_received_the_data_with_dates_then_the_others(
        self, client: TestClient, tenant: Tenant
    ) -> None:
        """CJEU C-154/21: the recipients' identities, since the controller knows them, each with when and what
        (Art. 15(1)(c)); Art. 15(2): the safeguard of a transfer outside the EU/EEA, in words, with its link;
        then the register's other recipients and the notice's categories."""
        sccs = {"mechanism": "sccs", "link": "https://pilvi.example.com/dpa"}
        partner = key_of(client, tenant, add_recipient(client, tenant, "Kumppani Oy"))
        cloud = key_of(client, tenant, add_recipient(client, tenant, "Pilvi Inc", country="US", transfer=sccs), "agent")
        add_recipient(client, tenant, "Tilitoimisto Oy", category="processor")
        person = new_customer(client, tenant)
        check(client, partner, person["id"])
        assert export(client, tenant, person["id"], role=Role.agent).status_code == 200  # staff: no recipient
        assert client.get(f"/v1/customers/{person['id']}/export", headers=cloud).status_code == 200
        check(client, partner, person["id"])

        info = document(client, tenant, person["id"], lang="en")["information"]
        received = info["recipients_of_your_data"]
        assert [r["name"] for r in received] == ["Kumppani Oy", "Pilvi Inc"]
        partner_got, cloud_got = received
        assert partner_got["category"] == "processor"
        assert partner_got["category_in_words"] == "Processor (processes the data on the controller's behalf)"
        assert (partner_got["country"], partner_got["outside_eea"], partner_got["transfer"]) == ("FI", False, None)
        assert partner_got["first_disclosed_at"] < partner_got["last_disclosed_at"]
        assert partner_got["categories_of_data"] == ["identifiers", "marketing"]
        assert partner_got["categories_of_data_in_words"] == [
            "Customer identifiers",
            "Marketing prohibitions and consents",
        ]
        assert cloud_got["outside_eea"] is True
        assert cloud_got["transfer"] == {
            "mechanism": "sccs",
            "in_words": "Standard contractual clauses adopted by the Commission (Article 46(2)(c))",
            "link": "https://pilvi.example.com/dpa",
            "details": None,
        }
        assert cloud_got["first_disclosed_at"] == cloud_got["last_disclosed_at"]
        assert "Customer details" in cloud_got["categories_of_data_in_words"]
        others = info["other_recipients"]
        # The register's recipients that received nothing of this person's: the profile's own, and the new one.
        assert [r["name"] for r in others] == [*(r.name for r in REGISTER), "Tilitoimisto Oy"]
        assert others[-1]["purpose"] == "Serving the customer relationship"
        assert info["recipients"] == [r.en for r in NOTICE.recipients]  # the notice's words stay
        finnish = document(client, tenant, person["id"], lang="fi")["information"]["recipients_of_your_data"]
        assert finnish[0]["categories_of_data_in_words"] == ["Asiakastunnisteet", "Markkinointikiellot ja -luvat"]

    def test_each_fields_source_in_words_never_the_code_alone(self, client: TestClient, tenant: Tenant) -> None:
        """Art. 15(1)(g): where the data came from, per field, in the person's language."""
        person = new_customer(
            client, tenant, source="registration", street_address="Vanha tie 1", city="Espoo", ip_address="192.0.2.1"
        )
        moved = {"street_address": "Uusi katu 2", "source": "update_service"}
        assert client.patch(f"/v1/customers/{person['id']}", json=moved, headers=tenant.headers()).status_code == 200
        for lang, words in (
            ("fi", "Saatu osoitetietojen päivityspalvelusta"),
            ("sv", "Erhållen från en tjänst för uppdatering av adressuppgifter"),
            ("en", "Obtained from an address update service"),
        ):
            source = document(client, tenant, person["id"], lang=lang)["information"]["source"]
            fields = {f["field"]: f for f in source["fields"]}
            assert fields["street_address"]["source"] == "update_service"
            assert fields["street_address"]["in_words"].startswith(words)
            assert "update_service" not in fields["street_address"]["in_words"]
            assert fields["city"]["source"] == "registration"
            held = set(document(client, tenant, person["id"])["information"]["your_data_held"])
            assert set(fields) == held - {"source", "kind"}  # the record's own fields come from nowhere else
        english = document(client, tenant, person["id"], lang="en")["information"]["source"]
        assert {f["field"]: f["field_in_words"] for f in english["fields"]}["street_address"] == "Street address"
        assert {f["field"]: f["in_words"] for f in english["fields"]}[
            "ip_address"
        ] == "Observed from your use of our service."
        unknown = new_customer(client, tenant)
        told = document(client, tenant, unknown["id"], lang="en")["information"]["source"]
        assert told["your_record"] is None
        assert told["your_record_in_words"] == "Where it came from was not recorded."

    def test_each_purpose_with_its_basis_in_words(self, client: TestClient, tenant: Tenant) -> None:
        profile = client.get("/v1/controller", headers=tenant.headers()).json()["profile"]
        profile["notice"]["purposes"] = [{"fi": "Laskutus", "en": "Invoicing", "basis": "contract"}]
        assert client.put("/v1/controller", json=profile, headers=tenant.headers()).status_code == 200
        person = new_customer(client, tenant)
        bases = document(client, tenant, person["id"], lang="en")["information"]["legal_bases"]
        assert bases[0]["purpose"] == "Invoicing"
        assert bases[0]["basis"] == "contract"
        assert bases[0]["in_words"].endswith("(Article 6(1)(b))")


# --- the access answer as a page to read (Art. 12(1), 15(3)) --------------------------------------------------

SECTIONS = (
    "controller", "purposes", "categories", "your-data", "sources", "recipients", "other-recipients", "retention",
    "automated-decisions", "rights", "complaint", "marketing", "suppression-lists", "requests", "orders",
    "audit-history",
)  # fmt: skip


class TestPage:
    def test_the_request_export_is_a_page_in_the_answers_language(self, client: TestClient, tenant: Tenant) -> None:
        person = rich_customer(client, tenant)
        body = {"type": "access", "customer_id": person["id"], "channel": "email", "answer_language": "sv"}
        request = client.post("/v1/requests", json=body, headers=tenant.headers()).json()
        client.post(f"/v1/requests/{request['id']}/complete", json={}, headers=tenant.headers())
        url = f"/v1/requests/{request['id']}/export"
        page = client.get(url, params={"format": "html"}, headers=tenant.headers())
        assert page.status_code == 200, page.text
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert page.headers["content-security-policy"] == exports.page_policy()
        assert "'unsafe-inline'" not in page.headers["content-security-policy"]
        assert page.headers["cache-control"] == "no-store"
        assert page.headers["content-disposition"] == f'inline; filename="access-{person["id"]}.html"'
        text = page.text
        assert '<html lang="sv">' in text
        assert "Personuppgifter om dig" in text
        for section in SECTIONS:
            assert f'<section id="{section}">' in text, section
        # The person's data as tables, the orders and the history included.
        for value in (
            "Göteborg",
            "sven.svensson@example.se",
            "o-1",
            "o-2",
            "Kaiutin \N{MULTIPLICATION SIGN} 2 à 49.90 (SPK-1)",
            WORDING,
        ):
            assert value in text, value
        assert "Du lämnade uppgiften själv när du registrerade dig." in text  # the source in words
        assert "Adresserad direktreklam" in text
        # Nothing runs, nothing comes from elsewhere.
        assert "<script" not in text
        assert " src=" not in text
        assert "<link" not in text
        english = client.get(url, params={"format": "html", "lang": "en"}, headers=tenant.headers()).text
        assert '<html lang="en">' in english
        assert "The personal data we process about you" in english
        # Each download is audited as a disclosure, as the JSON's are.
        assert len(disclosures(client, tenant, person["id"])) == 2

    def test_a_browser_asking_for_html_gets_the_page(self, client: TestClient, tenant: Tenant) -> None:
        person = new_customer(client, tenant)
        browser = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
        page = client.get(f"/v1/customers/{person['id']}/export", headers=tenant.headers(**browser))
        assert page.headers["content-type"].startswith("text/html")
        asked = client.get(f"/v1/customers/{person['id']}/export", headers=tenant.headers(Accept="application/json"))
        assert asked.headers["content-type"].startswith("application/json")
        plain = client.get(f"/v1/customers/{person['id']}/export", headers=tenant.headers())
        assert plain.headers["content-type"].startswith("application/json")
        for accept in ("*/*", "application/json, text/html;q=0.5", "text/*;q=0.3, application/*"):
            answer = client.get(f"/v1/customers/{person['id']}/export", headers=tenant.headers(Accept=accept))
            assert answer.headers["content-type"].startswith("application/json"), accept
        liked = client.get(f"/v1/customers/{person['id']}/export", headers=tenant.headers(Accept="text/html;q=0.9"))
        assert liked.headers["content-type"].startswith("text/html")
        portable = client.get(
            f"/v1/customers/{person['id']}/export", params={"kind": "portability"}, headers=tenant.headers(**browser)
        )
        assert portable.headers["content-type"].startswith("application/json")  # Art. 20: machine-readable
        refused = export(client, tenant, person["id"], kind="portability", format="html")
        assert_problem(refused, 422)

    def test_the_persons_values_are_escaped(self, client: TestClient, tenant: Tenant) -> None:
        person = new_customer(client, tenant, first_name='<script>alert("x")</script>', city="<b>Oulu</b>")
        text = export(client, tenant, person["id"], format="html").text
        assert "<script" not in text
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in text
        assert "&lt;b&gt;Oulu&lt;/b&gt;" in text

    def test_thousands_of_orders_stream_in_bounded_chunks(
        self, client: TestClient, tenant: Tenant, owner_db: psycopg.Connection[Any]
    ) -> None:
        """The page is sent while the orders are read: no chunk holds much more than `PAGE_CHUNK` characters,
        however many orders there are."""
        person = new_customer(client, tenant)
        fast_orders(owner_db, tenant, person["id"], 3000)
        chunks: list[bytes] = []
        with client.stream(
            "GET", f"/v1/customers/{person['id']}/export", params={"format": "html"}, headers=tenant.headers()
        ) as response:
            assert response.status_code == 200
            assert "content-length" not in response.headers
            chunks.extend(response.iter_bytes())
        assert len(chunks) > 5
        assert max(len(c) for c in chunks) < 4 * exports.PAGE_CHUNK
        text = b"".join(chunks).decode()
        assert text.count(f"bulk-{person['id']}-") == 3000
        assert text.rstrip().endswith("</html>")

    def test_the_openapi_declares_the_page(self, client: TestClient) -> None:
        paths = client.get("/openapi.json").json()["paths"]
        for path in ("/v1/requests/{request_id}/export", "/v1/customers/{customer_id}/export"):
            content = paths[path]["get"]["responses"]["200"]["content"]
            assert {"application/json", "text/html"} <= set(content), path
