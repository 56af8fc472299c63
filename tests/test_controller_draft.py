"""A notice is published only when complete (GDPR Art. 13-14): PUT /v1/controller refuses an incomplete profile with
every problem listed, a draft keeps it unpublished, and GET /v1/controller says what the version in force lacks."""

from __future__ import annotations

import copy
from typing import Any

from fastapi.testclient import TestClient

from app.models.api_keys import Role
from tests.conftest import Tenant

DRAFT = "/v1/controller/draft"


def profile(client: TestClient, tenant: Tenant) -> dict[str, Any]:
    response = client.get("/v1/controller", headers=tenant.headers())
    assert response.status_code == 200, response.text
    return response.json()["profile"]  # type: ignore[no-any-return]


def incomplete(body: dict[str, Any]) -> dict[str, Any]:
    """The profile without its DPO statement, with a purpose whose basis is not stated and an outdated text."""
    changed = copy.deepcopy(body)
    changed.pop("dpo")
    changed["notice"]["purposes"].append({"fi": "Tilastointi", "en": "Statistics"})
    changed["notice"]["cookies"] = [{"fi": "Käyttämällä sivustoamme hyväksyt evästeiden käytön."}]
    return changed


def version(client: TestClient, tenant: Tenant) -> int:
    return int(client.get(f"/public/{tenant.slug}/privacy-notice").json()["version"])


class TestPublishingIsChecked:
    def test_the_example_in_force_is_complete(self, client: TestClient, tenant: Tenant) -> None:
        answer = client.get("/v1/controller", headers=tenant.headers(Role.auditor)).json()
        assert answer["problems"] == []
        assert answer["draft"] is False

    def test_an_incomplete_profile_is_422_with_every_problem_and_nothing_is_published(
        self, client: TestClient, tenant: Tenant
    ) -> None:
        body = incomplete(profile(client, tenant))
        response = client.put("/v1/controller", json=body, headers=tenant.headers())
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["type"] == "/problems/validation-error"
        purpose = str(len(body["notice"]["purposes"]) - 1)
        by_loc = {tuple(e["loc"]): e for e in problem["errors"]}
        assert set(by_loc) == {
            ("body", "dpo"),
            ("body", "notice", "purposes", purpose, "basis"),
            ("body", "notice", "cookies", "0", "fi"),
        }
        assert by_loc[("body", "dpo")]["type"] == "missing"
        assert by_loc[("body", "dpo")]["article"] == "GDPR Art. 13(1)(b), 37(7)"
        assert by_loc[("body", "notice", "purposes", purpose, "basis")]["article"] == "GDPR Art. 13(1)(c), 6(1)"
        cookies = by_loc[("body", "notice", "cookies", "0", "fi")]
        assert cookies["type"] == "outdated"
        assert "Planet49" in cookies["article"]
        assert all(e["msg"] for e in problem["errors"])
        assert version(client, tenant) == 1

    def test_a_legacy_version_lists_its_problems_and_stays_public(
        self, client: TestClient, tenant: Tenant, owner_db: Any
    ) -> None:
        # A version published before notices were checked (written past the audit trigger, as a test must).
        with owner_db.transaction():
            owner_db.execute("SET LOCAL session_replication_role = replica")
            owner_db.execute(
                "UPDATE privacy_notice SET profile = profile - 'dpo' WHERE controller_id = %s", (tenant.id,)
            )
        answer = client.get("/v1/controller", headers=tenant.headers()).json()
        assert [(p["kind"], p["loc"], p["article"]) for p in answer["problems"]] == [
            ("missing", ["dpo"], "GDPR Art. 13(1)(b), 37(7)")
        ]
        assert client.get(f"/public/{tenant.slug}/privacy-notice").status_code == 200
        # The same profile again is no way around the rules: it is refused, and the version stays in force.
        legacy = answer["profile"]
        assert client.put("/v1/controller", json=legacy, headers=tenant.headers()).status_code == 422
        assert version(client, tenant) == 1


