"""Data subject requests end to end through the HTTP API: intake, identity, deadlines, each right carried out."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import get_settings
from app.models.api_keys import Role
from app.services import deadlines
from tests.conftest import Tenant, new_customer
from tests.test_webhooks import subscribe


def intake(client: TestClient, tenant: Tenant, type_: str, **body: Any) -> dict[str, Any]:
    response = client.post("/v1/requests", json={"type": type_, "channel": "email", **body}, headers=tenant.headers())
    assert response.status_code == 201, response.text
    assert response.headers["Location"] == f"/v1/requests/{response.json()['id']}"
    return response.json()  # type: ignore[no-any-return]


def act(client: TestClient, tenant: Tenant, request_id: str, action: str, status: int = 200, **body: Any) -> Any:
    response = client.post(f"/v1/requests/{request_id}/{action}", json=body, headers=tenant.headers())
    assert response.status_code == status, response.text
    return response.json()


def customer(client: TestClient, tenant: Tenant, customer_id: Any) -> dict[str, Any]:
    response = client.get(f"/v1/customers/{customer_id}", headers=tenant.headers())
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def decisions(client: TestClient, tenant: Tenant, customer_id: Any) -> dict[str, dict[str, Any]]:
    state = client.get(f"/v1/customers/{customer_id}/marketing", headers=tenant.headers()).json()
    return {c["channel"]: c["decision"] for c in state["channels"]}


def letter(client: TestClient, tenant: Tenant, request_id: str, **params: str) -> str:
    response = client.get(f"/v1/requests/{request_id}/letter", params=params, headers=tenant.headers())
    assert response.status_code == 200, response.text
    return response.text


# --- intake -------------------------------------------------------------------------------------


def test_intake_sets_the_deadline_from_the_day_of_receipt(client: TestClient, tenant: Tenant) -> None:
    person = new_customer(client, tenant)
    # A letter that arrived on Friday 30 January 2026: due on 28 February, a Saturday, so Monday 2 March.
    request = intake(
        client, tenant, "access", customer_id=person["id"], channel="letter", received_at="2026-01-30T10:00:00+02:00"
    )
    assert request["status"] == "received"
    assert request["due_date"] == request["original_due_date"] == "2026-03-02"
    assert request["overdue"] is True  # long past by now
    assert request["answer_language"] == "fi"  # the controller's language; the customer gave none


def test_received_late_at_night_utc_counts_from_the_finnish_day(client: TestClient, tenant: Tenant) -> None:
    # 22:30 UTC on 14 May is 01:30 on 15 May in Helsinki: due 15 June 2026 (a Monday).
    request = intake(client, tenant, "access", person={"email": "x@example.fi"}, received_at="2026-05-14T22:30:00Z")
    assert request["due_date"] == "2026-06-15"


def test_a_person_is_matched_by_email_or_left_unlinked(client: TestClient, tenant: Tenant) -> None:
    person = new_customer(client, tenant, email="matti.virtanen@example.fi", preferred_language="sv")
    matched = intake(client, tenant, "access", person={"email": "Matti.Virtanen@Example.fi"})
    assert matched["customer_id"] == person["id"]
    assert matched["answer_language"] == "sv"  # the customer's own language
    unknown = intake(client, tenant, "access", person={"email": "nobody@example.fi", "first_name": "Ei"})
    assert unknown["customer_id"] is None
    assert unknown["person"] == {"email": "nobody@example.fi", "first_name": "Ei"}


@pytest.mark.parametrize(
    ("written", "answer"),
    [("en", "en"), ("en-GB", "en"), ("English", "en"), ("sv-FI", "sv"), ("svenska", "sv"), ("suomi", "fi")],
)
def test_the_answer_is_in_the_language_the_person_wrote_in(
    client: TestClient, tenant: Tenant, written: str, answer: str
) -> None:
    """Art. 12(1): concise and intelligible; a request written in English was answered in Finnish before."""
    person = new_customer(client, tenant, preferred_language="fi" if answer != "fi" else "sv")
    request = intake(client, tenant, "access", customer_id=person["id"], language=written)
    assert request["answer_language"] == answer


def test_a_language_we_do_not_write_falls_back_to_the_customers_then_the_controllers(
    client: TestClient, tenant: Tenant
) -> None:
    person = new_customer(client, tenant, preferred_language="sv")
    assert intake(client, tenant, "access", customer_id=person["id"], language="de")["answer_language"] == "sv"
    assert intake(client, tenant, "access", person={"email": "x@example.fi"}, language="et")["answer_language"] == "fi"
    asked = intake(client, tenant, "access", customer_id=person["id"], language="en", answer_language="fi")
    assert asked["answer_language"] == "fi"  # staff's explicit choice wins


def test_no_form_is_required_any_channel_and_language(client: TestClient, tenant: Tenant) -> None:
    person = new_customer(client, tenant)
    for channel in ("letter", "email", "phone", "in_person", "web_form", "authorised_agent"):
        request = intake(client, tenant, "access", customer_id=person["id"], channel=channel, language="et")
        assert request["channel"] == channel
        assert request["language"] == "et"


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"type": "rectification"}, ["body"]),  # the corrections are missing
        ({"type": "access", "erasure": {"ground": "objection"}}, ["body"]),  # a field of another type
        ({"type": "erasure", "erasure": {"ground": "because"}}, ["body", "erasure", "ground"]),
        ({"type": "rectification", "rectification": {"corrections": {"password": "x"}}}, None),
        ({"type": "rectification", "rectification": {"corrections": {"email": "not-an-address"}}}, None),
        ({"type": "access", "received_at": "2999-01-01T00:00:00Z"}, ["body", "received_at"]),
        ({"type": "access", "received_at": "2026-01-01T00:00:00"}, ["body", "received_at"]),
        ({"type": "access", "customer_id": str(uuid.uuid4())}, ["body", "customer_id"]),
    ],
)
def test_intake_refuses_what_it_cannot_take(
    client: TestClient, tenant: Tenant, body: dict[str, Any], loc: list[str] | None
) -> None:
    response = client.post("/v1/requests", json={"channel": "email", **body}, headers=tenant.headers())
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    if loc is not None:
        assert response.json()["errors"][0]["loc"][: len(loc)] == loc


def test_only_staff_register_and_handle_requests(client: TestClient, tenant: Tenant) -> None:
    """A request starts a legal deadline and some apply on receipt (an objection restricts processing at once):
    customer service registers them, a shop's key may not (docs/roles.md)."""
    person = new_customer(client, tenant)
    body = {"type": "access", "customer_id": person["id"], "channel": "web_form"}
    assert client.post("/v1/requests", json=body, headers=tenant.headers(Role.integration)).status_code == 403
    response = client.post("/v1/requests", json=body, headers=tenant.headers(Role.agent))
    assert response.status_code == 201
    request_id = response.json()["id"]
    assert client.get(f"/v1/requests/{request_id}", headers=tenant.headers(Role.integration)).status_code == 403
    assert (
        client.post(f"/v1/requests/{request_id}/complete", json={}, headers=tenant.headers(Role.auditor)).status_code
        == 403
    )
    assert client.get(f"/v1/requests/{request_id}", headers=tenant.headers(Role.agent)).status_code == 200


