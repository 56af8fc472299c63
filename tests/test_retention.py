"""Retention that enforces itself, proved over a moved clock: what has expired goes, what has not stays.

The sweep takes the day it runs as "today"; the tests hand it days years ahead (the clock moved) and check,
through the API and by scanning the database, that each person went exactly when their rule said.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app import worker
from app.config import get_settings
from app.db import make_engine, make_sessionmaker
from app.models.api_keys import Role
from app.services import deadlines, retention
from tests.conftest import Tenant, new_customer
from tests.test_cli import rekisteri
from tests.test_erasure import Db, assert_nowhere, rich_customer, unique
from tests.test_webhooks import subscribe

TODAY = deadlines.today()
RULE = {
    "category": {"fi": "Asiakastiedot", "en": "Customer data"},
    "period": {"fi": "10 vuotta asiakkuuden päättymisestä lukien.", "en": "10 years from the end of the relationship."},
    "enforce": {"applies_to": "customer", "years": 10},
}


def years(n: int, days: int = 0) -> dt.date:
    """The day `n` years (and `days` days) from today; negative for the past."""
    return TODAY + relativedelta(years=n) + dt.timedelta(days=days)


def keep_for_ten_years(client: TestClient, tenant: Tenant) -> None:
    """Give the tenant's profile the seeds' rule: customer data 10 years from the end of the relationship."""
    body = client.get("/v1/controller", headers=tenant.headers()).json()["profile"]
    body["notice"]["retention"] = [RULE]
    assert client.put("/v1/controller", json=body, headers=tenant.headers()).status_code == 200


def sweep(app: FastAPI, client: TestClient, tenant: Tenant, today: dt.date, dry_run: bool = False) -> retention.Report:
    """Run the sweep as the CLI and the worker do: as the database owner, for one controller, on `today`."""
    maker = app.state.owner_sessionmaker

    async def run() -> retention.Report:
        report = await worker.retention_expired(maker, tenant.id, today)
        if not dry_run:
            await worker.retention_anonymise(maker, report, tenant.id, today)
        return report

    assert client.portal is not None
    return client.portal.call(run)


def state(client: TestClient, tenant: Tenant, customer_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/customers/{customer_id}", headers=tenant.headers())
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def erased(client: TestClient, tenant: Tenant, customer_id: str) -> bool:
    return state(client, tenant, customer_id)["erased_at"] is not None


def add_order(client: TestClient, tenant: Tenant, customer_id: str, day: dt.date, status: str = "paid") -> str:
    body = {"order_date": day.isoformat(), "total": "20.00", "invoice_status": status}
    response = client.post(f"/v1/customers/{customer_id}/orders", json=body, headers=tenant.headers())
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


# --- the moved clock ----------------------------------------------------------------------------------------


def test_expired_data_goes_and_unexpired_stays_as_the_clock_moves(
    client: TestClient, app: FastAPI, tenant: Tenant
) -> None:
    keep_for_ten_years(client, tenant)
    ended_last_year = new_customer(client, tenant, relationship_end_date=years(-1).isoformat())["id"]
    ended_five_years_ago = new_customer(client, tenant, relationship_end_date=years(-5).isoformat())["id"]
    active_shopper = new_customer(client, tenant)["id"]  # private, no end date: a customer until their last order
    add_order(client, tenant, active_shopper, TODAY)
    # A business contact with no end date and no orders: the relationship counts from the day it was recorded.
    business = new_customer(client, tenant, kind="business", organisation="Oy Ab")["id"]

    assert sweep(app, client, tenant, TODAY).expired == []
    assert sweep(app, client, tenant, years(5)).expired == []  # ten years not yet up for anyone

    later = sweep(app, client, tenant, years(5, days=1))  # the day after ten years from its end
    assert [e.customer_id for e in later.expired] == [uuid.UUID(ended_five_years_ago)]
    assert later.anonymised == 1
    assert erased(client, tenant, ended_five_years_ago)
    assert not erased(client, tenant, ended_last_year)
    assert not erased(client, tenant, active_shopper)

    again = sweep(app, client, tenant, years(5, days=1))  # nothing is done twice
    assert (again.expired, again.anonymised) == ([], 0)

    much_later = sweep(app, client, tenant, years(10, days=1))
    expected = {uuid.UUID(ended_last_year), uuid.UUID(active_shopper), uuid.UUID(business)}
    assert {e.customer_id for e in much_later.expired} == expected
    assert erased(client, tenant, ended_last_year)
    assert erased(client, tenant, business)  # they, too, expire (Art. 5(1)(e))
    assert sweep(app, client, tenant, years(40)).expired == []


def test_a_returning_customer_starts_the_clock_again(client: TestClient, app: FastAPI, tenant: Tenant) -> None:
    keep_for_ten_years(client, tenant)
    person = new_customer(client, tenant, relationship_end_date=years(-11).isoformat())["id"]
    add_order(client, tenant, person, years(-2))  # bought again after the end
    assert sweep(app, client, tenant, TODAY).expired == []
    assert [e.customer_id for e in sweep(app, client, tenant, years(8, days=1)).expired] == [uuid.UUID(person)]


def test_restricted_people_and_open_requests_are_left_and_counted(
    client: TestClient, app: FastAPI, tenant: Tenant
) -> None:
    keep_for_ten_years(client, tenant)
    restricted = new_customer(client, tenant, relationship_end_date=years(-12).isoformat())["id"]
    body = {
        "type": "restriction",
        "channel": "letter",
        "customer_id": restricted,
        "restriction": {"ground": "legal_claims"},
    }
    request = client.post("/v1/requests", json=body, headers=tenant.headers()).json()
    client.post(f"/v1/requests/{request['id']}/complete", json={}, headers=tenant.headers())
    asking = new_customer(client, tenant, relationship_end_date=years(-12).isoformat())["id"]
    client.post(
        "/v1/requests", json={"type": "access", "channel": "email", "customer_id": asking}, headers=tenant.headers()
    )

    report = sweep(app, client, tenant, TODAY)
    assert report.expired == []
    assert report.left == {"restricted": 1, "open_request": 1}
    assert not erased(client, tenant, restricted)
    assert not erased(client, tenant, asking)


def test_without_a_rule_nothing_is_anonymised(client: TestClient, app: FastAPI, tenant: Tenant) -> None:
    """A rule the profile only states (no `enforce`, as "as long as necessary"): nothing to enforce."""
    body = client.get("/v1/controller", headers=tenant.headers()).json()["profile"]
    body["notice"]["retention"] = [{"category": "Asiakastiedot", "period": "Niin kauan kuin on tarpeen."}]
    assert client.put("/v1/controller", json=body, headers=tenant.headers()).status_code == 200
    person = new_customer(client, tenant, relationship_end_date=years(-30).isoformat())["id"]
    report = sweep(app, client, tenant, TODAY)
    assert (report.customer_years, report.expired) == (None, [])
    assert not erased(client, tenant, person)


@pytest.mark.parametrize(
    ("ended", "last_day"),
    [("2026-02-28", "2036-02-28"), ("2024-02-29", "2034-02-28"), ("2027-12-31", "2037-12-31")],
)
def test_kept_until_the_last_day_and_gone_the_day_after(
    client: TestClient, app: FastAPI, tenant: Tenant, ended: str, last_day: str
) -> None:
    keep_for_ten_years(client, tenant)
    person = new_customer(client, tenant, relationship_end_date=ended)["id"]
    last = dt.date.fromisoformat(last_day)
    assert sweep(app, client, tenant, last, dry_run=True).expired == []
    found = sweep(app, client, tenant, last + dt.timedelta(days=1), dry_run=True).expired
    assert [e.customer_id for e in found] == [uuid.UUID(person)]
    assert f"until {last_day}" in found[0].detail


def test_a_business_contacts_hold_ends_with_the_relationship(client: TestClient, app: FastAPI, tenant: Tenant) -> None:
    """Erased during the relationship, the contact details stay; recording its end lets them go."""
    contact = new_customer(client, tenant, kind="business", organisation="Oy Ab", title="ostopäällikkö")["id"]
    body = {"type": "erasure", "channel": "email", "customer_id": contact, "erasure": {"ground": "objection"}}
    request = client.post("/v1/requests", json=body, headers=tenant.headers()).json()
    outcome = client.post(f"/v1/requests/{request['id']}/complete", json={}, headers=tenant.headers()).json()["outcome"]
    assert [k["reason"] for k in outcome["kept"]] == ["business_contact"]
    assert sweep(app, client, tenant, years(5)).expired == []  # the relationship goes on: kept
    path = f"/v1/customers/{contact}"
    assert client.patch(path, json={"title": "myyjä"}, headers=tenant.headers()).status_code == 409
    ended = client.patch(path, json={"relationship_end_date": TODAY.isoformat()}, headers=tenant.headers())
    assert ended.status_code == 200, ended.text
    assert sweep(app, client, tenant, TODAY).expired == []  # the last day of the relationship
    report = sweep(app, client, tenant, TODAY + dt.timedelta(days=1))
    assert [e.reason for e in report.expired] == [retention.HOLD_ENDED]
    after = state(client, tenant, contact)
    assert (after["first_name"], after["organisation"], after["title"]) == (None, None, None)


def test_a_business_contacts_hold_ends_when_the_facts_end_the_relationship(
    client: TestClient, app: FastAPI, tenant: Tenant
) -> None:
    """No end date recorded and no orders: the day the contact was recorded ends it, plus the period."""
    keep_for_ten_years(client, tenant)
    contact = new_customer(client, tenant, kind="business", organisation="Oy Ab", title="ostopäällikkö")["id"]
    body = {"type": "erasure", "channel": "email", "customer_id": contact, "erasure": {"ground": "no_longer_necessary"}}
    request = client.post("/v1/requests", json=body, headers=tenant.headers()).json()
    outcome = client.post(f"/v1/requests/{request['id']}/complete", json={}, headers=tenant.headers()).json()["outcome"]
    assert [k["reason"] for k in outcome["kept"]] == ["business_contact"]
    assert sweep(app, client, tenant, years(10)).expired == []  # the last day of the period
    report = sweep(app, client, tenant, years(10, days=1))
    assert [e.reason for e in report.expired] == [retention.RELATIONSHIP_ENDED]
    assert f"relationship ended {TODAY.isoformat()}" in report.expired[0].detail
    after = state(client, tenant, contact)
    assert (after["title"], after["organisation"], after["relationship_end_date"]) == (None, None, None)
    assert sweep(app, client, tenant, years(40)).expired == []


def test_marketing_choices_and_corrections_never_extend_retention(
    client: TestClient, app: FastAPI, tenant: Tenant
) -> None:
    """Art. 5(1)(e): the relationship is orders and recorded dates; a prohibition or a correction is not one."""
    keep_for_ten_years(client, tenant)
    person = new_customer(client, tenant)["id"]
    add_order(client, tenant, person, years(-11))
    forbid = {"channels": {"direct_mail": {"prohibited": True}}}
    assert client.put(f"/v1/customers/{person}/marketing", json=forbid, headers=tenant.headers()).status_code == 200
    assert client.patch(f"/v1/customers/{person}", json={"city": "Oulu"}, headers=tenant.headers()).status_code == 200
    report = sweep(app, client, tenant, TODAY, dry_run=True)
    assert [e.customer_id for e in report.expired] == [uuid.UUID(person)]


# --- through the erasure path -------------------------------------------------------------------------------


def test_the_sweep_erases_as_an_erasure_request_would(
    client: TestClient, app: FastAPI, tenant: Tenant, owner_db: Db
) -> None:
    keep_for_ten_years(client, tenant)
    hook = subscribe(client, tenant, "https://crm.example.fi/hooks")
    customer, values = rich_customer(client, tenant, relationship_end_date=years(-11).isoformat())
    note = unique("request-note")
    old = years(-11).replace(month=1, day=10)
    add_order(client, tenant, customer["id"], old)
    done = client.post(
        "/v1/requests",
        json={"type": "access", "channel": "email", "customer_id": customer["id"]},
        headers=tenant.headers(),
    )
    client.post(f"/v1/requests/{done.json()['id']}/complete", json={"note": note}, headers=tenant.headers())

    report = sweep(app, client, tenant, TODAY)
    assert [e.reason for e in report.expired] == [retention.RELATIONSHIP_ENDED]
    assert all(value not in report.expired[0].detail for value in values.values())  # dates and rules only
    # The external id goes from the outbox once the CRM has had the event (tests/test_erasure.py, test 3).
    assert_nowhere(owner_db, *(v for k, v in values.items() if k != "external_id"), note)
    assert client.get(f"/v1/customers/{customer['id']}/orders", headers=tenant.headers()).json()["items"] == []
    events = client.get(
        "/v1/audit", params={"subject_id": customer["id"], "limit": 500}, headers=tenant.headers(Role.auditor)
    ).json()["items"]
    assert {
        e["actor_name"]
        for e in events
        if e["action"] == "erase" or (e["entity"] == "customer" and e["action"] == "update")
    } >= {retention.ACTOR_NAME}
    assert client.get("/v1/audit/verify", headers=tenant.headers(Role.auditor)).json()["ok"] is True
    deliveries = client.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=tenant.headers()).json()["items"]
    assert [d["event_type"] for d in deliveries] == ["customer.erased"]  # recipients are told (Art. 19)


def vacuums(db: Db) -> dict[str, int]:
    """How many times each table an erasure touches has been vacuumed by hand (VACUUM, not autovacuum)."""
    rows = db.execute(
        "SELECT relname, vacuum_count FROM pg_stat_user_tables WHERE relname = ANY(%s)", (list(retention.ERASED_FROM),)
    ).fetchall()
    return {str(name): int(count) for name, count in rows}


def test_after_its_batches_the_sweep_vacuums_the_tables_erasure_touched(
    client: TestClient, app: FastAPI, tenant: Tenant, owner_db: Db
) -> None:
    """Erased rows' old versions stay in the table files until VACUUM: the sweep runs it once its batches have
    committed (VACUUM cannot run in a transaction), and only when it erased someone."""
    keep_for_ten_years(client, tenant)
    people = [new_customer(client, tenant, relationship_end_date=years(-11).isoformat())["id"] for _ in range(3)]
    add_order(client, tenant, people[0], years(-12))
    before = vacuums(owner_db)
    assert before.keys() == set(retention.ERASED_FROM)

    report = sweep(app, client, tenant, TODAY)
    assert report.anonymised == 3
    assert all(erased(client, tenant, person) for person in people)  # the batches committed, vacuum or not
    after = vacuums(owner_db)
    assert {table for table in before if after[table] > before[table]} == set(retention.ERASED_FROM)

    assert sweep(app, client, tenant, TODAY).anonymised == 0
    assert vacuums(owner_db) == after  # nothing erased, nothing to vacuum


def test_a_database_user_that_may_not_vacuum_is_told_and_not_stopped(
    client: TestClient, app: FastAPI, owner_db: Db, database_url: str
) -> None:
    """Only a table's owner (a superuser, the database's owner) may vacuum it: anyone else vacuums nothing, and
    the sweep goes on (autovacuum reclaims the rows then)."""
    engine = make_engine(database_url, app_role=get_settings().app_db_role, pool_size=1, max_overflow=0)
    before = vacuums(owner_db)

    async def as_the_app_role() -> list[str]:
        try:
            async with make_sessionmaker(engine)() as session:
                return await retention.vacuum(session=session)
        finally:
            await engine.dispose()

    assert client.portal is not None
    assert client.portal.call(as_the_app_role) == []
    assert vacuums(owner_db) == before


def test_what_a_hold_kept_goes_when_the_hold_ends(client: TestClient, app: FastAPI, tenant: Tenant) -> None:
    """Erased with a recent voucher, the name and the order stay; once the Accounting Act's years are up, they go."""
    customer, values = rich_customer(client, tenant)
    order = add_order(client, tenant, customer["id"], TODAY)
    body = {
        "type": "erasure",
        "channel": "email",
        "customer_id": customer["id"],
        "erasure": {"ground": "no_longer_necessary"},
    }
    request = client.post("/v1/requests", json=body, headers=tenant.headers()).json()
    outcome = client.post(f"/v1/requests/{request['id']}/complete", json={}, headers=tenant.headers()).json()["outcome"]
    kept_until = dt.date.fromisoformat(next(k["until"] for k in outcome["kept"] if k["reason"] == "accounting"))
    assert kept_until == dt.date(TODAY.year + 6, 12, 31)
    assert state(client, tenant, customer["id"])["last_name"] == values["last_name"]

    assert sweep(app, client, tenant, kept_until).expired == []  # the last day it must be kept
    report = sweep(app, client, tenant, kept_until + dt.timedelta(days=1))
    assert [(e.customer_id, e.reason) for e in report.expired] == [(uuid.UUID(customer["id"]), retention.HOLD_ENDED)]
    after = state(client, tenant, customer["id"])
    assert after["last_name"] is None
    assert after["customer_number"] is None
    orders = client.get(f"/v1/customers/{customer['id']}/orders", headers=tenant.headers()).json()["items"]
    assert order not in [o["id"] for o in orders]
    assert orders == []
    assert sweep(app, client, tenant, kept_until + dt.timedelta(days=2)).expired == []


