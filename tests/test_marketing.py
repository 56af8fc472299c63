"""Marketing permissions: every decision rule, the history, the single and the campaign check."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.actor import system_actor
from app.json import loads
from app.models.api_keys import Role
from app.models.base import utcnow
from app.models.customers import Customer
from tests.conftest import Tenant, new_customer

WORDING = "Haluan sähköpostia tarjouksista."


def put(client: TestClient, tenant: Tenant, customer_id: object, **body: Any) -> dict[str, Any]:
    response = client.put(f"/v1/customers/{customer_id}/marketing", json=body, headers=tenant.headers(Role.agent))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def may(client: TestClient, tenant: Tenant, customer_id: object, channel: str, **query: str) -> tuple[bool, str]:
    response = client.get(
        f"/v1/customers/{customer_id}/marketing/{channel}", params=query, headers=tenant.headers(Role.integration)
    )
    assert response.status_code == 200, response.text
    return response.json()["allowed"], response.json()["reason"]


def detail(client: TestClient, tenant: Tenant, customer_id: object, channel: str, **query: str) -> str:
    response = client.get(
        f"/v1/customers/{customer_id}/marketing/{channel}", params=query, headers=tenant.headers(Role.integration)
    )
    assert response.status_code == 200, response.text
    return str(response.json()["detail"])


def mark(client: TestClient, app: FastAPI, tenant: Tenant, customer_id: object, **values: object) -> None:
    """Set a customer's restriction or erasure mark through the audited path (the request workflow's job)."""

    async def work() -> None:
        async with app.state.owner_sessionmaker() as session, session.begin():
            session.info["actor"] = system_actor(tenant.id)
            customer = await session.get(Customer, (tenant.id, uuid.UUID(str(customer_id))))
            assert customer is not None
            for key, value in values.items():
                setattr(customer, key, value)

    assert client.portal is not None
    client.portal.call(work)


ALL = (
    "direct_mail",
    "telemarketing",
    "automated_calls",
    "electronic",
    "market_research",
    "partner_disclosure",
    "list_publication",
    "profiling",
)


class TestRules:
    def test_unknown_person_is_never_allowed(self, client: TestClient, tenant: Tenant, other_tenant: Tenant) -> None:
        theirs = new_customer(client, other_tenant)
        for customer_id in (uuid.uuid4(), theirs["id"]):
            assert may(client, tenant, customer_id, "direct_mail") == (False, "unknown_subject")

    def test_a_prohibition_denies_its_channel_only(self, client: TestClient, tenant: Tenant) -> None:
        c = new_customer(client, tenant)["id"]
        assert may(client, tenant, c, "direct_mail") == (True, "not_prohibited")
        put(client, tenant, c, channels={"direct_mail": {"prohibited": True}}, received_via="letter")
        assert may(client, tenant, c, "direct_mail") == (False, "prohibited")
        assert may(client, tenant, c, "telemarketing") == (True, "not_prohibited")

    def test_a_prohibition_wins_over_consent(self, client: TestClient, tenant: Tenant) -> None:
        c = new_customer(client, tenant)["id"]
        put(client, tenant, c, channels={"electronic": {"consent": True}}, wording=WORDING)
        put(client, tenant, c, channels={"electronic": {"prohibited": True}})
        assert may(client, tenant, c, "electronic") == (False, "prohibited")

    @pytest.mark.parametrize(("mark_as", "reason"), [("restricted_at", "restricted"), ("erased_at", "erased")])
    def test_restriction_and_erasure_deny_every_channel(
        self, client: TestClient, app: FastAPI, tenant: Tenant, mark_as: str, reason: str
    ) -> None:
        c = new_customer(client, tenant, kind="business")["id"]
        put(client, tenant, c, channels={"electronic": {"consent": True}}, wording=WORDING)
        mark(client, app, tenant, c, **{mark_as: utcnow()})
        for channel in ALL:
            assert may(client, tenant, c, channel) == (False, reason), channel

    def test_an_objection_denies_every_channel_at_once(self, client: TestClient, tenant: Tenant) -> None:
        c = new_customer(client, tenant, kind="business")["id"]
        put(client, tenant, c, objection=True, received_via="email")
        for channel in ALL:
            assert may(client, tenant, c, channel) == (False, "objection"), channel
        put(client, tenant, c, objection=False)
        assert may(client, tenant, c, "direct_mail") == (True, "not_prohibited")

    def test_electronic_to_a_private_person_needs_consent(self, client: TestClient, tenant: Tenant) -> None:
        c = new_customer(client, tenant)["id"]
        assert may(client, tenant, c, "electronic") == (False, "no_consent")
        put(client, tenant, c, channels={"electronic": {"consent": True}}, wording=WORDING, received_via="web")
        assert may(client, tenant, c, "electronic") == (True, "consent")

    def test_a_withdrawn_consent_denies_from_the_moment_of_withdrawal(self, client: TestClient, tenant: Tenant) -> None:
        c = new_customer(client, tenant)["id"]
        week_ago = (utcnow() - dt.timedelta(days=7)).isoformat()
        yesterday = (utcnow() - dt.timedelta(days=1)).isoformat()
        put(client, tenant, c, channels={"electronic": {"consent": True}}, wording=WORDING, occurred_at=week_ago)
        put(client, tenant, c, channels={"electronic": {"consent": False}}, occurred_at=yesterday)
        assert may(client, tenant, c, "electronic") == (False, "consent_withdrawn")
        state = client.get(f"/v1/customers/{c}/marketing", headers=tenant.headers()).json()
        electronic = next(s for s in state["channels"] if s["channel"] == "electronic")
        assert electronic["consent_given_at"] is None
        assert electronic["consent_withdrawn_at"].startswith(yesterday[:10])

    def test_what_was_recorded_last_holds_whatever_date_it_bears(self, client: TestClient, tenant: Tenant) -> None:
        c = new_customer(client, tenant)["id"]
        soon = (utcnow() + dt.timedelta(seconds=30)).isoformat()  # within the allowed clock skew
        put(client, tenant, c, channels={"electronic": {"consent": True}}, wording=WORDING, occurred_at=soon)
        put(client, tenant, c, channels={"electronic": {"consent": False}})
        assert may(client, tenant, c, "electronic") == (False, "consent_withdrawn")
        # A letter dated before the lifting, arriving after it, prohibits again.
        put(client, tenant, c, channels={"direct_mail": {"prohibited": True}}, occurred_at="2026-10-01T00:00:00Z")
        put(client, tenant, c, channels={"direct_mail": {"prohibited": False}})
        put(client, tenant, c, channels={"direct_mail": {"prohibited": True}}, occurred_at="2026-10-15T00:00:00Z")
        assert may(client, tenant, c, "direct_mail") == (False, "prohibited")
        history = put(client, tenant, c, channels={"direct_mail": {"prohibited": True}})["history"]
        assert len(history) == 5  # the repeat recorded nothing

    def test_business_contact_until_prohibited(self, client: TestClient, tenant: Tenant) -> None:
        c = new_customer(client, tenant, kind="business", organisation="Yritys Oy")["id"]
        assert may(client, tenant, c, "electronic") == (True, "business_contact")
        put(client, tenant, c, channels={"electronic": {"prohibited": True}})
        assert may(client, tenant, c, "electronic") == (False, "prohibited")

    @pytest.mark.parametrize("channel", ["partner_disclosure", "list_publication"])
    def test_disclosure_and_publication_of_a_private_person_need_consent(
        self, client: TestClient, tenant: Tenant, channel: str
    ) -> None:
        # GDPR Art. 6(1)(a): the repealed Personal Data Act's "until forbidden" no longer holds for lists.
        c = new_customer(client, tenant)["id"]
        assert may(client, tenant, c, channel) == (False, "no_consent")
        assert "Art. 6(1)(a)" in detail(client, tenant, c, channel)
        put(client, tenant, c, channels={channel: {"consent": True}}, wording="Saa luovuttaa ja julkaista.")
        assert may(client, tenant, c, channel) == (True, "consent")

    @pytest.mark.parametrize("channel", ["partner_disclosure", "list_publication"])
    def test_disclosure_and_publication_of_a_business_contact_until_objected(
        self, client: TestClient, tenant: Tenant, channel: str
    ) -> None:
        # Not electronic marketing: § 200 does not govern it; legitimate interest and the right to object do.
        c = new_customer(client, tenant, kind="business", organisation="Yritys Oy")["id"]
        assert may(client, tenant, c, channel) == (True, "business_contact")
        text = detail(client, tenant, c, channel)
        assert "Art. 6(1)(f)" in text
        assert "Art. 21" in text
        assert "§ 200" not in text
        put(client, tenant, c, channels={channel: {"prohibited": True}})
        assert may(client, tenant, c, channel) == (False, "prohibited")


class TestAutomatedCalls:
    """Act 917/2014 § 200(1): automated calling systems and voice messages need a private person's consent."""

    def test_a_private_person_needs_consent_unlike_for_telemarketing(self, client: TestClient, tenant: Tenant) -> None:
        c = new_customer(client, tenant)["id"]
        assert may(client, tenant, c, "telemarketing") == (True, "not_prohibited")
        assert may(client, tenant, c, "automated_calls") == (False, "no_consent")
        assert "§ 200(1)" in detail(client, tenant, c, "automated_calls")
        put(client, tenant, c, channels={"automated_calls": {"consent": True}}, wording="Saa soittaa automaattisesti.")
        assert may(client, tenant, c, "automated_calls") == (True, "consent")
        put(client, tenant, c, channels={"automated_calls": {"consent": False}})
        assert may(client, tenant, c, "automated_calls") == (False, "consent_withdrawn")

    def test_no_existing_customer_exception(self, client: TestClient, tenant: Tenant) -> None:
        c = existing_customer(client, tenant)
        assert may(client, tenant, c, "electronic", own_similar_products="true") == (True, "existing_customer")
        assert may(client, tenant, c, "automated_calls", own_similar_products="true") == (False, "no_consent")

    def test_a_business_contact_until_prohibited(self, client: TestClient, tenant: Tenant) -> None:
        c = new_customer(client, tenant, kind="business", organisation="Yritys Oy")["id"]
        assert may(client, tenant, c, "automated_calls") == (True, "business_contact")
        put(client, tenant, c, channels={"automated_calls": {"prohibited": True}}, received_via="phone")
        assert may(client, tenant, c, "automated_calls") == (False, "prohibited")
        assert may(client, tenant, c, "telemarketing") == (True, "not_prohibited")

    def test_in_the_state_and_the_history(self, client: TestClient, tenant: Tenant) -> None:
        c = new_customer(client, tenant)["id"]
        state = put(client, tenant, c, channels={"automated_calls": {"prohibited": True}}, received_via="letter")
        channels = {s["channel"]: s for s in state["channels"]}
        assert channels["automated_calls"]["decision"]["reason"] == "prohibited"
        assert [(h["channel"], h["action"]) for h in state["history"]] == [("automated_calls", "prohibited")]

    def test_in_the_campaign_check(self, client: TestClient, tenant: Tenant) -> None:
        c = new_customer(client, tenant)["id"]
        answers = campaign(client, tenant, [f'{{"customer_id": "{c}"}}'.encode()], channel="automated_calls")
        assert (answers[0]["allowed"], answers[0]["reason"]) == (False, "no_consent")