def test_another_controllers_request_is_not_found(client: TestClient, tenant: Tenant, other_tenant: Tenant) -> None:
    request = intake(client, tenant, "access", person={"email": "a@example.fi"})
    assert client.get(f"/v1/requests/{request['id']}", headers=other_tenant.headers()).status_code == 404
    response = client.post(f"/v1/requests/{request['id']}/complete", json={}, headers=other_tenant.headers())
    assert response.status_code == 404


# --- lifecycle ----------------------------------------------------------------------------------


def test_identity_check_pauses_the_clock_and_is_recorded(client: TestClient, tenant: Tenant) -> None:
    person = new_customer(client, tenant)
    request = intake(client, tenant, "access", customer_id=person["id"])
    waiting = act(client, tenant, request["id"], "request-identity", reason="Signed with another name.")
    assert waiting["status"] == "awaiting_identity"
    assert waiting["identity_requested_at"] is not None
    assert "confirm your identity" in letter(client, tenant, request["id"], lang="en")
    act(client, tenant, request["id"], "complete", 409)  # not before the person is known
    act(client, tenant, request["id"], "request-identity", 409, reason="again")
    verified = act(client, tenant, request["id"], "verify", method="document", note="Passport seen.")
    assert verified["status"] == "in_progress"
    assert verified["identity_method"] == "document"
    assert verified["identity_verified_by"] == "admin tester"
    assert verified["identity_verified_at"] is not None
    assert verified["paused_days"] == 0  # asked and answered on the same day
    assert verified["due_date"] == request["due_date"]