class TestSaveDraft:
    def test_needs_a_key(self, client: TestClient) -> None:
        assert client.put(DRAFT, json={}).status_code == 401

    def test_only_admins(self, client: TestClient, tenant: Tenant) -> None:
        body = profile(client, tenant)
        for role in (Role.agent, Role.auditor, Role.integration):
            assert client.put(DRAFT, json=body, headers=tenant.headers(role)).status_code == 403

    def test_an_incomplete_draft_is_saved_with_its_problems_and_not_published(
        self, client: TestClient, tenant: Tenant
    ) -> None:
        body = incomplete(profile(client, tenant))
        response = client.put(DRAFT, json=body, headers=tenant.headers())
        assert response.status_code == 200, response.text
        draft = response.json()
        assert draft["complete"] is False
        assert {p["kind"] for p in draft["problems"]} == {"missing", "outdated"}
        assert [c["fi"] for c in draft["profile"]["notice"]["cookies"]] == [body["notice"]["cookies"][0]["fi"]]
        assert version(client, tenant) == 1
        assert client.get("/v1/controller", headers=tenant.headers()).json()["draft"] is True

    def test_a_draft_must_still_be_well_formed(self, client: TestClient, tenant: Tenant) -> None:
        body = profile(client, tenant)
        body["controller"]["business_id"] = "2477816-8"  # a wrong check digit
        response = client.put(DRAFT, json=body, headers=tenant.headers())
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert client.get(DRAFT, headers=tenant.headers()).status_code == 404

    def test_a_complete_draft_says_so(self, client: TestClient, tenant: Tenant) -> None:
        draft = client.put(DRAFT, json=profile(client, tenant), headers=tenant.headers()).json()
        assert (draft["complete"], draft["problems"]) == (True, [])

    def test_is_audited(self, client: TestClient, tenant: Tenant) -> None:
        client.put(DRAFT, json=incomplete(profile(client, tenant)), headers=tenant.headers())
        events = client.get("/v1/audit", params={"limit": 500}, headers=tenant.headers(Role.auditor)).json()["items"]
        changed = [e for e in events if e["entity"] == "controller" and e["action"] == "update"]
        assert changed
        assert "draft_profile" in changed[-1]["fields"]


class TestGetDraft:
    def test_needs_a_key(self, client: TestClient) -> None:
        assert client.get(DRAFT).status_code == 401

    def test_admins_and_auditors(self, client: TestClient, tenant: Tenant) -> None:
        client.put(DRAFT, json=profile(client, tenant), headers=tenant.headers())
        assert client.get(DRAFT, headers=tenant.headers(Role.auditor)).status_code == 200
        for role in (Role.agent, Role.integration):
            assert client.get(DRAFT, headers=tenant.headers(role)).status_code == 403

    def test_none_saved_is_404(self, client: TestClient, tenant: Tenant) -> None:
        response = client.get(DRAFT, headers=tenant.headers())
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"

    def test_reads_what_was_saved(self, client: TestClient, tenant: Tenant) -> None:
        body = incomplete(profile(client, tenant))
        saved = client.put(DRAFT, json=body, headers=tenant.headers()).json()
        assert client.get(DRAFT, headers=tenant.headers()).json() == saved

    def test_is_the_controllers_own(self, client: TestClient, tenant: Tenant, other_tenant: Tenant) -> None:
        client.put(DRAFT, json=profile(client, tenant), headers=tenant.headers())
        assert client.get(DRAFT, headers=other_tenant.headers()).status_code == 404


class TestPublishingTheDraft:
    def test_a_published_version_clears_the_draft(self, client: TestClient, tenant: Tenant) -> None:
        body = profile(client, tenant)
        client.put(DRAFT, json=incomplete(body), headers=tenant.headers())
        refused = client.put("/v1/controller", json=incomplete(body), headers=tenant.headers())
        assert refused.status_code == 422
        assert client.get(DRAFT, headers=tenant.headers()).status_code == 200  # a refusal keeps the draft
        body["register"]["name"] = "Asiakas- ja markkinointirekisteri"
        published = client.put("/v1/controller", json=body, headers=tenant.headers())
        assert published.status_code == 200, published.text
        assert (published.json()["notice_version"], published.json()["draft"]) == (2, False)
        assert client.get(DRAFT, headers=tenant.headers()).status_code == 404
        assert version(client, tenant) == 2

    def test_resending_what_is_in_force_keeps_the_draft(self, client: TestClient, tenant: Tenant) -> None:
        # A script that applies the same profile again (a deployment) publishes nothing and loses no one's draft.
        body = profile(client, tenant)
        client.put(DRAFT, json=incomplete(body), headers=tenant.headers())
        assert client.put("/v1/controller", json=body, headers=tenant.headers()).json()["notice_version"] == 1
        assert client.get(DRAFT, headers=tenant.headers()).status_code == 200