def ago(days: int) -> str:
    return (dt.date.today() - dt.timedelta(days=days)).isoformat()


def order(client: TestClient, tenant: Tenant, customer_id: object, days_ago: int, status: str = "paid") -> None:
    response = client.post(
        f"/v1/customers/{customer_id}/orders",
        json={"order_date": ago(days_ago), "total": "9.90", "invoice_status": status},
        headers=tenant.headers(),
    )
    assert response.status_code == 201, response.text


def existing_customer(client: TestClient, tenant: Tenant, days_ago: int = 30, **fields: object) -> str:
    """A private person whose e-mail was collected at a sale `days_ago`, with an opt-out offered."""
    c = new_customer(client, tenant, **({"source": "purchase"} | fields))["id"]
    order(client, tenant, c, days_ago)
    put(client, tenant, c, channels={"electronic": {"opt_out_offered": True}}, source="checkout")
    return str(c)


def set_window(client: TestClient, tenant: Tenant, months: int) -> None:
    body = client.get("/v1/controller", headers=tenant.headers()).json()["profile"]
    body["marketing"] = {"existing_customer_months": months}
    response = client.put("/v1/controller", json=body, headers=tenant.headers())
    assert response.status_code == 200, response.text


OWN = {"own_similar_products": "true"}


class TestExistingCustomer:
    """Act 917/2014 § 200(2): e-mail collected at a recent sale, an opt-out offered, own similar products."""

    def test_a_recent_sale_with_an_opt_out(self, client: TestClient, tenant: Tenant) -> None:
        c = existing_customer(client, tenant, days_ago=30)
        assert may(client, tenant, c, "electronic", **OWN) == (True, "existing_customer")
        assert ago(30) in detail(client, tenant, c, "electronic", **OWN)  # the detail names the sale date
        assert may(client, tenant, c, "electronic") == (False, "no_consent")  # someone else's products
        put(client, tenant, c, channels={"electronic": {"prohibited": True}})  # the opt-out used
        assert may(client, tenant, c, "electronic", **OWN) == (False, "prohibited")

    def test_not_before_a_sale(self, client: TestClient, tenant: Tenant) -> None:
        c = new_customer(client, tenant, source="purchase", relationship_start_date="2020-01-01")["id"]
        put(client, tenant, c, channels={"electronic": {"opt_out_offered": True}})
        assert may(client, tenant, c, "electronic", **OWN) == (False, "no_consent")

    def test_a_sale_in_2012_is_not_recent(self, client: TestClient, tenant: Tenant) -> None:
        c = new_customer(client, tenant, source="purchase")["id"]
        client.post(
            f"/v1/customers/{c}/orders", json={"order_date": "2012-05-01", "total": "9.90"}, headers=tenant.headers()
        )
        put(client, tenant, c, channels={"electronic": {"opt_out_offered": True}})
        assert may(client, tenant, c, "electronic", **OWN) == (False, "no_consent")
        assert "no sale within 24 months" in detail(client, tenant, c, "electronic", **OWN)

    def test_the_window_is_two_years_by_default_and_the_profiles_to_set(
        self, client: TestClient, tenant: Tenant
    ) -> None:
        c = existing_customer(client, tenant, days_ago=300)  # ten months ago
        assert may(client, tenant, c, "electronic", **OWN) == (True, "existing_customer")
        set_window(client, tenant, 6)
        assert may(client, tenant, c, "electronic", **OWN) == (False, "no_consent")
        assert "no sale within 6 months" in detail(client, tenant, c, "electronic", **OWN)
        order(client, tenant, c, days_ago=10)  # a new sale renews the relationship
        assert may(client, tenant, c, "electronic", **OWN) == (True, "existing_customer")
        assert ago(10) in detail(client, tenant, c, "electronic", **OWN)

    def test_the_window_has_bounds(self, client: TestClient, tenant: Tenant) -> None:
        body = client.get("/v1/controller", headers=tenant.headers()).json()["profile"]
        for months in (0, 61, -24):
            body["marketing"] = {"existing_customer_months": months}
            assert client.put("/v1/controller", json=body, headers=tenant.headers()).status_code == 422

    def test_the_email_must_be_collected_at_a_sale(self, client: TestClient, tenant: Tenant) -> None:
        for source in ("registration", None):
            c = existing_customer(client, tenant, source=source)
            assert may(client, tenant, c, "electronic", **OWN) == (False, "no_consent")
            assert "not collected at a sale" in detail(client, tenant, c, "electronic", **OWN)

    def test_a_credited_sale_is_no_sale(self, client: TestClient, tenant: Tenant) -> None:
        c = new_customer(client, tenant, source="purchase")["id"]
        order(client, tenant, c, days_ago=5, status="credited")
        put(client, tenant, c, channels={"electronic": {"opt_out_offered": True}})
        assert may(client, tenant, c, "electronic", **OWN) == (False, "no_consent")

    def test_an_ended_relationship_is_not_existing(self, client: TestClient, tenant: Tenant) -> None:
        c = existing_customer(client, tenant, days_ago=60, relationship_end_date=ago(1))
        assert may(client, tenant, c, "electronic", **OWN) == (False, "no_consent")
        assert "relationship has ended" in detail(client, tenant, c, "electronic", **OWN)

    def test_existing_customer_needs_the_opt_out_offered(self, client: TestClient, tenant: Tenant) -> None:
        c = new_customer(client, tenant, source="purchase")["id"]
        order(client, tenant, c, days_ago=3)
        assert may(client, tenant, c, "electronic", **OWN) == (False, "no_consent")
        assert "no opt-out" in detail(client, tenant, c, "electronic", **OWN)

    def test_in_the_campaign_check(self, client: TestClient, tenant: Tenant) -> None:
        recent, old = existing_customer(client, tenant, days_ago=30), existing_customer(client, tenant, days_ago=800)
        lines = [f'{{"customer_id": "{c}"}}'.encode() for c in (recent, old)]
        answers = campaign(client, tenant, lines, channel="electronic", own_similar_products="true")
        assert [a["reason"] for a in answers] == ["existing_customer", "no_consent"]