def test_verify_links_an_unmatched_request_and_applies_what_applies_at_once(client: TestClient, tenant: Tenant) -> None:
    person = new_customer(client, tenant)
    request = intake(client, tenant, "marketing_prohibition", person={"first_name": "Maija"}, prohibition={})
    assert request["customer_id"] is None
    act(client, tenant, request["id"], "complete", 409)  # nobody to apply it to yet
    linked = act(client, tenant, request["id"], "verify", method="known_contact", customer_id=person["id"])
    assert linked["customer_id"] == person["id"]
    assert not any(d["allowed"] for d in decisions(client, tenant, person["id"]).values())
    other = new_customer(client, tenant)
    act(client, tenant, request["id"], "verify", 409, method="document", customer_id=other["id"])


def test_extension_once_with_reasons_and_shown_in_a_letter(client: TestClient, tenant: Tenant) -> None:
    person = new_customer(client, tenant)
    received = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    request = intake(client, tenant, "access", customer_id=person["id"], received_at=received.isoformat())
    extended = act(client, tenant, request["id"], "extend", months=2, reason="Kymmenen vuoden tilaukset.")
    expected = deadlines.answer_due(deadlines.local_date(received), extension_months=2)
    assert extended["due_date"] == expected.isoformat()
    assert extended["original_due_date"] == request["due_date"]
    assert extended["extension_months"] == 2
    assert extended["extension_reason"] == "Kymmenen vuoden tilaukset."
    act(client, tenant, request["id"], "extend", 409, months=1, reason="again")
    text = letter(client, tenant, request["id"])
    assert "Kymmenen vuoden tilaukset" in text
    assert dt.date.fromisoformat(extended["due_date"]).strftime("%-d.%-m.%Y") in text
    missing_reason = client.post(f"/v1/requests/{request['id']}/extend", json={"months": 1}, headers=tenant.headers())
    assert missing_reason.status_code == 422


def test_no_extension_after_the_first_deadline(client: TestClient, tenant: Tenant) -> None:
    request = intake(client, tenant, "access", person={"email": "late@example.fi"}, received_at="2025-01-10T09:00:00Z")
    act(client, tenant, request["id"], "extend", 409, months=2, reason="Too late.")
    act(client, tenant, request["id"], "extend", 422, months=3, reason="Three is too many.")


def test_listing_sorted_by_due_date_with_filters(client: TestClient, tenant: Tenant) -> None:
    today = dt.datetime.now(dt.UTC)
    late = intake(client, tenant, "access", person={"email": "1@example.fi"}, received_at="2025-03-01T09:00:00Z")
    fresh = intake(client, tenant, "erasure", person={"email": "2@example.fi"}, erasure={"ground": "objection"})
    middle = intake(
        client,
        tenant,
        "access",
        person={"email": "3@example.fi"},
        received_at=(today - dt.timedelta(days=10)).isoformat(),
    )
    done = intake(client, tenant, "access", person={"email": "4@example.fi"}, received_at="2025-02-01T09:00:00Z")
    act(client, tenant, done["id"], "complete")

    def ids(**params: Any) -> list[str]:
        response = client.get("/v1/requests", params=params, headers=tenant.headers())
        assert response.status_code == 200, response.text
        return [r["id"] for r in response.json()["items"]]

    assert ids() == [done["id"], late["id"], middle["id"], fresh["id"]]
    assert ids(overdue="true") == [late["id"]]  # completed ones are never overdue
    assert ids(status="received", type="access") == [late["id"], middle["id"]]
    assert ids(type=["erasure", "access"], status=["completed"]) == [done["id"]]
    assert ids(due_before=fresh["due_date"]) == [done["id"], late["id"], middle["id"]]
    first = client.get("/v1/requests", params={"limit": 2}, headers=tenant.headers()).json()
    second = client.get(first["next"], headers=tenant.headers()).json()
    assert [r["id"] for r in first["items"] + second["items"]] == ids()
    assert second["next"] is None
    assert client.get("/v1/requests", params={"due_before": "0"}, headers=tenant.headers()).status_code == 422
    assert client.get("/v1/requests", params={"cursor": "nonsense"}, headers=tenant.headers()).status_code == 400


