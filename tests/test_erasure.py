"""Erasure (GDPR Art. 17) end to end through the HTTP API, proved by scanning the whole database.

The scan reads every column of every table in the schema as the database owner (no row-level security):
the register, the audit log (bytea searched as raw bytes), the webhook outbox, the job queue, even
alembic's own table. A value erasure removed must occur nowhere; a value a hold keeps must occur only where
it is kept. Every value is made unique for the test (uuid-based), so any hit can only be the person's data.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets
import threading
import uuid
from http.server import BaseHTTPRequestHandler
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql

from app.json import loads
from app.models.api_keys import Role
from app.services import deadlines
from app.validators import business_id_is_valid, normalise_phone
from tests.conftest import Tenant
from tests.test_webhooks import Receiver, subscribe, work_the_queue, work_the_queue_until

Db = psycopg.Connection[tuple[Any, ...]]

# The customer fields that take free values; each gets one of its own per test.
TEXT_FIELDS = (
    "external_id",
    "customer_number",
    "first_name",
    "last_name",
    "organisation",
    "title",
    "street_address",
    "postal_code",
    "city",
    "website",
    "payment_method",
    "payment_terms",
    "delivery_method",
)
# The rest of a customer's data: not unique enough to scan for, so checked through the API.
OTHER_FIELDS = {
    "country": "FI",
    "preferred_language": "sv",
    "newsletter": True,
    "relationship_start_date": "2015-03-01",
    "source": "registration",
}


# --- values that cannot occur by chance ------------------------------------------------------------


def unique(label: str) -> str:
    """A string no other test, and no random bytes, will ever contain."""
    return f"{label}-{uuid.uuid4().hex}"


def unique_phone() -> str:
    """A Finnish mobile number in E.164, as the register stores it."""
    while True:
        try:
            phone = normalise_phone(f"+35840{secrets.randbelow(10**7):07d}")
        except ValueError:
            continue
        assert phone is not None
        return phone


def unique_business_id() -> str:
    """A random Y-tunnus with a valid check digit."""
    while True:
        digits = f"{secrets.randbelow(10**7):07d}"
        for check in range(10):
            if business_id_is_valid(f"{digits}-{check}"):
                return f"{digits}-{check}"


def unique_ip() -> str:
    """An IPv6 address in the documentation range, written as the register writes it."""
    return str(ipaddress.IPv6Address(bytes.fromhex("20010db8") + secrets.token_bytes(12)))


# --- the scan --------------------------------------------------------------------------------------


def schema_columns(db: Db) -> dict[str, list[tuple[str, str]]]:
    """Every table of the schema (the service's, the job queue's, alembic's) with its columns and types."""
    tables: dict[str, list[tuple[str, str]]] = {}
    rows = db.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
    )
    for table, column, data_type in rows:
        tables.setdefault(table, []).append((column, data_type))
    return tables


def scan(db: Db, *needles: str) -> dict[str, dict[str, int]]:
    """Where each needle occurs in the whole database: needle -> {"table.column": rows holding it}.

    Columns are compared as text (any case); bytea columns (the audit log's values, keys, hashes) as raw
    bytes, so a value stored there unencrypted would show.
    """
    tables = schema_columns(db)
    assert {"customer", "audit_event", "webhook_event", "procrastinate_jobs", "alembic_version"} <= set(tables)
    found: dict[str, dict[str, int]] = {needle: {} for needle in needles}
    for table, columns in tables.items():
        counts: list[sql.Composable] = []
        keys: list[tuple[str, str]] = []
        params: list[object] = []
        for column, data_type in columns:
            for needle in needles:
                if data_type == "bytea":
                    test = sql.SQL("position({}::bytea in {})").format(sql.Placeholder(), sql.Identifier(column))
                    params.append(needle.encode())
                else:
                    test = sql.SQL("position({}::text in lower({}::text))").format(
                        sql.Placeholder(), sql.Identifier(column)
                    )
                    params.append(needle.lower())
                counts.append(sql.SQL("count(*) FILTER (WHERE {} > 0)").format(test))
                keys.append((column, needle))
        query = sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join(counts), sql.Identifier(table))
        row = db.execute(query, params).fetchone()
        assert row is not None
        for (column, needle), count in zip(keys, row, strict=True):
            if count:
                found[needle][f"{table}.{column}"] = count
    return found