class TestRecording:
    def test_history_is_kept_and_put_repeats_safely(self, client: TestClient, tenant: Tenant) -> None:
        c = new_customer(client, tenant)["id"]
        body = {"channels": {"telemarketing": {"prohibited": True}}, "received_via": "phone", "source": "call"}
        first = put(client, tenant, c, **body)
        again = put(client, tenant, c, **body)
        assert len(first["history"]) == len(again["history"]) == 1
        lifted = put(client, tenant, c, channels={"telemarketing": {"prohibited": False}}, received_via="email")
        assert [h["action"] for h in lifted["history"]] == ["prohibited", "prohibition_lifted"]
        entry = lifted["history"][0]
        assert (entry["received_via"], entry["source"], entry["recorded_by"]) == ("phone", "call", "agent tester")
        assert entry["recorded_by_key_id"] == str(tenant.key_ids[Role.agent])

    def test_consent_keeps_its_wording(self, client: TestClient, tenant: Tenant) -> None:
        c = new_customer(client, tenant)["id"]
        state = put(client, tenant, c, channels={"electronic": {"consent": True}}, wording=WORDING, source="checkout")
        assert state["history"][0]["wording"] == WORDING

    def test_consent_without_wording_is_refused(self, client: TestClient, tenant: Tenant) -> None:
        c = new_customer(client, tenant)["id"]
        response = client.put(
            f"/v1/customers/{c}/marketing",
            json={"channels": {"electronic": {"consent": True}}},
            headers=tenant.headers(),
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["body", "wording"]

    def test_opt_out_offer_is_electronic_only(self, client: TestClient, tenant: Tenant) -> None:
        c = new_customer(client, tenant)["id"]
        response = client.put(
            f"/v1/customers/{c}/marketing",
            json={"channels": {"direct_mail": {"opt_out_offered": True}}},
            headers=tenant.headers(),
        )
        assert response.status_code == 422

    def test_future_and_naive_times_are_refused(self, client: TestClient, tenant: Tenant) -> None:
        c = new_customer(client, tenant)["id"]
        for when in ((utcnow() + dt.timedelta(days=1)).isoformat(), "2026-01-01T10:00:00"):
            body = {"channels": {"direct_mail": {"prohibited": True}}, "occurred_at": when}
            assert client.put(f"/v1/customers/{c}/marketing", json=body, headers=tenant.headers()).status_code == 422

    def test_changes_are_audited(self, client: TestClient, tenant: Tenant) -> None:
        c = new_customer(client, tenant)["id"]
        put(client, tenant, c, channels={"direct_mail": {"prohibited": True}})
        audit = client.get(
            f"/v1/audit?subject_id={c}&entity=marketing_event", headers=tenant.headers(Role.auditor)
        ).json()["items"]
        assert [(e["action"], e["changes"]["action"]["new"]) for e in audit] == [("create", "prohibited")]

    def test_other_controllers_customer(self, client: TestClient, tenant: Tenant, other_tenant: Tenant) -> None:
        theirs = new_customer(client, other_tenant)["id"]
        url = f"/v1/customers/{theirs}/marketing"
        assert client.get(url, headers=tenant.headers()).status_code == 404
        body = {"channels": {"direct_mail": {"prohibited": True}}}
        assert client.put(url, json=body, headers=tenant.headers()).status_code == 404
        assert client.put(url, json=body, headers=tenant.headers(Role.auditor)).status_code == 403


def campaign(client: TestClient, tenant: Tenant, lines: list[bytes], **query: str) -> list[dict[str, Any]]:
    response = client.post(
        "/v1/marketing/check",
        params=query,
        content=b"\n".join(lines) + b"\n",
        headers=tenant.headers(Role.integration, **{"Content-Type": "application/x-ndjson"}),
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-ndjson"
    assert "content-length" not in response.headers  # streamed: the length is not known up front
    return [loads(line) for line in response.content.splitlines()]


class TestCampaignCheck:
    def test_answers_in_order_for_every_kind_of_identifier(self, client: TestClient, tenant: Tenant) -> None:
        allowed = new_customer(client, tenant, external_id="shop-9", phone="040 765 4321")
        denied = new_customer(client, tenant)
        put(client, tenant, denied["id"], channels={"direct_mail": {"prohibited": True}})
        lines = [
            f'{{"customer_id": "{allowed["id"]}"}}'.encode(),
            f'{{"customer_id": "{denied["id"]}"}}'.encode(),
            b'{"external_id": "shop-9"}',
            f'{{"email": "{denied["email"].upper()}"}}'.encode(),
            b'{"phone": "+358 40 7654321"}',
            b'{"email": "nobody@example.fi"}',
            b'{"phone": "not a number"}',
            b"not json",
            b'{"email": "a@example.fi", "phone": "040"}',
            f'{{"customer_id": "{uuid.uuid4()}"}}'.encode(),
        ]
        answers = campaign(client, tenant, lines, channel="direct_mail")
        assert [a["line"] for a in answers] == list(range(1, 11))
        assert [(a["allowed"], a["reason"]) for a in answers] == [
            (True, "not_prohibited"),
            (False, "prohibited"),
            (True, "not_prohibited"),
            (False, "prohibited"),
            (True, "not_prohibited"),
            (False, "unknown_subject"),
            (False, "unknown_subject"),
            (False, "invalid_identifier"),
            (False, "invalid_identifier"),
            (False, "unknown_subject"),
        ]

    def test_one_address_shared_by_several_people(self, client: TestClient, tenant: Tenant) -> None:
        shared = f"{uuid.uuid4().hex[:8]}@example.fi"
        new_customer(client, tenant, email=shared)
        second = new_customer(client, tenant, email=shared)
        put(client, tenant, second["id"], channels={"market_research": {"prohibited": True}})
        answer = campaign(client, tenant, [f'{{"email": "{shared}"}}'.encode()], channel="market_research")
        assert (answer[0]["allowed"], answer[0]["reason"]) == (False, "prohibited")

    def test_more_lines_than_a_batch(self, client: TestClient, tenant: Tenant) -> None:
        c = new_customer(client, tenant)["id"]
        line = f'{{"customer_id": "{c}"}}'.encode()
        answers = campaign(client, tenant, [line] * 4500, channel="electronic", own_similar_products="true")
        assert len(answers) == 4500
        assert answers[-1] == {"line": 4500, "allowed": False, "reason": "no_consent"}

    def test_other_controllers_people_are_unknown(
        self, client: TestClient, tenant: Tenant, other_tenant: Tenant
    ) -> None:
        theirs = new_customer(client, other_tenant, external_id="x-1")
        lines = [f'{{"customer_id": "{theirs["id"]}"}}'.encode(), b'{"external_id": "x-1"}']
        answers = campaign(client, tenant, lines, channel="direct_mail")
        assert {a["reason"] for a in answers} == {"unknown_subject"}

    def test_line_numbers_are_the_inputs_and_long_lines_are_refused(self, client: TestClient, tenant: Tenant) -> None:
        c = new_customer(client, tenant)["id"]
        line = f'{{"customer_id": "{c}"}}'.encode()
        answers = campaign(
            client, tenant, [line, b"", b'{"email": "' + b"x" * 5000 + b'"}', line], channel="direct_mail"
        )
        assert [(a["line"], a["reason"]) for a in answers] == [
            (1, "not_prohibited"),
            (3, "invalid_identifier"),
            (4, "not_prohibited"),
        ]

    def test_needs_ndjson(self, client: TestClient, tenant: Tenant) -> None:
        response = client.post(
            "/v1/marketing/check?channel=direct_mail", json={"customer_id": "x"}, headers=tenant.headers()
        )
        assert response.status_code == 415