def test_closed_requests_take_no_more_actions(client: TestClient, tenant: Tenant) -> None:
    request = intake(client, tenant, "access", person={"email": "w@example.fi"})
    withdrawn = act(client, tenant, request["id"], "withdraw", note="Settled by phone.")
    assert withdrawn["status"] == "withdrawn"
    assert withdrawn["closed_at"] is not None
    for action, body in (("complete", {}), ("refuse", {"reasons": "x"}), ("verify", {"method": "other"})):
        act(client, tenant, request["id"], action, 409, **body)


def test_if_match_guards_the_actions(client: TestClient, tenant: Tenant) -> None:
    request = intake(client, tenant, "access", person={"email": "e@example.fi"})
    read = client.get(f"/v1/requests/{request['id']}", headers=tenant.headers())
    tag = read.headers["ETag"]
    act(client, tenant, request["id"], "verify", method="document")
    stale = client.post(f"/v1/requests/{request['id']}/complete", json={}, headers=tenant.headers(**{"If-Match": tag}))
    assert stale.status_code == 412


def test_every_transition_is_audited_with_actor(client: TestClient, tenant: Tenant) -> None:
    person = new_customer(client, tenant)
    request = intake(client, tenant, "access", customer_id=person["id"])
    act(client, tenant, request["id"], "verify", method="document")
    act(client, tenant, request["id"], "complete")
    events = client.get("/v1/audit", params={"entity_id": request["id"]}, headers=tenant.headers()).json()["items"]
    statuses = [e["changes"]["status"]["new"] for e in events if "status" in e["fields"]]
    assert statuses == ["received", "in_progress", "completed"]
    assert {e["actor_name"] for e in events} == {"admin tester"}


# --- each right ---------------------------------------------------------------------------------


def test_access_request_from_intake_to_export(client: TestClient, tenant: Tenant) -> None:
    person = new_customer(client, tenant, city="Tampere")
    request = intake(client, tenant, "access", customer_id=person["id"], channel="letter")
    done = act(client, tenant, request["id"], "complete")
    assert done["status"] == "completed"
    assert done["outcome"]["export"]["url"] == f"/v1/requests/{request['id']}/export"
    export = client.get(done["outcome"]["export"]["url"], headers=tenant.headers())
    assert export.status_code == 200
    document = export.json()
    assert document["schema"] == "rekisteri.access/2"
    assert document["customer"]["city"] == "Tampere"
    assert document["information"]["complaint_authorities"][0]["country"] == "FI"
    assert [r["id"] for r in document["requests"]] == [request["id"]]
    answer = letter(client, tenant, request["id"], lang="en")
    assert "Right of access" in answer
    assert "enclosed with this letter" in answer  # the copy goes with the letter


def test_access_for_someone_not_in_the_register(client: TestClient, tenant: Tenant) -> None:
    request = intake(client, tenant, "access", person={"email": "stranger@example.fi"})
    done = act(client, tenant, request["id"], "complete")
    assert done["outcome"]["found"] is False
    response = client.get(f"/v1/requests/{request['id']}/export", headers=tenant.headers())
    assert response.status_code == 409


def test_portability_request_gives_json_and_zip(client: TestClient, tenant: Tenant) -> None:
    person = new_customer(client, tenant)
    request = intake(client, tenant, "portability", customer_id=person["id"])
    done = act(client, tenant, request["id"], "complete")
    assert done["outcome"]["export"]["formats"] == ["json", "zip"]
    as_json = client.get(f"/v1/requests/{request['id']}/export", headers=tenant.headers())
    assert as_json.json()["schema"] == "rekisteri.portability/1"
    as_zip = client.get(f"/v1/requests/{request['id']}/export?format=zip", headers=tenant.headers())
    assert as_zip.headers["content-type"] == "application/zip"
    assert as_zip.content[:2] == b"PK"