def test_a_profile_may_keep_vouchers_longer(client: TestClient, app: FastAPI, tenant: Tenant) -> None:
    body = client.get("/v1/controller", headers=tenant.headers()).json()["profile"]
    body["notice"]["retention"] = [
        {"category": "Tositteet", "period": "10 vuotta", "enforce": {"applies_to": "orders", "years": 10}}
    ]
    client.put("/v1/controller", json=body, headers=tenant.headers())
    customer = new_customer(client, tenant)
    add_order(client, tenant, customer["id"], TODAY)
    request = client.post(
        "/v1/requests",
        json={"type": "erasure", "channel": "email", "customer_id": customer["id"], "erasure": {"ground": "objection"}},
        headers=tenant.headers(),
    ).json()
    outcome = client.post(f"/v1/requests/{request['id']}/complete", json={}, headers=tenant.headers()).json()["outcome"]
    assert {k["until"] for k in outcome["kept"] if k["reason"] == "accounting"} == {f"{TODAY.year + 10}-12-31"}
    assert sweep(app, client, tenant, dt.date(TODAY.year + 7, 1, 1)).expired == []


# --- the command and the worker -----------------------------------------------------------------------------


@pytest.mark.slow
def test_the_command_lists_without_changing_then_anonymises(
    client: TestClient, app: FastAPI, tenant: Tenant, database_url: str
) -> None:
    keep_for_ten_years(client, tenant)
    person = new_customer(client, tenant, relationship_end_date=years(-10, days=-5).isoformat())["id"]
    env = {**os.environ, "REKISTERI_DATABASE_URL": database_url}

    future = rekisteri(
        "retention", "sweep", "--dry-run", "--controller", tenant.slug, "--as-of", years(1).isoformat(), env=env
    )
    assert f"{tenant.slug}\t{person}\trelationship_ended" in future.stdout
    assert f"{tenant.slug}: 1 would be anonymised" in future.stdout
    assert not erased(client, tenant, person)

    refused = rekisteri("retention", "sweep", "--as-of", years(1).isoformat(), env=env, check=False)
    assert refused.returncode == 1
    assert "--dry-run" in refused.stderr

    done = rekisteri("retention", "sweep", "--controller", tenant.slug, env=env)
    assert f"{tenant.slug}: 1 anonymised; left as they are: none" in done.stdout
    assert erased(client, tenant, person)
    assert "Maija" not in done.stdout + done.stderr  # ids and dates only, never the person's data
    again = rekisteri("retention", "sweep", "--controller", tenant.slug, env=env)
    assert f"{tenant.slug}: 0 anonymised" in again.stdout

    unknown = rekisteri("retention", "sweep", "--controller", "no-such", env=env, check=False)
    assert unknown.returncode == 1


