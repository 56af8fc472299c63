"""Suppression lists: managing them, uploading entries, and the checks that deny a match (docs/marketing.md)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.actor import system_actor
from app.config import get_settings
from app.db import libpq_url
from app.json import loads
from app.models.api_keys import Role
from app.models.customers import Customer
from app.services import suppression
from app.tenancy import enter
from tests.conftest import Tenant, new_customer

NDJSON = "application/x-ndjson"
KIELTO = {"name": "ASML Kielto", "source": "ASML Kielto-palvelu", "list_date": "2026-12-01"}


def make_list(client: TestClient, tenant: Tenant, channels: list[str] | None = None, **fields: Any) -> dict[str, Any]:
    body = KIELTO | {"name": f"Lista {uuid.uuid4().hex[:6]}", "channels": channels or ["direct_mail"]} | fields
    response = client.post("/v1/suppression-lists", json=body, headers=tenant.headers())
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def upload(
    client: TestClient,
    tenant: Tenant,
    list_id: object,
    body: str,
    *,
    method: str = "PUT",
    media_type: str = NDJSON,
    status: int = 200,
    **query: str,
) -> dict[str, Any]:
    response = client.request(
        method,
        f"/v1/suppression-lists/{list_id}/entries",
        params=query,
        content=body.encode(),
        headers=tenant.headers(**{"Content-Type": media_type}),
    )
    assert response.status_code == status, response.text
    return response.json()  # type: ignore[no-any-return]


def lines(*items: dict[str, str]) -> str:
    return "".join(json.dumps(i) + "\n" for i in items)


def decision(client: TestClient, tenant: Tenant, customer_id: object, channel: str) -> dict[str, Any]:
    response = client.get(f"/v1/customers/{customer_id}/marketing/{channel}", headers=tenant.headers(Role.integration))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def campaign(client: TestClient, tenant: Tenant, items: list[dict[str, str]], channel: str) -> list[dict[str, Any]]:
    response = client.post(
        f"/v1/marketing/check?channel={channel}",
        content=lines(*items).encode(),
        headers=tenant.headers(Role.integration, **{"Content-Type": NDJSON}),
    )
    assert response.status_code == 200, response.text
    return [loads(line) for line in response.content.splitlines()]


def email() -> str:
    return f"{uuid.uuid4().hex[:10]}@example.fi"


class TestLists:
    def test_admins_manage_staff_read(self, client: TestClient, tenant: Tenant) -> None:
        body = KIELTO | {"channels": ["direct_mail"]}
        for role in (Role.agent, Role.integration, Role.auditor):
            assert client.post("/v1/suppression-lists", json=body, headers=tenant.headers(role)).status_code == 403
        made = make_list(client, tenant, ["telemarketing", "direct_mail", "telemarketing"])
        assert made["channels"] == ["direct_mail", "telemarketing"]
        assert made["entry_count"] == 0
        url = f"/v1/suppression-lists/{made['id']}"
        read = client.get(url, headers=tenant.headers(Role.agent))
        assert read.status_code == 200
        assert read.headers["ETag"] == '"v1"'
        assert client.get(url, headers=tenant.headers(Role.integration)).status_code == 403
        assert client.put(f"{url}/entries", content=b"", headers=tenant.headers(Role.agent)).status_code == 403

    def test_channels_are_required(self, client: TestClient, tenant: Tenant) -> None:
        for channels in ([], ["fax"]):
            body = {**KIELTO, "name": "Uusi", "channels": channels}
            assert client.post("/v1/suppression-lists", json=body, headers=tenant.headers()).status_code == 422
        assert (
            client.post(
                "/v1/suppression-lists",
                json={**KIELTO, "name": " ", "channels": ["profiling"]},
                headers=tenant.headers(),
            ).status_code
            == 422
        )

    def test_other_controllers_lists(self, client: TestClient, tenant: Tenant, other_tenant: Tenant) -> None:
        theirs = make_list(client, other_tenant)
        url = f"/v1/suppression-lists/{theirs['id']}"
        assert client.get(url, headers=tenant.headers()).status_code == 404
        assert client.patch(url, json={"name": "x"}, headers=tenant.headers()).status_code == 404
        assert client.delete(url, headers=tenant.headers()).status_code == 404
        upload(client, tenant, theirs["id"], lines({"email": email()}), status=404)
        assert client.get("/v1/suppression-lists", headers=tenant.headers()).json()["items"] == []

    def test_listed_a_page_at_a_time(self, client: TestClient, tenant: Tenant) -> None:
        made = {make_list(client, tenant)["id"] for _ in range(3)}
        page = client.get("/v1/suppression-lists?limit=2", headers=tenant.headers()).json()
        assert len(page["items"]) == 2
        rest = client.get(page["next"], headers=tenant.headers()).json()
        assert rest["next"] is None
        assert {i["id"] for i in page["items"] + rest["items"]} == made

    def test_patch_with_if_match(self, client: TestClient, tenant: Tenant) -> None:
        made = make_list(client, tenant)
        url = f"/v1/suppression-lists/{made['id']}"
        changed = client.patch(
            url, json={"channels": ["telemarketing"]}, headers=tenant.headers(**{"If-Match": '"v1"'})
        )
        assert changed.status_code == 200, changed.text
        assert (changed.json()["channels"], changed.headers["ETag"]) == (["telemarketing"], '"v2"')
        stale = client.patch(url, json={"source": "oma"}, headers=tenant.headers(**{"If-Match": '"v1"'}))
        assert stale.status_code == 412
        assert client.patch(url, json={"channels": []}, headers=tenant.headers()).status_code == 422

    def test_changes_are_audited_without_the_entries_values(
        self, client: TestClient, tenant: Tenant, owner_db: psycopg.Connection[tuple[object, ...]]
    ) -> None:
        made = make_list(client, tenant)
        address = email()
        upload(client, tenant, made["id"], lines({"email": address}))
        audit = client.get("/v1/audit?entity=suppression_entry", headers=tenant.headers(Role.auditor)).json()["items"]
        assert [(e["action"], e["changes"]["kind"]["new"]) for e in audit] == [("create", "email")]
        assert "digest" not in audit[0]["changes"]
        events = owner_db.execute("SELECT changes FROM audit_event WHERE controller_id = %s", (tenant.id,)).fetchall()
        assert not any(address.encode() in bytes(row[0]) for row in events)  # type: ignore[arg-type]

    def test_delete_removes_the_list_and_its_entries(
        self, client: TestClient, tenant: Tenant, owner_db: psycopg.Connection[tuple[object, ...]]
    ) -> None:
        made = make_list(client, tenant)
        upload(client, tenant, made["id"], lines({"email": email()}, {"phone": "040 1234567"}))
        assert client.delete(f"/v1/suppression-lists/{made['id']}", headers=tenant.headers()).status_code == 204
        assert client.get(f"/v1/suppression-lists/{made['id']}", headers=tenant.headers()).status_code == 404
        left = owner_db.execute("SELECT count(*) FROM suppression_entry WHERE controller_id = %s", (tenant.id,))
        assert left.fetchone() == (0,)


class TestUpload:
    def test_ndjson_replaces_the_entries(self, client: TestClient, tenant: Tenant) -> None:
        made = make_list(client, tenant)
        a, b, c = email(), email(), email()
        first = upload(client, tenant, made["id"], lines({"email": a}, {"email": b}, {"phone": "+358 40 111 2222"}))
        assert (first["lines"], first["added"], first["removed"], first["kept"]) == (3, 3, 0, 0)
        assert first["list"]["entry_count"] == 3
        again = upload(client, tenant, made["id"], lines({"email": b.upper()}, {"email": c}), list_date="2027-01-01")
        assert (again["added"], again["removed"], again["kept"]) == (1, 2, 1)
        assert (again["list"]["entry_count"], again["list"]["list_date"]) == (2, "2027-01-01")
        assert again["list"]["version"] == first["list"]["version"] + 1

    def test_one_person_may_give_several_identifiers(self, client: TestClient, tenant: Tenant) -> None:
        made = make_list(client, tenant)
        person = {
            "email": email(),
            "phone": "040 765 4321",
            "first_name": "Matti",
            "last_name": "Virtanen",
            "street_address": "Kauppakatu 2 B 5",
            "postal_code": "40100",
            "city": "Jyväskylä",
        }
        assert upload(client, tenant, made["id"], lines(person))["added"] == 3

    def test_csv_with_a_header_comma_or_semicolon(self, client: TestClient, tenant: Tenant) -> None:
        made = make_list(client, tenant)
        body = "\ufeffEmail,phone\r\nmaija@example.fi,\r\n,040 222 3333\r\n"
        result = upload(client, tenant, made["id"], body, media_type="text/csv")
        assert (result["lines"], result["added"]) == (2, 2)
        spreadsheet = "first_name;last_name;street_address;postal_code\nMatti;Virtanen;Kauppakatu 2 B 5;40100\n"
        result = upload(client, tenant, made["id"], spreadsheet, media_type="text/csv; charset=utf-8")
        assert (result["added"], result["removed"]) == (1, 2)

    def test_csv_header_names_known_columns(self, client: TestClient, tenant: Tenant) -> None:
        made = make_list(client, tenant)
        for header in ("etunimi,sukunimi\n", "city\n", "email,email\n"):
            problem = upload(client, tenant, made["id"], header + "x,y\n", media_type="text/csv", status=422)
            assert problem["errors"][0]["loc"] == ["body", "1"]

    def test_a_bad_line_changes_nothing_and_is_named_by_number_not_value(
        self, client: TestClient, tenant: Tenant
    ) -> None:
        made = make_list(client, tenant)
        kept = email()
        upload(client, tenant, made["id"], lines({"email": kept}))
        secret = "0401234SECRET"
        body = lines({"email": email()}, {"phone": secret}, {"first_name": "Vain"}, {"emial": "x@example.fi"}) + "{\n"
        problem = upload(client, tenant, made["id"], body, status=422)
        assert sorted({tuple(e["loc"][:2]) for e in problem["errors"]}) == [
            ("body", "2"),
            ("body", "3"),
            ("body", "4"),
            ("body", "5"),
        ]
        assert secret not in str(problem)
        assert "Vain" not in str(problem)
        # The list is as it was: the old entry denies still, the new one was not added.
        listed = client.get(f"/v1/suppression-lists/{made['id']}", headers=tenant.headers()).json()
        assert listed["entry_count"] == 1

    def test_skip_applies_the_good_lines(self, client: TestClient, tenant: Tenant) -> None:
        made = make_list(client, tenant)
        result = upload(client, tenant, made["id"], lines({"email": email()}, {"phone": "x"}), on_error="skip")
        assert (result["added"], result["failed"], result["errors"][0]["line"]) == (1, 1, 2)

    def test_post_adds_and_repeats_safely(self, client: TestClient, tenant: Tenant) -> None:
        made = make_list(client, tenant)
        a, b = email(), email()
        upload(client, tenant, made["id"], lines({"email": a}), method="POST")
        second = upload(client, tenant, made["id"], lines({"email": a}, {"email": b}, {"email": b}), method="POST")
        assert (second["added"], second["kept"], second["removed"], second["list"]["entry_count"]) == (1, 1, 0, 2)

    def test_media_types(self, client: TestClient, tenant: Tenant) -> None:
        made = make_list(client, tenant)
        upload(client, tenant, made["id"], '{"email": "a@example.fi"}', media_type="application/json", status=415)
        upload(client, tenant, made["id"], "email\n", media_type="text/plain", status=415)

    def test_values_are_kept_as_keyed_digests_only(
        self, client: TestClient, tenant: Tenant, owner_db: psycopg.Connection[tuple[object, ...]]
    ) -> None:
        made = make_list(client, tenant)
        address = email()
        upload(client, tenant, made["id"], lines({"email": address}))
        rows = owner_db.execute(
            "SELECT kind::text, digest FROM suppression_entry WHERE controller_id = %s", (tenant.id,)
        ).fetchall()
        assert len(rows) == 1
        kind, digest = rows[0]
        assert kind == "email"
        assert address.encode() not in bytes(digest)  # type: ignore[arg-type]
        # Keyed per controller: the same address on another controller's list is another digest.
        assert suppression.Matcher(tenant.id).digest(suppression.EntryKind.email, address) == bytes(digest)  # type: ignore[arg-type]
        assert suppression.Matcher(uuid.uuid4()).digest(suppression.EntryKind.email, address) != bytes(digest)  # type: ignore[arg-type]

    def test_row_level_security(
        self, client: TestClient, tenant: Tenant, other_tenant: Tenant, database_url: str
    ) -> None:
        for who in (tenant, other_tenant):
            upload(client, who, make_list(client, who)["id"], lines({"email": email()}))
        with psycopg.connect(libpq_url(database_url)) as conn:
            conn.execute("SELECT set_config('role', %s, true)", (get_settings().app_db_role,))
            conn.execute("SELECT set_config('rekisteri.controller_id', %s, true)", (str(tenant.id),))
            for table in ("suppression_list", "suppression_entry"):
                rows = conn.execute(f"SELECT DISTINCT controller_id FROM {table}").fetchall()
                assert {r[0] for r in rows} == {tenant.id}, table
            conn.rollback()


class TestChecks:
    def test_a_customer_on_a_list_is_denied_on_its_channels_only(self, client: TestClient, tenant: Tenant) -> None:
        made = make_list(client, tenant, ["direct_mail", "telemarketing"], name="ASML Kielto 2026-12")
        c = new_customer(client, tenant, phone="040 555 1234")
        assert decision(client, tenant, c["id"], "telemarketing")["allowed"] is True
        upload(client, tenant, made["id"], lines({"phone": "+358405551234"}))
        denied = decision(client, tenant, c["id"], "telemarketing")
        assert (denied["allowed"], denied["reason"]) == (False, "suppressed")
        assert "ASML Kielto 2026-12" in denied["detail"]
        assert decision(client, tenant, c["id"], "market_research")["reason"] == "not_prohibited"
        state = client.get(f"/v1/customers/{c['id']}/marketing", headers=tenant.headers()).json()
        reasons = {s["channel"]: s["decision"]["reason"] for s in state["channels"]}
        assert (reasons["direct_mail"], reasons["telemarketing"], reasons["profiling"]) == (
            "suppressed",
            "suppressed",
            "not_prohibited",
        )
        # Deleting the list lifts it, at once.
        client.delete(f"/v1/suppression-lists/{made['id']}", headers=tenant.headers())
        assert decision(client, tenant, c["id"], "telemarketing")["reason"] == "not_prohibited"

    def test_by_name_and_address_whatever_the_case_and_spacing(self, client: TestClient, tenant: Tenant) -> None:
        made = make_list(client, tenant, ["direct_mail"])
        c = new_customer(
            client,
            tenant,
            first_name="Matti",
            last_name="Meikäläinen",
            street_address="Kauppakatu 2 B 5",
            postal_code="40100",
        )
        upload(
            client,
            tenant,
            made["id"],
            lines(
                {
                    "first_name": "MATTI",
                    "last_name": "Meika\u0308la\u0308inen",  # the umlauts as combining marks
                    "street_address": " kauppakatu  2 b 5 ",
                    "postal_code": "40100",
                }
            ),
        )
        assert decision(client, tenant, c["id"], "direct_mail")["reason"] == "suppressed"
        other = new_customer(
            client,
            tenant,
            first_name="Maija",
            last_name="Meikäläinen",
            street_address="Kauppakatu 2 B 5",
            postal_code="40100",
        )
        assert decision(client, tenant, other["id"], "direct_mail")["reason"] == "not_prohibited"

    def test_an_objection_or_prohibition_is_named_first(self, client: TestClient, tenant: Tenant) -> None:
        c = new_customer(client, tenant)
        upload(client, tenant, make_list(client, tenant)["id"], lines({"email": c["email"]}))
        client.put(
            f"/v1/customers/{c['id']}/marketing",
            json={"channels": {"direct_mail": {"prohibited": True}}},
            headers=tenant.headers(),
        )
        assert decision(client, tenant, c["id"], "direct_mail")["reason"] == "prohibited"

    def test_a_consent_does_not_beat_the_list(self, client: TestClient, tenant: Tenant) -> None:
        c = new_customer(client, tenant)
        client.put(
            f"/v1/customers/{c['id']}/marketing",
            json={"channels": {"electronic": {"consent": True}}, "wording": "Saa lähettää."},
            headers=tenant.headers(),
        )
        upload(client, tenant, make_list(client, tenant, ["electronic"])["id"], lines({"email": c["email"]}))
        assert decision(client, tenant, c["id"], "electronic")["reason"] == "suppressed"

    def test_the_campaign_check_denies_listed_identifiers_in_or_out_of_the_register(
        self, client: TestClient, tenant: Tenant
    ) -> None:
        made = make_list(client, tenant, ["telemarketing"], name="Oma soittokielto")
        listed_customer = new_customer(client, tenant, phone="040 999 8888", external_id="k-1")
        free_customer = new_customer(client, tenant, phone="040 999 7777")
        stranger = email()
        upload(client, tenant, made["id"], lines({"phone": "0409998888"}, {"email": stranger}, {"phone": "0401112223"}))
        answers = campaign(
            client,
            tenant,
            [
                {"customer_id": listed_customer["id"]},
                {"external_id": "k-1"},
                {"phone": "+358 40 999 8888"},
                {"customer_id": free_customer["id"]},
                {"email": stranger.upper()},  # nobody in the register has it: suppressed, not unknown
                {"phone": "040 111 2223"},
                {"email": email()},
            ],
            "telemarketing",
        )
        assert [(a["allowed"], a["reason"]) for a in answers] == [
            (False, "suppressed"),
            (False, "suppressed"),
            (False, "suppressed"),
            (True, "not_prohibited"),
            (False, "suppressed"),
            (False, "suppressed"),
            (False, "unknown_subject"),
        ]
        assert answers[4]["detail"] == "On the suppression list 'Oma soittokielto'."
        assert "detail" not in answers[3]
        # Another channel: the list does not apply.
        other = campaign(client, tenant, [{"customer_id": listed_customer["id"]}], "direct_mail")
        assert other[0]["reason"] == "not_prohibited"

    def test_another_controllers_list_denies_nothing(
        self, client: TestClient, tenant: Tenant, other_tenant: Tenant
    ) -> None:
        c = new_customer(client, tenant)
        upload(client, other_tenant, make_list(client, other_tenant)["id"], lines({"email": c["email"]}))
        assert decision(client, tenant, c["id"], "direct_mail")["reason"] == "not_prohibited"


class TestThePersonsData:
    def test_the_access_answer_shows_the_matching_entries(self, client: TestClient, tenant: Tenant) -> None:
        c = new_customer(client, tenant, phone="040 321 6549")
        made = make_list(client, tenant, ["telemarketing"], name="ASML Kielto", source="ASML Kielto-palvelu")
        upload(client, tenant, made["id"], lines({"phone": "0403216549"}, {"email": email()}))
        export = client.get(f"/v1/customers/{c['id']}/export?kind=access", headers=tenant.headers(Role.agent))
        assert export.status_code == 200, export.text
        listed = export.json()["suppression_lists"]
        assert [(e["list_name"], e["source"], e["matched_on"], e["channels"]) for e in listed] == [
            ("ASML Kielto", "ASML Kielto-palvelu", "phone", ["telemarketing"])
        ]

    def test_erasure_forgets_the_persons_entries(
        self, client: TestClient, app: FastAPI, tenant: Tenant, owner_db: psycopg.Connection[tuple[object, ...]]
    ) -> None:
        c = new_customer(client, tenant, phone="040 321 0000")
        first, second = make_list(client, tenant), make_list(client, tenant, ["telemarketing"])
        upload(client, tenant, first["id"], lines({"email": c["email"]}, {"email": email()}))
        upload(client, tenant, second["id"], lines({"phone": "0403210000"}))

        async def forget() -> int:
            async with app.state.owner_sessionmaker() as session, session.begin():
                await enter(session, system_actor(tenant.id, "erasure"))
                customer = await session.get(Customer, (tenant.id, uuid.UUID(c["id"])))
                assert customer is not None
                return await suppression.forget_person(
                    session=session, actor=system_actor(tenant.id), customer=customer
                )

        assert client.portal is not None
        assert client.portal.call(forget) == 2
        counts = {
            lst["id"]: lst["entry_count"]
            for lst in client.get("/v1/suppression-lists", headers=tenant.headers()).json()["items"]
        }
        assert counts == {first["id"]: 1, second["id"]: 0}
        assert decision(client, tenant, c["id"], "telemarketing")["reason"] == "not_prohibited"
        erased = owner_db.execute(
            "SELECT action FROM audit_event WHERE controller_id = %s AND entity = 'suppression_entry' "
            "AND action = 'delete'",
            (tenant.id,),
        ).fetchall()
        assert len(erased) == 2

    def test_an_erasure_request_takes_the_entries_with_the_person(self, client: TestClient, tenant: Tenant) -> None:
        """Art. 17: the entries are the person's data; the erasure outcome and its letter count them."""
        c = new_customer(client, tenant)
        made = make_list(client, tenant)
        upload(client, tenant, made["id"], lines({"email": c["email"]}))
        body = {"type": "erasure", "channel": "email", "customer_id": c["id"], "erasure": {"ground": "objection"}}
        request = client.post("/v1/requests", json=body, headers=tenant.headers()).json()
        done = client.post(f"/v1/requests/{request['id']}/complete", json={}, headers=tenant.headers()).json()
        assert {"category": "suppression_entries", "count": 1} in done["outcome"]["erased"]
        lists = client.get("/v1/suppression-lists", headers=tenant.headers()).json()["items"]
        assert [lst["entry_count"] for lst in lists if lst["id"] == made["id"]] == [0]
        letter = client.get(f"/v1/requests/{request['id']}/letter?lang=en", headers=tenant.headers()).text
        assert "do-not-contact lists (1)" in letter

    def test_values_never_reach_the_log(
        self, client: TestClient, tenant: Tenant, capfd: pytest.CaptureFixture[str]
    ) -> None:
        made = make_list(client, tenant)
        address, bad_phone = email(), "+358 40 NOT A NUMBER 77"
        upload(client, tenant, made["id"], lines({"email": address}, {"phone": bad_phone}), on_error="skip")
        c = new_customer(client, tenant, email=address)
        decision(client, tenant, c["id"], "direct_mail")
        captured = capfd.readouterr()
        for value in (address, bad_phone):
            assert value not in captured.out + captured.err