def test_rectification_applies_and_refuses_per_field(client: TestClient, tenant: Tenant) -> None:
    person = new_customer(client, tenant, city="Turku", phone="0401234567")
    request = intake(
        client,
        tenant,
        "rectification",
        customer_id=person["id"],
        rectification={"corrections": {"city": "Espoo", "phone": "050 765 4321", "last_name": "Virtanen"}},
    )
    done = act(
        client, tenant, request["id"], "complete", refuse_fields={"last_name": "The name is as in the contract."}
    )
    assert sorted(done["outcome"]["applied"]) == ["city", "phone"]
    assert done["outcome"]["refused"] == {"last_name": "The name is as in the contract."}
    after = customer(client, tenant, person["id"])
    assert (after["city"], after["phone"], after["last_name"]) == ("Espoo", "+358507654321", "Meikäläinen")
    text = letter(client, tenant, request["id"], lang="en")
    assert "The name is as in the contract." in text
    assert "Data Protection Ombudsman" in text  # something was refused: the remedies follow
    events = client.get("/v1/audit", params={"entity_id": person["id"]}, headers=tenant.headers()).json()["items"]
    assert events[-1]["changes"]["city"] == {"old": "Turku", "new": "Espoo"}


def test_rectification_refuse_fields_must_name_requested_fields(client: TestClient, tenant: Tenant) -> None:
    person = new_customer(client, tenant)
    request = intake(
        client, tenant, "rectification", customer_id=person["id"], rectification={"corrections": {"city": "Oulu"}}
    )
    act(client, tenant, request["id"], "complete", 422, refuse_fields={"email": "no"})


def test_restriction_blocks_marketing_and_edits_until_lifted_after_notice(client: TestClient, tenant: Tenant) -> None:
    person = new_customer(client, tenant, city="Vaasa")
    request = intake(
        client,
        tenant,
        "restriction",
        customer_id=person["id"],
        restriction={"ground": "accuracy_contested", "contested_fields": ["city"]},
    )
    done = act(client, tenant, request["id"], "complete")
    assert done["outcome"]["ground"] == "accuracy_contested"
    restricted = customer(client, tenant, person["id"])
    assert restricted["restricted_at"] is not None
    assert restricted["restriction_fields"] == ["city"]
    assert all(d["reason"] == "restricted" for d in decisions(client, tenant, person["id"]).values())
    # Only the contested field may be corrected meanwhile.
    path = f"/v1/customers/{person['id']}"
    assert client.patch(path, json={"last_name": "Uusi"}, headers=tenant.headers()).status_code == 409
    assert client.patch(path, json={"city": "Vasa"}, headers=tenant.headers()).status_code == 200
    assert client.delete(path, headers=tenant.headers()).status_code == 409
    # Lifting needs the person told first (Art. 18(3)).
    lift = client.delete(f"{path}/restriction", headers=tenant.headers())
    assert lift.status_code == 409
    assert "18(3)" in lift.json()["detail"]
    notice = client.post(f"{path}/restriction/notice", json={"via": "letter"}, headers=tenant.headers())
    assert notice.status_code == 200
    lifted = client.delete(f"{path}/restriction", headers=tenant.headers())
    assert lifted.status_code == 200, lifted.text
    assert lifted.json()["restricted_at"] is None
    assert client.patch(path, json={"last_name": "Uusi"}, headers=tenant.headers()).status_code == 200
    assert client.delete(f"{path}/restriction", headers=tenant.headers()).status_code == 409  # not restricted now