def test_the_worker_runs_the_sweep_daily(client: TestClient, tenant: Tenant, database_url: str) -> None:
    keep_for_ten_years(client, tenant)
    person = new_customer(client, tenant, relationship_end_date=years(-11).isoformat())["id"]
    queue = worker.build(database_url, [])
    task = queue.tasks["retention_sweep"]
    crons = {p.task.name: p.cron for p in queue.periodic_registry.periodic_tasks.values()}
    assert crons["retention_sweep"] == "30 3 * * *"  # daily

    async def defer_and_work() -> None:
        async with queue.open_async():
            await task.defer_async(timestamp=0)
        await worker.run(database_url, wait=False)

    assert client.portal is not None
    client.portal.call(defer_and_work)
    assert erased(client, tenant, person)


@pytest.mark.slow
@pytest.mark.parametrize("bad", ["2026-13-01", "tomorrow"])
def test_a_bad_date_is_refused(database_url: str, bad: str) -> None:
    env = {**os.environ, "REKISTERI_DATABASE_URL": database_url}
    result = rekisteri("retention", "sweep", "--dry-run", "--as-of", bad, env=env, check=False)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_nothing_is_retained_forever_by_accident(client: TestClient, app: FastAPI, tenant: Tenant) -> None:
    """Art. 5(1)(e): far in the future every kind of person is anonymised, or held by a named rule.

    The only holds without an end are a restriction (Art. 18 lasts until it is lifted) and an open request
    (until it is answered; its due date is given): each is reported by every sweep, never kept silently.
    """
    keep_for_ten_years(client, tenant)
    people: dict[str, str] = {}
    people["private"] = new_customer(client, tenant)["id"]
    people["shopper"] = new_customer(client, tenant)["id"]
    add_order(client, tenant, people["shopper"], years(-1))
    people["business"] = new_customer(client, tenant, kind="business", organisation="Oy Ab", title="johtaja")["id"]
    people["unpaid"] = new_customer(client, tenant)["id"]
    add_order(client, tenant, people["unpaid"], TODAY, "in_collection")
    people["settled"] = new_customer(client, tenant)["id"]
    add_order(client, tenant, people["settled"], years(-3), "paid")
    people["erased_with_holds"] = new_customer(client, tenant, kind="business", organisation="Oy Ab")["id"]
    add_order(client, tenant, people["erased_with_holds"], TODAY, "open")
    request = {"type": "erasure", "channel": "email", "erasure": {"ground": "no_longer_necessary"}}
    made = client.post(
        "/v1/requests", json=request | {"customer_id": people["erased_with_holds"]}, headers=tenant.headers()
    )
    done = client.post(f"/v1/requests/{made.json()['id']}/complete", json={}, headers=tenant.headers()).json()
    assert {k["reason"] for k in done["outcome"]["kept"]} == {"open_invoice", "business_contact"}
    people["restricted"] = new_customer(client, tenant)["id"]
    restrict = {"type": "restriction", "channel": "email", "restriction": {"ground": "accuracy_contested"}}
    made = client.post("/v1/requests", json=restrict | {"customer_id": people["restricted"]}, headers=tenant.headers())
    client.post(f"/v1/requests/{made.json()['id']}/complete", json={}, headers=tenant.headers())
    people["objected"] = new_customer(client, tenant)["id"]
    objection = {"type": "objection", "channel": "email", "objection": {"kind": "particular_situation"}}
    pending = client.post(
        "/v1/requests", json=objection | {"customer_id": people["objected"]}, headers=tenant.headers()
    )

    report = sweep(app, client, tenant, years(50))

    held = {str(h.customer_id): h for h in report.held}
    assert set(held) == {people["restricted"], people["objected"]}
    assert (held[people["restricted"]].rule, held[people["restricted"]].until) == ("restricted", None)
    assert held[people["objected"]].rule == "open_request"
    assert held[people["objected"]].until == dt.date.fromisoformat(pending.json()["due_date"])
    personal = ("first_name", "last_name", "email", "organisation", "title", "relationship_end_date")
    for name, customer_id in people.items():
        if customer_id in held:
            continue
        after = state(client, tenant, customer_id)
        assert after["erased_at"] is not None, name
        assert [f for f in personal if after[f] is not None] == [], name
        orders = client.get(f"/v1/customers/{customer_id}/orders", headers=tenant.headers()).json()["items"]
        assert orders == [], name
    assert sweep(app, client, tenant, years(50)).expired == []