def assert_nowhere(db: Db, *needles: str) -> None:
    """None of the values is left anywhere in the database."""
    hits = {needle: where for needle, where in scan(db, *needles).items() if where}
    assert hits == {}


# --- the API ---------------------------------------------------------------------------------------


def call(
    client: TestClient, tenant: Tenant, method: str, path: str, status: int = 200, role: Role = Role.admin, **kw: Any
) -> Any:
    response = client.request(method, path, headers=tenant.headers(role), **kw)
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def rich_customer(client: TestClient, tenant: Tenant, **fields: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """A customer with a unique value in every free field; returns it and field -> value as stored."""
    values = {name: unique(name.replace("_", "-")) for name in TEXT_FIELDS}
    values["postal_code"] = "pc" + uuid.uuid4().hex[:18]  # at most 20 characters
    values["website"] = f"https://{uuid.uuid4().hex}.example.fi/"
    values |= {
        "email": f"{uuid.uuid4().hex}@erasure.example.fi",
        "phone": unique_phone(),
        "business_id": unique_business_id(),
        "ip_address": unique_ip(),
    }
    body = {**values, **OTHER_FIELDS, "kind": "private", **fields}
    customer = call(client, tenant, "POST", "/v1/customers", 201, json=body)
    for name, value in values.items():
        assert customer[name] == value, name  # stored exactly so: the scan looks for what is there
    return customer, values


def add_order(
    client: TestClient, tenant: Tenant, customer_id: str, order_date: dt.date, invoice_status: str
) -> tuple[dict[str, Any], list[str]]:
    """An order whose external id, line and SKU are unique; returns it and those values."""
    external_id, line, sku = unique("order"), unique("line"), unique("sku")
    body = {
        "external_id": external_id,
        "order_date": order_date.isoformat(),
        "lines": [{"description": line, "quantity": "1", "unit_price": "12.50", "sku": sku}],
        "total": "12.50",
        "invoice_status": invoice_status,
    }
    order = call(client, tenant, "POST", f"/v1/customers/{customer_id}/orders", 201, json=body)
    return order, [external_id, line, sku]


def without_due_date(db: Db, order_id: str) -> None:
    """Make the order one recorded before due dates were kept, as migration 0010 left those (triggers off for
    this one statement of this session: the change is the past's, not the service's)."""
    with db.transaction():
        db.execute("SET LOCAL session_replication_role = replica")
        db.execute("UPDATE customer_order SET invoice_due_date = NULL WHERE id = %s", (order_id,))


def new_request(client: TestClient, tenant: Tenant, type_: str, **body: Any) -> dict[str, Any]:
    return call(client, tenant, "POST", "/v1/requests", 201, json={"type": type_, "channel": "email", **body})  # type: ignore[no-any-return]


def act(client: TestClient, tenant: Tenant, request_id: str, action: str, status: int = 200, **body: Any) -> Any:
    return call(client, tenant, "POST", f"/v1/requests/{request_id}/{action}", status, json=body)


def erase(client: TestClient, tenant: Tenant, customer_id: str) -> dict[str, Any]:
    """Register an erasure request for the customer and complete it; return the completed request."""
    request = new_request(client, tenant, "erasure", customer_id=customer_id, erasure={"ground": "no_longer_necessary"})
    done = act(client, tenant, request["id"], "complete")
    assert done["status"] == "completed"
    return done  # type: ignore[no-any-return]


def audit_events(client: TestClient, tenant: Tenant, subject_id: str) -> list[dict[str, Any]]:
    """Every audit event about the subject, following the pages."""
    events: list[dict[str, Any]] = []
    url: str | None = f"/v1/audit?subject_id={subject_id}&limit=500"
    while url:
        page = call(client, tenant, "GET", url, role=Role.auditor)
        events += page["items"]
        url = page["next"]
    return events


def erased_item(outcome: dict[str, Any]) -> dict[str, Any]:
    """The outcome's entry for the customer's own fields."""
    return next(item for item in outcome["erased"] if item["category"] == "customer")


def kept_fields(outcome: dict[str, Any], reason: str) -> set[str]:
    items = [k for k in outcome["kept"] if k["category"] == "customer" and k["reason"] == reason]
    assert len(items) == 1, outcome["kept"]
    return set(items[0]["fields"])


def webhook_events(db: Db, subject_id: str, type_: str) -> list[dict[str, Any]]:
    rows = db.execute(
        "SELECT payload FROM webhook_event WHERE subject_id = %s AND type = %s ORDER BY created_at",
        (subject_id, type_),
    )
    return [payload for (payload,) in rows]


# --- 1. full erasure -------------------------------------------------------------------------------


def test_full_erasure_leaves_nothing_readable_anywhere(client: TestClient, tenant: Tenant, owner_db: Db) -> None:
    """Nothing held: every value the person ever gave, and every value about them, is gone from every table.

    The person has every field filled in, a consent and a prohibition (with the consent's wording), an order
    past the accounting period, marketing events in the webhook outbox, a completed rectification and an
    access request that waited for proof of identity, each with their own details. After the erasure none
    of those values occurs in any column of any table; the audit log still verifies but shows the person's
    events as erased; the person cannot be found, marketed to or edited.
    """
    # Earlier marketing events go to the outbox; the subscriber is gone before the erasure (a live one: test 3).
    crm = subscribe(client, tenant, "https://crm.invalid/hooks", events=["marketing.changed", "customer.rectified"])
    customer, values = rich_customer(client, tenant)
    cid = customer["id"]
    needles = list(values.values())

    source, wording = unique("form"), unique("wording")
    marketing = {
        "channels": {"electronic": {"consent": True}, "telemarketing": {"prohibited": True}},
        "received_via": "web",
        "source": source,
        "wording": wording,
    }
    call(client, tenant, "PUT", f"/v1/customers/{cid}/marketing", json=marketing, role=Role.integration)
    needles += [source, wording]

    old = deadlines.today().replace(year=deadlines.today().year - 8, month=3, day=15)
    _, order_values = add_order(client, tenant, cid, old, "paid")
    needles += order_values

    # A rectification found by e-mail, carried out: the corrected value is the person's too.
    new_city = unique("corrected-city")
    asked = {"email": values["email"], "first_name": unique("asked-first"), "street_address": unique("asked-street")}
    details = unique("rectification-details")
    asked_title, refused_because, rectified_note = unique("asked-title"), unique("refused-because"), unique("r-note")
    rectification = new_request(
        client,
        tenant,
        "rectification",
        person=asked,
        details=details,
        rectification={"corrections": {"city": new_city, "title": asked_title}},
    )
    assert rectification["customer_id"] == cid
    act(client, tenant, rectification["id"], "complete", refuse_fields={"title": refused_because}, note=rectified_note)
    needles += [new_city, asked["first_name"], asked["street_address"], details]
    needles += [asked_title, refused_because, rectified_note]

    # What staff wrote about the person in requests refused, withdrawn and extended.
    refusal, withdrawal, extension = unique("refusal-reasons"), unique("withdraw-note"), unique("extension-reason")
    refused = new_request(client, tenant, "portability", customer_id=cid)
    act(client, tenant, refused["id"], "refuse", reasons=refusal)
    withdrawn = new_request(client, tenant, "restriction", customer_id=cid, restriction={"ground": "legal_claims"})
    act(client, tenant, withdrawn["id"], "withdraw", note=withdrawal)
    needles += [refusal, withdrawal, extension]

    # An access request that waited for proof of identity, with notes about the person.
    access = new_request(
        client,
        tenant,
        "access",
        customer_id=cid,
        channel="letter",
        person={"first_name": unique("access-first"), "postal_code": "ac" + uuid.uuid4().hex[:18]},
        details=unique("access-details"),
    )
    reason, note = unique("identity-reason"), unique("identity-note")
    act(client, tenant, access["id"], "request-identity", reason=reason)
    act(client, tenant, access["id"], "verify", method="document", note=note)
    act(client, tenant, access["id"], "extend", months=1, reason=extension)
    act(client, tenant, access["id"], "complete")
    needles += [access["person"]["first_name"], access["person"]["postal_code"], access["details"], reason, note]

    # The scan sees each value before the erasure (but the old city, now only in the encrypted audit log).
    assert [needle for needle, where in scan(owner_db, *needles).items() if not where] == [values["city"]]

    call(client, tenant, "DELETE", f"/v1/webhooks/{crm['id']}", 204)
    erasure_details = unique("erasure-details")
    request = new_request(
        client,
        tenant,
        "erasure",
        person={"email": values["email"]},
        details=erasure_details,
        erasure={"ground": "no_longer_necessary"},
    )
    assert request["customer_id"] == cid
    needles.append(erasure_details)
    done = act(client, tenant, request["id"], "complete")

    outcome = done["outcome"]
    assert outcome["kept"] == []
    assert outcome["recipients_notified"] == []
    assert erased_item(outcome)["fields"] == sorted({*values, *OTHER_FIELDS})
    counts = {item["category"]: item.get("count") for item in outcome["erased"]}
    assert counts == {
        "customer": None,
        "orders": 1,
        "marketing_history": 2,
        "request_details": None,
        "audit_values": None,
    }

    after = call(client, tenant, "GET", f"/v1/customers/{cid}")
    assert after["erased_at"] is not None
    assert after["kind"] == "private"
    assert {name for name in (*values, *OTHER_FIELDS) if after[name] is not None} == set()
    assert call(client, tenant, "GET", f"/v1/customers/{cid}/orders")["items"] == []

    # THE SCAN: not one of the values is left, in any column of any table.
    assert_nowhere(owner_db, *needles)

    # The audit log keeps the events, unreadable, and its chain still holds.
    events = audit_events(client, tenant, cid)
    assert {e["entity"] for e in events} >= {"customer", "order", "marketing_event", "request"}
    assert [e["seq"] for e in events if not e["erased"] or e["changes"] is not None] == []
    verification = call(client, tenant, "GET", "/v1/audit/verify", role=Role.auditor)
    assert verification["ok"] is True, verification

    # Blocked from every use: no marketing, not found, not editable.
    decision = call(client, tenant, "GET", f"/v1/customers/{cid}/marketing/electronic", role=Role.integration)
    assert decision["allowed"] is False
    assert decision["reason"] == "erased"
    for query in ({"email": values["email"]}, {"phone": values["phone"]}, {"external_id": values["external_id"]}):
        assert call(client, tenant, "GET", "/v1/customers", params=query)["items"] == []
    call(client, tenant, "PATCH", f"/v1/customers/{cid}", 409, json={"city": "Espoo"})

    # The requests stay as proof of the answers, without the person's values.
    for earlier in call(client, tenant, "GET", "/v1/requests", params={"customer_id": cid})["items"]:
        assert earlier["person"] == {}
        assert earlier["details"] is None
    letter = client.get(f"/v1/requests/{request['id']}/letter", params={"lang": "en"}, headers=tenant.headers())
    assert letter.status_code == 200, letter.text
    assert [n for n in needles if n.lower() in letter.text.lower()] == []


# --- 2. holds --------------------------------------------------------------------------------------


def check_holds(
    db: Db,
    values: dict[str, str],
    kept: set[str],
    extra_erased: list[str],
    extra_kept: dict[str, str],
) -> None:
    """The erased values are nowhere; each kept one is in its own column of its own row and nowhere else."""
    gone = [value for name, value in values.items() if name not in kept] + extra_erased
    assert_nowhere(db, *gone)
    expected = {values[name]: {f"customer.{name}": 1} for name in kept if name in values}
    expected |= {value: {where: 1} for value, where in extra_kept.items()}
    assert scan(db, *expected) == expected


def test_an_open_invoice_keeps_who_owes_it_and_where(client: TestClient, tenant: Tenant, owner_db: Db) -> None:
    """Art. 17(3)(e): an unpaid invoice keeps the name and postal address and the order; e-mail and phone go.

    The order is old (past the accounting period) yet unpaid, and recorded before due dates were kept: the claim,
    not the Accounting Act, keeps it, until it is settled or a due date lets the limitation be counted.
    """
    customer, values = rich_customer(client, tenant)
    old = deadlines.today().replace(year=deadlines.today().year - 8, month=3, day=15)
    order, (order_ext, line, sku) = add_order(client, tenant, customer["id"], old, "open")
    without_due_date(owner_db, order["id"])

    outcome = erase(client, tenant, customer["id"])["outcome"]

    kept = kept_fields(outcome, "open_invoice")
    assert {"first_name", "last_name", "street_address", "postal_code", "city"} <= kept
    assert not {"email", "phone"} & kept
    assert {k["reason"] for k in outcome["kept"]} == {"open_invoice"}
    orders = next(k for k in outcome["kept"] if k["category"] == "orders")
    assert (orders["reason"], orders["count"], orders["until"]) == ("open_invoice", 1, None)
    assert erased_item(outcome)["fields"] == sorted({*values, *OTHER_FIELDS} - kept)
    assert "orders" not in {item["category"] for item in outcome["erased"]}

    after = call(client, tenant, "GET", f"/v1/customers/{customer['id']}")
    assert (after["first_name"], after["street_address"]) == (values["first_name"], values["street_address"])
    assert (after["email"], after["phone"]) == (None, None)
    assert [o["id"] for o in call(client, tenant, "GET", f"/v1/customers/{customer['id']}/orders")["items"]] == [
        order["id"]
    ]
    check_holds(
        owner_db,
        values,
        kept,
        [],
        {
            order_ext: "customer_order.external_id",
            line: "customer_order.lines",
            sku: "customer_order.lines",
        },
    )


def test_a_recent_voucher_keeps_the_name_until_the_accounting_period_ends(
    client: TestClient, tenant: Tenant, owner_db: Db
) -> None:
    """Accounting Act 2:10: this year's paid order is a voucher kept to 31.12 of year + 6, with the name.

    The address, e-mail and phone are not needed for the voucher, so they go.
    """
    customer, values = rich_customer(client, tenant)
    today = deadlines.today()
    _, (order_ext, line, sku) = add_order(client, tenant, customer["id"], today.replace(month=1, day=1), "paid")

    outcome = erase(client, tenant, customer["id"])["outcome"]

    kept = kept_fields(outcome, "accounting")
    assert {"first_name", "last_name"} <= kept
    assert not {"street_address", "postal_code", "city", "email", "phone"} & kept
    until = f"{today.year + 6}-12-31"
    assert {(k["category"], k["reason"], k["until"]) for k in outcome["kept"]} == {
        ("customer", "accounting", until),
        ("orders", "accounting", until),
    }
    assert erased_item(outcome)["fields"] == sorted({*values, *OTHER_FIELDS} - kept)

    after = call(client, tenant, "GET", f"/v1/customers/{customer['id']}")
    assert (after["first_name"], after["last_name"]) == (values["first_name"], values["last_name"])
    assert after["street_address"] is None
    check_holds(
        owner_db,
        values,
        kept,
        [],
        {order_ext: "customer_order.external_id", line: "customer_order.lines", sku: "customer_order.lines"},
    )


def test_an_active_business_contact_keeps_the_contact_details(client: TestClient, tenant: Tenant, owner_db: Db) -> None:
    """A business contact during the relationship (no end date) keeps name, organisation, e-mail and phone.

    Their marketing history goes all the same, and they are blocked from marketing.
    """
    customer, values = rich_customer(client, tenant, kind="business")
    wording = unique("wording")
    marketing = {"channels": {"electronic": {"consent": True}}, "wording": wording}
    call(client, tenant, "PUT", f"/v1/customers/{customer['id']}/marketing", json=marketing)

    outcome = erase(client, tenant, customer["id"])["outcome"]

    kept = kept_fields(outcome, "business_contact")
    assert {"first_name", "last_name", "organisation", "email", "phone"} <= kept
    assert not {"street_address", "external_id", "ip_address"} & kept
    assert [(k["reason"], k["until"]) for k in outcome["kept"]] == [("business_contact", None)]
    assert erased_item(outcome)["fields"] == sorted({*values, *OTHER_FIELDS} - kept)

    after = call(client, tenant, "GET", f"/v1/customers/{customer['id']}")
    assert (after["email"], after["phone"], after["kind"]) == (values["email"], values["phone"], "business")
    decision = call(client, tenant, "GET", f"/v1/customers/{customer['id']}/marketing/electronic")
    assert (decision["allowed"], decision["reason"]) == (False, "erased")
    assert call(client, tenant, "GET", "/v1/customers", params={"email": values["email"]})["items"] == []
    check_holds(owner_db, values, kept, [wording], {})


# --- 3. Art. 19: the recipients are told -----------------------------------------------------------


def test_recipients_get_the_external_id_then_the_outbox_forgets_it(
    client: TestClient, tenant: Tenant, owner_db: Db, database_url: str
) -> None:
    """customer.erased carries the old external id to each subscriber; once delivered the outbox drops it."""
    receiver = Receiver()
    try:
        hook = subscribe(client, tenant, receiver.url, description="Verkkokauppa")
        customer, values = rich_customer(client, tenant)
        external_id = values["external_id"]

        outcome = erase(client, tenant, customer["id"])["outcome"]

        assert outcome["recipients_notified"] == ["Verkkokauppa"]
        # Until the receiver has it, the outbox must hold the id: it is how the receiver finds the person.
        assert scan(owner_db, external_id)[external_id] == {"webhook_event.payload": 1}
        work_the_queue(client, database_url)
        assert len(receiver.received) == 1
        event = loads(receiver.received[0][1])
        assert event["type"] == "customer.erased"
        assert event["data"] == {"customer_id": customer["id"], "external_id": external_id}
        deliveries = call(client, tenant, "GET", f"/v1/webhooks/{hook['id']}/deliveries")["items"]
        assert [d["status"] for d in deliveries] == ["delivered"]
        assert webhook_events(owner_db, customer["id"], "customer.erased") == [
            {**event, "data": {"customer_id": customer["id"], "external_id": None}}
        ]
        assert_nowhere(owner_db, *values.values())
    finally:
        receiver.server.shutdown()


def test_without_subscribers_the_event_never_holds_the_external_id(
    client: TestClient, tenant: Tenant, owner_db: Db
) -> None:
    """Nobody to tell: the event is stored for the record, without the external id from the start."""
    customer, values = rich_customer(client, tenant)

    outcome = erase(client, tenant, customer["id"])["outcome"]

    assert outcome["recipients_notified"] == []
    [event] = webhook_events(owner_db, customer["id"], "customer.erased")
    assert event["data"] == {"customer_id": customer["id"], "external_id": None}
    assert_nowhere(owner_db, *values.values())


@pytest.mark.slow  # waits out the first retry's backoff
def test_the_external_id_stays_until_the_last_subscriber_has_the_event(
    client: TestClient, tenant: Tenant, owner_db: Db, database_url: str
) -> None:
    """Two subscribers, one refusing at first, one stopped before delivery: the id goes when none is pending."""
    first, second = Receiver(), Receiver()
    try:
        subscribe(client, tenant, first.url, description="Kassa")
        subscribe(client, tenant, second.url, description="CRM")
        stopped = subscribe(client, tenant, "https://gone.invalid/hooks", description="Vanha")
        customer, values = rich_customer(client, tenant)
        external_id = values["external_id"]
        second.statuses = [503]

        outcome = erase(client, tenant, customer["id"])["outcome"]

        assert sorted(outcome["recipients_notified"]) == ["CRM", "Kassa", "Vanha"]
        call(client, tenant, "DELETE", f"/v1/webhooks/{stopped['id']}", 204)
        work_the_queue(client, database_url)
        assert (len(first.received), len(second.received)) == (1, 1)
        # The CRM has not taken it yet: its retry still needs the id.
        assert scan(owner_db, external_id)[external_id] == {"webhook_event.payload": 1}
        work_the_queue_until(client, database_url, lambda: len(second.received) >= 2, message="the CRM got no retry")
        assert len(second.received) == 2
        assert loads(second.received[1][1])["data"]["external_id"] == external_id
        assert_nowhere(owner_db, external_id)
    finally:
        first.server.shutdown()
        second.server.shutdown()


class GatedReceiver(Receiver):
    """A receiver that holds each answer until `gate` opens: deliveries to several of them overlap."""

    def __init__(self, gate: threading.Event) -> None:
        super().__init__()
        handler: type[BaseHTTPRequestHandler] = self.server.RequestHandlerClass  # type: ignore[assignment]

        class Gated(handler):  # type: ignore[valid-type,misc]
            def do_POST(self) -> None:
                gate.wait(10)
                super().do_POST()

        self.server.RequestHandlerClass = Gated


def test_the_external_id_goes_when_subscribers_take_the_event_at_the_same_moment(
    client: TestClient, tenant: Tenant, owner_db: Db, database_url: str
) -> None:
    """Deliveries to two subscribers finishing together still drop the id (neither may count on the other)."""
    gate = threading.Event()
    receivers = [GatedReceiver(gate), GatedReceiver(gate)]
    try:
        for receiver in receivers:
            subscribe(client, tenant, receiver.url)
        external_ids = []
        for _ in range(3):
            customer, values = rich_customer(client, tenant)
            erase(client, tenant, customer["id"])
            external_ids.append(values["external_id"])
        # Both deliveries of each event are in flight before either answer comes.
        threading.Timer(1.0, gate.set).start()
        work_the_queue(client, database_url)
        assert [len(r.received) for r in receivers] == [3, 3]
        assert_nowhere(owner_db, *external_ids)
    finally:
        gate.set()
        for receiver in receivers:
            receiver.server.shutdown()


# --- 4. refusals and repeats -----------------------------------------------------------------------


def test_an_erasure_awaiting_proof_of_identity_cannot_be_completed(client: TestClient, tenant: Tenant) -> None:
    """Art. 12(6): while proof of identity is awaited nothing is erased; once verified, it completes."""
    customer, values = rich_customer(client, tenant)
    request = new_request(client, tenant, "erasure", customer_id=customer["id"], erasure={"ground": "objection"})
    act(client, tenant, request["id"], "request-identity", reason="The letter is not signed by the person.")

    act(client, tenant, request["id"], "complete", 409)

    untouched = call(client, tenant, "GET", f"/v1/customers/{customer['id']}")
    assert untouched["erased_at"] is None
    assert untouched["email"] == values["email"]
    act(client, tenant, request["id"], "verify", method="strong_authentication")
    assert act(client, tenant, request["id"], "complete")["status"] == "completed"


def test_erasing_twice_completes_and_keeps_nothing_new(client: TestClient, tenant: Tenant, owner_db: Db) -> None:
    """A second erasure of an erased person is answered, erases nothing more, keeps nothing, moves no date."""
    customer, values = rich_customer(client, tenant)
    first = erase(client, tenant, customer["id"])
    before = call(client, tenant, "GET", f"/v1/customers/{customer['id']}")

    again = erase(client, tenant, customer["id"])

    assert again["outcome"]["kept"] == []
    assert "customer" not in {item["category"] for item in again["outcome"]["erased"]}
    after = call(client, tenant, "GET", f"/v1/customers/{customer['id']}")
    assert (after["erased_at"], after["version"]) == (before["erased_at"], before["version"])
    assert first["outcome"]["kept"] == []
    assert_nowhere(owner_db, *values.values())
    verification = call(client, tenant, "GET", "/v1/audit/verify", role=Role.auditor)
    assert verification["ok"] is True


@pytest.mark.parametrize("linked", ["on_receipt", "on_verification"])
def test_the_erasure_request_stays_as_proof_without_the_persons_values(
    client: TestClient, tenant: Tenant, owner_db: Db, linked: str
) -> None:
    """The request is never deleted (proof of the answer), but its person and details are scrubbed.

    Linked on receipt (matched by e-mail), its audit events are under the person's key; linked only when
    the identity is verified, its first events are under the request's own key: both are destroyed.
    """
    customer, values = rich_customer(client, tenant)
    person = {"first_name": unique("first"), "city": unique("city")}
    if linked == "on_receipt":
        person["email"] = values["email"]
    details = unique("details")
    request = new_request(
        client, tenant, "erasure", person=person, details=details, erasure={"ground": "consent_withdrawn"}
    )
    if linked == "on_receipt":
        assert request["customer_id"] == customer["id"]
    else:
        assert request["customer_id"] is None
        act(client, tenant, request["id"], "verify", method="in_person", customer_id=customer["id"])
    act(client, tenant, request["id"], "complete")

    stored = call(client, tenant, "GET", f"/v1/requests/{request['id']}")
    assert stored["status"] == "completed"
    assert stored["type"] == "erasure"
    assert stored["customer_id"] == customer["id"]
    assert stored["person"] == {}
    assert stored["details"] is None
    assert stored["params"] == {"ground": "consent_withdrawn"}
    assert stored["closed_at"] is not None
    assert_nowhere(owner_db, person["first_name"], person["city"], details, *values.values())
    for subject in (customer["id"], request["id"]):
        assert [e["seq"] for e in audit_events(client, tenant, subject) if not e["erased"]] == []
    assert len(audit_events(client, tenant, request["id"])) == (1 if linked == "on_verification" else 0)


@pytest.mark.parametrize("status", ["paid", "credited"])
def test_settled_old_orders_are_erased_with_the_person(
    client: TestClient, tenant: Tenant, owner_db: Db, status: str
) -> None:
    """An order settled and past the accounting period keeps nothing: the order goes with the rest."""
    customer, values = rich_customer(client, tenant)
    old = deadlines.today().replace(year=deadlines.today().year - 7, month=1, day=1)
    _, order_values = add_order(client, tenant, customer["id"], old, status)

    outcome = erase(client, tenant, customer["id"])["outcome"]

    assert outcome["kept"] == []
    assert {"category": "orders", "count": 1} in outcome["erased"]
    assert_nowhere(owner_db, *values.values(), *order_values)