def test_objection_to_direct_marketing_applies_on_receipt(client: TestClient, tenant: Tenant) -> None:
    person = new_customer(client, tenant)
    assert decisions(client, tenant, person["id"])["direct_mail"]["allowed"] is True
    request = intake(client, tenant, "objection", customer_id=person["id"], objection={"kind": "direct_marketing"})
    assert all(d["reason"] == "objection" for d in decisions(client, tenant, person["id"]).values())
    done = act(client, tenant, request["id"], "complete")
    assert done["outcome"]["kind"] == "direct_marketing"
    assert all(not d["allowed"] for d in decisions(client, tenant, person["id"]).values())


def test_particular_situation_objection_restricts_until_decided(client: TestClient, tenant: Tenant) -> None:
    person = new_customer(client, tenant)
    upheld = intake(client, tenant, "objection", customer_id=person["id"], objection={"kind": "particular_situation"})
    assert customer(client, tenant, person["id"])["restriction_ground"] == "objection_pending"
    done = act(client, tenant, upheld["id"], "complete")
    # Upheld (Art. 21(1)): the processing ends, so the data goes through the erasure path (Art. 17(1)(c)), and
    # with nothing left to process the restriction ends too; nothing is kept restricted for ever.
    assert done["outcome"]["upheld"] is True
    assert done["outcome"]["ground"] == "objection"
    assert {"category": "customer", "fields": ["email", "first_name", "last_name"]} in done["outcome"]["erased"]
    assert done["outcome"]["kept"] == []
    after = client.get(f"/v1/customers/{person['id']}", headers=tenant.headers()).json()
    assert (after["restricted_at"], after["restriction_ground"], after["email"]) == (None, None, None)
    assert after["erased_at"] is not None

    other = new_customer(client, tenant)
    refused = intake(client, tenant, "objection", customer_id=other["id"], objection={"kind": "particular_situation"})
    assert customer(client, tenant, other["id"])["restricted_at"] is not None
    act(client, tenant, refused["id"], "refuse", reasons="Compelling legitimate grounds: an open contract.")
    assert customer(client, tenant, other["id"])["restricted_at"] is None  # the refusal told the person


def test_marketing_prohibition_on_named_channels(client: TestClient, tenant: Tenant) -> None:
    person = new_customer(client, tenant)
    request = intake(
        client,
        tenant,
        "marketing_prohibition",
        customer_id=person["id"],
        channel="phone",
        prohibition={"channels": ["telemarketing", "direct_mail"]},
    )
    after = decisions(client, tenant, person["id"])
    assert after["telemarketing"]["reason"] == after["direct_mail"]["reason"] == "prohibited"
    assert after["market_research"]["allowed"] is True
    done = act(client, tenant, request["id"], "complete")
    assert done["outcome"]["channels"] == ["telemarketing", "direct_mail"]
    history = client.get(f"/v1/customers/{person['id']}/marketing", headers=tenant.headers()).json()["history"]
    assert {h["received_via"] for h in history} == {"phone"}
    assert {h["source"] for h in history} == {f"request {request['id']}"}


def test_refusal_needs_reasons_and_names_the_authorities(client: TestClient, tenant: Tenant) -> None:
    person = new_customer(client, tenant, country="SE")
    request = intake(client, tenant, "erasure", customer_id=person["id"], erasure={"ground": "no_longer_necessary"})
    act(client, tenant, request["id"], "refuse", 422)
    act(client, tenant, request["id"], "refuse", 422, reasons="")
    refused = act(client, tenant, request["id"], "refuse", reasons="Manifestly unfounded: the same as last week.")
    assert refused["status"] == "refused"
    assert refused["refusal_reasons"] == "Manifestly unfounded: the same as last week."
    for lang, authority in (("fi", "Tietosuojavaltuutetun toimisto"), ("en", "Data Protection Ombudsman")):
        text = letter(client, tenant, request["id"], lang=lang)
        assert authority in text
        assert "tietosuoja@om.fi" in text
        assert "Integritetsskyddsmyndigheten" in text  # the person lives in Sweden
    html = client.get(
        f"/v1/requests/{request['id']}/letter", params={"format": "html", "lang": "sv"}, headers=tenant.headers()
    )
    assert html.headers["content-type"].startswith("text/html")
    assert '<html lang="sv">' in html.text


