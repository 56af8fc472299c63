"""What an erasure keeps, and until when: each rule stated with its source (app/services/holds.py).

- GDPR Art. 17(1) and (3): a live business relationship answers only the grounds that turn on necessity,
  17(1)(a) and (c); never (b), (d), (e), (f); and staff may release the hold with reasons.
- Accounting Act 1336/1997, chapter 2, section 10: vouchers six years from the end of the year in which the
  controller's financial year ended (not the calendar year).
- Act on the limitation of debts 728/2003, sections 4, 10, 11: an unpaid invoice is a claim until settled or
  three years from its due date, or from the last interruption.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.models.api_keys import Role
from app.models.orders import InvoiceStatus, Order
from app.services import deadlines
from app.services.holds import Policy, claim_until, financial_year_end, voucher_kept_until
from tests.conftest import Tenant, make_tenant
from tests.test_erasure import act, add_order, call, kept_fields, new_request, rich_customer

TODAY = deadlines.today()


def order(order_date: dt.date, **fields: Any) -> Order:
    return Order(
        controller_id=uuid.uuid4(), customer_id=uuid.uuid4(), order_date=order_date, total=1, currency="EUR", **fields
    )


# --- the Accounting Act's period by the financial year (1336/1997 2:10) -----------------------------------------


@pytest.mark.parametrize(
    ("day", "start", "end"),
    [
        (dt.date(2019, 8, 15), (1, 1), dt.date(2019, 12, 31)),
        (dt.date(2019, 8, 15), (7, 1), dt.date(2020, 6, 30)),
        (dt.date(2019, 6, 30), (7, 1), dt.date(2019, 6, 30)),
        (dt.date(2019, 7, 1), (7, 1), dt.date(2020, 6, 30)),
        (dt.date(2020, 2, 29), (3, 1), dt.date(2020, 2, 29)),
        (dt.date(2019, 12, 31), (5, 1), dt.date(2020, 4, 30)),
    ],
)
def test_the_financial_year_that_a_day_falls_in(day: dt.date, start: tuple[int, int], end: dt.date) -> None:
    assert financial_year_end(day, start) == end


def test_vouchers_are_kept_from_the_end_of_the_year_in_which_the_financial_year_ended() -> None:
    """The issue's example: an order of 2019-08-15 under a 1.7.-30.6. financial year: the year ends 30.6.2020,
    so six years from the end of 2020 (1336/1997 2:10), not from the end of 2019."""
    sale = order(dt.date(2019, 8, 15))
    assert voucher_kept_until(sale, Policy(financial_year_start=(7, 1))) == dt.date(2026, 12, 31)
    assert voucher_kept_until(sale, Policy()) == dt.date(2025, 12, 31)
    assert voucher_kept_until(sale, Policy(voucher_years=10)) == dt.date(2029, 12, 31)


def test_a_later_settlement_is_booked_in_its_own_financial_year() -> None:
    settled = order(dt.date(2019, 12, 20), settled_date=dt.date(2020, 1, 10), invoice_status=InvoiceStatus.paid)
    assert voucher_kept_until(settled, Policy()) == dt.date(2026, 12, 31)


def test_a_claim_is_time_barred_three_years_from_the_due_date_or_the_last_interruption() -> None:
    """728/2003 s. 4 (three years from the due date), ss. 10-11 (an interruption starts the period again)."""
    due = order(dt.date(2020, 1, 1), invoice_due_date=dt.date(2020, 1, 15))
    assert claim_until(due) == dt.date(2023, 1, 15)
    interrupted = order(
        dt.date(2020, 1, 1), invoice_due_date=dt.date(2020, 1, 15), limitation_interrupted_date=dt.date(2022, 6, 1)
    )
    assert claim_until(interrupted) == dt.date(2025, 6, 1)
    assert claim_until(order(dt.date(2020, 1, 1))) is None  # recorded before due dates were kept


def test_the_profile_sets_the_financial_year(client: TestClient, tenant: Tenant) -> None:
    """Through the API: the same old order is still a voucher under a July financial year, not under January."""
    sale_day = dt.date(TODAY.year - 7, 8, 15)  # ends 30.6. of year-6 under July: kept to 31.12. of this year
    profile = call(client, tenant, "GET", "/v1/controller")["profile"]
    assert profile["controller"]["financial_year_start"] == "01-01"
    calendar_year, _ = rich_customer(client, tenant)
    add_order(client, tenant, calendar_year["id"], sale_day, "paid")
    assert erase_on(client, tenant, calendar_year["id"], "no_longer_necessary")["kept"] == []

    profile["controller"]["financial_year_start"] = "07-01"
    call(client, tenant, "PUT", "/v1/controller", json=profile)
    july, _ = rich_customer(client, tenant)
    add_order(client, tenant, july["id"], sale_day, "paid")
    kept = erase_on(client, tenant, july["id"], "no_longer_necessary")["kept"]
    assert {(k["reason"], k["until"]) for k in kept} == {("accounting", f"{TODAY.year}-12-31")}


@pytest.mark.parametrize("bad", ["02-29", "13-01", "04-31", "7-1", ""])
def test_a_financial_year_must_start_on_a_day_every_year_has(client: TestClient, tenant: Tenant, bad: str) -> None:
    profile = call(client, tenant, "GET", "/v1/controller")["profile"]
    profile["controller"]["financial_year_start"] = bad
    response = client.put("/v1/controller", json=profile, headers=tenant.headers())
    assert response.status_code == 422, response.text


# --- unpaid invoices: until settled or time-barred (728/2003) --------------------------------------------------


def test_a_time_barred_claim_keeps_nothing_and_a_live_one_says_until_when(client: TestClient, tenant: Tenant) -> None:
    barred, _ = rich_customer(client, tenant)
    long_ago = TODAY - relativedelta(years=8)
    add_order(client, tenant, barred["id"], long_ago, "in_collection")
    assert erase_on(client, tenant, barred["id"], "no_longer_necessary")["kept"] == []

    live, _ = rich_customer(client, tenant)
    claim, _ = add_order(client, tenant, live["id"], long_ago, "in_collection")
    interrupted = TODAY - relativedelta(years=1)
    call(client, tenant, "PATCH", f"/v1/orders/{claim['id']}", json={"limitation_interrupted_date": str(interrupted)})
    outcome = erase_on(client, tenant, live["id"], "no_longer_necessary")
    until = (interrupted + relativedelta(years=3)).isoformat()
    assert {(k["category"], k["reason"], k["until"]) for k in outcome["kept"]} == {
        ("customer", "open_invoice", until),
        ("orders", "open_invoice", until),
    }
    letter = client.get(f"/v1/requests/{outcome['request_id']}/letter?lang=en", headers=tenant.headers()).text
    assert "time-barred" in letter
    assert "728/2003" in letter


def test_settling_records_the_day(client: TestClient, tenant: Tenant) -> None:
    person, _ = rich_customer(client, tenant)
    sale, _ = add_order(client, tenant, person["id"], TODAY - dt.timedelta(days=40), "open")
    assert sale["invoice_due_date"] == sale["order_date"]  # the default: payment on order
    assert sale["settled_date"] is None
    paid = call(client, tenant, "PATCH", f"/v1/orders/{sale['id']}", json={"invoice_status": "paid"})
    assert paid["settled_date"] == TODAY.isoformat()
    reopened = call(client, tenant, "PATCH", f"/v1/orders/{sale['id']}", json={"invoice_status": "open"})
    assert reopened["settled_date"] is None
    refused = client.patch(f"/v1/orders/{sale['id']}", json={"settled_date": "2026-01-01"}, headers=tenant.headers())
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["loc"] == ["body", "settled_date"]


# --- a business contact: necessity answers 17(1)(a) and (c) only -----------------------------------------------


def business_contact(client: TestClient, tenant: Tenant) -> tuple[dict[str, Any], dict[str, str]]:
    """A business contact of a relationship that goes on (no end date)."""
    return rich_customer(client, tenant, kind="business", relationship_start_date="2020-01-01")


def erase_on(client: TestClient, tenant: Tenant, customer_id: str, ground: str, **complete: Any) -> dict[str, Any]:
    request = new_request(client, tenant, "erasure", customer_id=customer_id, erasure={"ground": ground})
    done = act(client, tenant, request["id"], "complete", **complete)
    return {**done["outcome"], "request_id": request["id"]}  # type: ignore[no-any-return]


@pytest.mark.parametrize("ground", ["no_longer_necessary", "objection"])
def test_a_live_relationship_keeps_contact_details_against_necessity_grounds(
    client: TestClient, tenant: Tenant, ground: str
) -> None:
    person, _ = business_contact(client, tenant)
    outcome = erase_on(client, tenant, person["id"], ground)
    assert {"email", "phone", "title"} <= kept_fields(outcome, "business_contact")
    (held,) = [k for k in outcome["kept"] if k["reason"] == "business_contact"]
    assert (held["ground"], held["until"]) == (ground, None)
    assert outcome["ground"] == ground
    letter = client.get(f"/v1/requests/{outcome['request_id']}/letter?lang=en", headers=tenant.headers()).text
    article = {"no_longer_necessary": "Article 17(1)(a)", "objection": "Article 17(1)(c)"}[ground]
    assert article in letter
    assert "17(3)" not in letter.split("We cannot yet erase")[1].split("The data we keep")[0]


@pytest.mark.parametrize(
    "ground", ["consent_withdrawn", "unlawfully_processed", "legal_obligation", "child_information_society"]
)
def test_a_relationship_never_overrides_the_other_grounds(client: TestClient, tenant: Tenant, ground: str) -> None:
    """Art. 17(1)(b), (d), (e), (f): no need of the business outweighs them; nothing is kept for the relationship."""
    person, _ = business_contact(client, tenant)
    outcome = erase_on(client, tenant, person["id"], ground)
    assert outcome["kept"] == []
    after = call(client, tenant, "GET", f"/v1/customers/{person['id']}")
    assert (after["email"], after["phone"], after["title"]) == (None, None, None)


def test_staff_may_release_the_hold_with_reasons(client: TestClient, tenant: Tenant) -> None:
    person, _ = business_contact(client, tenant)
    why = "The contact left the organisation; the relationship goes on with someone else."
    outcome = erase_on(client, tenant, person["id"], "no_longer_necessary", release_business_contact=why)
    assert outcome["kept"] == []
    assert outcome["released"] == [{"reason": "business_contact", "by": "admin tester", "why": why}]
    events = call(client, tenant, "GET", f"/v1/audit?entity_id={outcome['request_id']}", role=Role.auditor)
    assert any("outcome" in e["fields"] for e in events["items"])


def test_release_is_only_for_erasure(client: TestClient, tenant: Tenant) -> None:
    person, _ = business_contact(client, tenant)
    request = new_request(client, tenant, "access", customer_id=person["id"])
    act(client, tenant, request["id"], "complete", 422, release_business_contact="no")


# --- Art. 19 and 13(1)(e): a letter never says the data went to no one when the notice names recipients ---------


def test_the_letter_names_the_notices_recipients_instead_of_saying_none(client: TestClient, app: FastAPI) -> None:
    """Solintech's notice names its accounting firm, partners and Google Analytics: "not disclosed to any
    recipients" would be false, whatever the webhooks show."""
    solintech = make_tenant(client, app, "solintech")
    person, _ = rich_customer(client, solintech)
    outcome = erase_on(client, solintech, person["id"], "consent_withdrawn")
    assert outcome["recipients_notified"] == []
    letter = client.get(f"/v1/requests/{outcome['request_id']}/letter?lang=en", headers=solintech.headers()).text
    assert "not been disclosed to any recipients" not in letter
    assert "Google LLC (Google Analytics)" in letter
    assert "The controller's staff" in letter
    finnish = client.get(f"/v1/requests/{outcome['request_id']}/letter?lang=fi", headers=solintech.headers()).text
    assert "Google LLC (Google Analytics)" in finnish
    assert "Tilitoimisto Esimerkki Oy" in finnish
    assert "ei ole luovutettu" not in finnish


def test_a_notice_without_recipients_still_says_none(client: TestClient, tenant: Tenant, owner_db: Any) -> None:
    # Only a profile published before notices were checked can name no recipient (Art. 13(1)(e)): kept so here,
    # written past the audit trigger as such a version was.
    with owner_db.transaction():
        owner_db.execute("SET LOCAL session_replication_role = replica")
        owner_db.execute(
            "UPDATE controller SET profile = jsonb_set(jsonb_set(profile - 'recipients', '{notice,recipients}', "
            "'[]'), '{notice,recipient_categories}', '[]') WHERE id = %s",
            (tenant.id,),
        )
    person, _ = rich_customer(client, tenant)
    outcome = erase_on(client, tenant, person["id"], "consent_withdrawn")
    letter = client.get(f"/v1/requests/{outcome['request_id']}/letter?lang=en", headers=tenant.headers()).text
    assert "not been disclosed to any recipients" in letter