def test_no_letter_before_there_is_something_to_say(client: TestClient, tenant: Tenant) -> None:
    request = intake(client, tenant, "access", person={"email": "q@example.fi"})
    response = client.get(f"/v1/requests/{request['id']}/letter", headers=tenant.headers())
    assert response.status_code == 409


def test_rectification_and_restriction_tell_the_recipients(client: TestClient, tenant: Tenant) -> None:
    hook = subscribe(client, tenant, "https://crm.example.fi/hooks", description="CRM")
    person = new_customer(client, tenant)
    request = intake(
        client, tenant, "rectification", customer_id=person["id"], rectification={"corrections": {"city": "Lahti"}}
    )
    done = act(client, tenant, request["id"], "complete")
    assert done["outcome"]["recipients_notified"] == ["CRM"]
    assert "CRM" in letter(client, tenant, request["id"], lang="en")
    restriction = intake(
        client, tenant, "restriction", customer_id=person["id"], restriction={"ground": "unlawful_processing"}
    )
    assert act(client, tenant, restriction["id"], "complete")["outcome"]["recipients_notified"] == ["CRM"]
    deliveries = client.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=tenant.headers()).json()
    assert {d["event_type"] for d in deliveries["items"]} >= {"customer.rectified", "customer.restricted"}


def test_days_awaiting_identity_move_the_deadline(client: TestClient, tenant: Tenant, owner_db: Any) -> None:
    person = new_customer(client, tenant)
    received = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
    request = intake(client, tenant, "access", customer_id=person["id"], received_at=received.isoformat())
    assert request["overdue"] is True
    act(client, tenant, request["id"], "request-identity", reason="Two customers share the name.")
    # The question went out 35 days ago, while the clock still ran (moved by hand: no API sets the past).
    with owner_db.transaction():
        owner_db.execute("SET LOCAL session_replication_role = replica")
        owner_db.execute(
            "UPDATE subject_request SET identity_requested_at = now() - interval '35 days' WHERE id = %s",
            (request["id"],),
        )
    # While the clock stands, the request is not overdue.
    waiting = client.get(f"/v1/requests/{request['id']}", headers=tenant.headers()).json()
    assert waiting["overdue"] is False
    overdue = client.get("/v1/requests", params={"overdue": "true"}, headers=tenant.headers()).json()["items"]
    assert request["id"] not in [r["id"] for r in overdue]
    verified = act(client, tenant, request["id"], "verify", method="strong_authentication")
    assert verified["paused_days"] == 35
    expected = deadlines.answer_due(deadlines.local_date(received), paused_days=35)
    assert verified["due_date"] == expected.isoformat()
    assert verified["overdue"] is False


def test_access_letters_enclose_the_export_or_say_nothing_is_held(client: TestClient, tenant: Tenant) -> None:
    person = new_customer(client, tenant)
    found = intake(client, tenant, "access", customer_id=person["id"])
    act(client, tenant, found["id"], "complete")
    text = letter(client, tenant, found["id"], lang="en")
    assert "/v1/" not in text  # the export goes with the letter; an API path means nothing to the person
    nobody = intake(client, tenant, "access", person={"email": "none@example.fi"})
    act(client, tenant, nobody["id"], "complete")
    for lang in ("fi", "sv", "en"):
        assert letter(client, tenant, nobody["id"], lang=lang)


def test_the_clock_can_keep_running_while_identity_is_awaited(
    client: TestClient, tenant: Tenant, owner_db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REKISTERI_IDENTITY_PAUSES_CLOCK", "false")
    get_settings.cache_clear()
    try:
        person = new_customer(client, tenant)
        received = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
        request = intake(client, tenant, "access", customer_id=person["id"], received_at=received.isoformat())
        waiting = act(client, tenant, request["id"], "request-identity", reason="Unclear.")
        assert waiting["overdue"] is True
        with owner_db.transaction():
            owner_db.execute("SET LOCAL session_replication_role = replica")
            owner_db.execute(
                "UPDATE subject_request SET identity_requested_at = now() - interval '5 days' WHERE id = %s",
                (request["id"],),
            )
        verified = act(client, tenant, request["id"], "verify", method="document")
        assert verified["paused_days"] == 0
        assert verified["due_date"] == request["due_date"]
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
