"""The record of processing activities (GDPR Art. 30(1)): each point from a profile that states it, each gap
reported when it does not, its versions, formats and languages, and who may read it.

The profiles are built here, not taken from examples/: one that states every Art. 30(1) item, and a sparse one
that states only what a profile must. A sparse version is written as a version published before the notice
was validated would have been kept (straight into privacy_notice, the audit trigger switched off for the test).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.actor import attach, system_actor
from app.models.api_keys import ApiKeyCreate, Role
from app.models.profile import ControllerProfile
from app.services import notice_text, records
from app.services.api_keys import create_key
from app.services.controllers import create_controller
from tests.conftest import Tenant

URL = "/v1/records-of-processing"
HTML = "text/html"


def _local(fi: str, en: str, sv: str | None = None) -> dict[str, str]:
    return {"fi": fi, "en": en, **({"sv": sv} if sv else {})}


COMPLETE: dict[str, Any] = {
    "default_language": "fi",
    "controller": {
        "name": "Kirjakauppa Kanerva Oy",
        "business_id": "2477816-7",
        "street_address": "Kauppakatu 3",
        "postal_code": "40100",
        "city": "Jyväskylä",
        "phone": "+358401234567",
        "email": "tietosuoja@kanerva.fi",
        "website": "https://kanerva.fi",
    },
    "contact_person": {
        "name": "Kaisa Kanerva",
        "title": "toimitusjohtaja",
        "title_sv": "verkställande direktör",
        "title_en": "managing director",
        "email": "kaisa@kanerva.fi",
    },
    "dpo": {"appointed": True, "name": "Olli Oikeus", "email": "dpo@kanerva.fi", "address": "PL 12, 40101 Jyväskylä"},
    "register": {"name": "Asiakasrekisteri", "name_sv": "Kundregister", "name_en": "Customer register"},
    "notice": {
        "purposes": [
            {
                **_local("Tilausten toimittaminen", "Delivering orders", "Leverans av beställningar"),
                "basis": "contract",
            },
            {
                **_local("Kirjanpito", "Bookkeeping", "Bokföring"),
                "basis": "legal_obligation",
                "law": _local("Kirjanpitolaki 1336/1997", "Accounting Act 1336/1997", "Bokföringslagen 1336/1997"),
            },
            {
                **_local("Asiakassuhteen kehittäminen", "Developing the customer relationship"),
                "basis": "legitimate_interests",
                "legitimate_interest": _local("Tarjoukset asiakkaille", "Offers to our customers"),
            },
            {**_local("Uutiskirje", "Newsletter", "Nyhetsbrev"), "basis": "consent"},
        ],
        "provision_requirement": _local("Tilaus vaatii yhteystiedot.", "An order needs contact details."),
        "automated_decisions": _local("Ei automaattisia päätöksiä.", "No automated decisions."),
        "data_subjects": [
            _local("Asiakkaat", "Customers", "Kunder"),
            _local("Yritysasiakkaiden yhteyshenkilöt", "Contact persons of business customers"),
        ],
        "data_groups": [_local("Yhteystiedot", "Contact details", "Kontaktuppgifter")],
        "data_categories": [_local("Tilaushistoria", "Order history", "Beställningshistorik")],
        "sources": ["Asiakas itse"],
        "recipient_categories": [_local("Kuljetusyhtiöt", "Carriers", "Transportföretag")],
        "retention": [
            {
                "category": _local("Asiakastiedot", "Customer data"),
                "period": _local("5 vuotta asiakkuuden päättymisestä", "5 years from the end of the relationship"),
                "enforce": {"applies_to": "customer", "years": 5},
            },
            {
                "category": _local("Tilaukset", "Orders"),
                "period": _local("7 vuotta", "7 years"),
                "enforce": {"applies_to": "orders", "years": 7},
            },
            {"category": _local("Puhelutallenteet", "Call recordings"), "period": _local("3 kuukautta", "3 months")},
        ],
        "security": {
            "manual": _local("Paperit lukitussa kaapissa.", "Paper in a locked cabinet."),
            "electronic": _local("Henkilökohtaiset tunnukset.", "Personal accounts."),
        },
        "exercising_rights": "Kirjoita osoitteeseen tietosuoja@kanerva.fi.",
    },
    "recipients": [
        {
            "id": "accounting",
            "name": "Tilitoimisto Tase Oy",
            "category": "processor",
            "data": [_local("Laskut", "Invoices", "Fakturor")],
            "purpose": _local("Kirjanpito", "Bookkeeping", "Bokföring"),
        },
        {
            "id": "mailer",
            "name": "Mailer Inc.",
            "category": "processor",
            "data": [_local("Sähköpostiosoite", "E-mail address")],
            "purpose": _local("Uutiskirjeen lähettäminen", "Sending the newsletter"),
            "country": "US",
            "transfer": {"mechanism": "sccs", "link": "https://mailer.example.com/dpa"},
        },
        {
            "id": "support",
            "name": "Support Desk Pvt Ltd",
            "category": "processor",
            "data": [_local("Nimi", "Name")],
            "purpose": _local("Asiakastuki", "Customer support"),
            "country": "IN",
            "transfer": {
                "mechanism": "derogation",
                "link": "https://kanerva.fi/tuki",
                "details": _local("Nimenomainen suostumus", "Explicit consent (Article 49(1)(a))"),
            },
        },
        {
            "id": "tax",
            "name": "Verohallinto",
            "category": "authority",
            "data": [_local("Laskut", "Invoices")],
            "purpose": _local("Verotus", "Taxation"),
        },
    ],
}
# What a profile must state at the least; every Art. 30(1) item is missing.
SPARSE: dict[str, Any] = {"controller": {"name": "Tyhjä Oy"}, "register": {"name": "Rekisteri"}}


def tenant_with(client: TestClient, app: FastAPI, profile: dict[str, Any]) -> Tenant:
    """A controller with this profile as its first version, and a key per role."""
    made = ControllerProfile.model_validate({**copy.deepcopy(profile), "slug": f"r-{uuid.uuid4().hex[:12]}"})
    tenant = Tenant(id=uuid.uuid4(), slug=made.slug)

    async def work() -> None:
        async with app.state.owner_sessionmaker() as session, session.begin():
            actor = system_actor(tenant.id, "test set-up")
            attach(session, actor)
            await create_controller(session=session, profile=made, controller_id=tenant.id)
            for role in Role:
                data = ApiKeyCreate(name=f"{role.value} tester", role=role)
                key, secret = await create_key(session=session, actor=actor, controller_id=tenant.id, data=data)
                tenant.keys[role], tenant.key_ids[role] = secret, key.id

    assert client.portal is not None
    client.portal.call(work)
    return tenant


def kept_as_published(owner_db: Any, tenant: Tenant, profile: dict[str, Any], version: int) -> None:
    """A version as one published before the notice was validated was kept: the profile as it was, unchecked."""
    stored = json.dumps({**profile, "slug": tenant.slug})
    with owner_db.transaction():
        owner_db.execute("SET LOCAL session_replication_role = replica")
        owner_db.execute(
            "INSERT INTO privacy_notice (controller_id, id, version, notice_date, profile, published_by) "
            "VALUES (%s, %s, %s, %s, %s, 'legacy')",
            (tenant.id, uuid.uuid4(), version, dt.date(2018, 5, 25), stored),
        )


def read(client: TestClient, tenant: Tenant, role: Role = Role.auditor, **params: Any) -> dict[str, Any]:
    response = client.get(URL, params={"lang": "en", **params}, headers=tenant.headers(role))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def gaps(record: dict[str, Any]) -> set[tuple[str, str]]:
    return {(gap["point"], gap["item"]) for gap in record["missing"]}


@pytest.fixture
def complete(client: TestClient, app: FastAPI) -> Tenant:
    return tenant_with(client, app, COMPLETE)


@pytest.fixture
def sparse(client: TestClient, app: FastAPI, owner_db: Any) -> Tenant:
    tenant = tenant_with(client, app, COMPLETE)
    kept_as_published(owner_db, tenant, SPARSE, 2)
    return tenant


# --- who may read it ----------------------------------------------------------------------------------------


class TestAccess:
    def test_needs_a_key(self, client: TestClient) -> None:
        response = client.get(URL)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"

    @pytest.mark.parametrize(("role", "status"), [(Role.admin, 200), (Role.auditor, 200)])
    def test_admins_and_auditors_read_it(self, client: TestClient, complete: Tenant, role: Role, status: int) -> None:
        assert client.get(URL, headers=complete.headers(role)).status_code == status

    @pytest.mark.parametrize("role", [Role.agent, Role.integration])
    def test_customer_service_and_integrations_may_not(self, client: TestClient, complete: Tenant, role: Role) -> None:
        response = client.get(URL, headers=complete.headers(role))
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"

    def test_each_controller_reads_its_own(self, client: TestClient, sparse: Tenant, complete: Tenant) -> None:
        assert read(client, sparse)["controller_details"]["name"] == "Tyhjä Oy"
        mine = read(client, complete)
        assert (mine["controller"], mine["controller_details"]["name"]) == (complete.slug, "Kirjakauppa Kanerva Oy")
        # The other controller has a version 2; this one has not.
        assert client.get(URL, params={"version": 2}, headers=complete.headers(Role.auditor)).status_code == 404

    def test_reading_it_is_not_audited(self, client: TestClient, complete: Tenant, owner_db: Any) -> None:
        # Like the notice and the profile, the record holds no data subject's data: a read is not an event.
        count = "SELECT count(*) FROM audit_event WHERE controller_id = %s"
        before = owner_db.execute(count, (complete.id,)).fetchone()
        for fmt in ("json", "html", "markdown"):
            client.get(URL, params={"format": fmt}, headers=complete.headers(Role.admin))
        assert owner_db.execute(count, (complete.id,)).fetchone() == before


# --- Art. 30(1), point by point ---------------------------------------------------------------------------


class TestPoints:
    def test_a_the_controller_the_contact_person_and_the_dpo(self, client: TestClient, complete: Tenant) -> None:
        record = read(client, complete)
        who = record["controller_details"]
        assert who["address"] == "Kauppakatu 3, 40100 Jyväskylä"
        assert (who["phone"], who["email"], who["country_name"]) == (
            "+358 40 1234567",
            "tietosuoja@kanerva.fi",
            "Finland",
        )
        assert record["contact_person"]["title"] == "managing director"
        # Art. 30(1)(a), 37(7): the officer's name and contact details.
        assert record["dpo"] == {
            "appointed": True,
            "name": "Olli Oikeus",
            "email": "dpo@kanerva.fi",
            "phone": None,
            "address": "PL 12, 40101 Jyväskylä",
        }

    def test_a_no_officer_appointed_is_stated_not_missing(self, client: TestClient, app: FastAPI) -> None:
        tenant = tenant_with(client, app, {**COMPLETE, "dpo": {"appointed": False}})
        record = read(client, tenant)
        assert record["dpo"]["appointed"] is False
        assert record["missing"] == []
        page = client.get(URL, params={"format": "html", "lang": "en"}, headers=tenant.headers()).text
        assert "No data protection officer is appointed." in page

    def test_b_each_purpose_with_its_legal_basis(self, client: TestClient, complete: Tenant) -> None:
        purposes = read(client, complete)["purposes"]
        bases = notice_text.texts("en")["bases"]
        assert [(p["purpose"]["text"], p["basis"], p["article"]) for p in purposes] == [
            ("Delivering orders", "contract", "6(1)(b)"),
            ("Bookkeeping", "legal_obligation", "6(1)(c)"),
            ("Developing the customer relationship", "legitimate_interests", "6(1)(f)"),
            ("Newsletter", "consent", "6(1)(a)"),
        ]
        assert [p["basis_text"] for p in purposes] == [bases[p["basis"]] for p in purposes]
        # Art. 6(3): the law behind (c); Art. 13(1)(d): the interest behind (f).
        assert purposes[1]["law"] == {"text": "Accounting Act 1336/1997", "lang": "en"}
        assert purposes[2]["legitimate_interest"] == {"text": "Offers to our customers", "lang": "en"}

    def test_c_categories_of_data_subjects_and_of_data(self, client: TestClient, complete: Tenant) -> None:
        record = read(client, complete)
        assert [t["text"] for t in record["data_subjects"]] == ["Customers", "Contact persons of business customers"]
        assert [t["text"] for t in record["data_groups"]] == ["Contact details"]
        assert [t["text"] for t in record["data_categories"]] == ["Order history"]

    def test_d_each_recipient_and_the_categories(self, client: TestClient, complete: Tenant) -> None:
        record = read(client, complete)
        first = record["recipients"][0]
        assert first == {
            "id": "accounting",
            "name": "Tilitoimisto Tase Oy",
            "category": "processor",
            "category_text": notice_text.texts("en")["recipient_categories"]["processor"],
            "data": [{"text": "Invoices", "lang": "en"}],
            "purpose": {"text": "Bookkeeping", "lang": "en"},
            "country": "FI",
            "country_name": "Finland",
            "outside_eea": False,
        }
        assert [(r["id"], r["outside_eea"]) for r in record["recipients"]] == [
            ("accounting", False),
            ("mailer", True),
            ("support", True),
            ("tax", False),
        ]
        assert record["recipients"][3]["category_text"] == "Authority"
        assert [t["text"] for t in record["recipient_categories"]] == ["Carriers"]

    def test_e_transfers_name_the_country_and_the_safeguard(self, client: TestClient, complete: Tenant) -> None:
        transfers = read(client, complete)["transfers"]
        mechanisms = notice_text.texts("en")["mechanisms"]
        # Art. 30(1)(e): only recipients outside the EU/EEA, each with its third country and safeguard (Art. 46).
        assert [(t["recipient"], t["country_name"], t["mechanism"]) for t in transfers] == [
            ("mailer", "United States", "sccs"),
            ("support", "India", "derogation"),
        ]
        assert transfers[0]["mechanism_text"] == mechanisms["sccs"]
        assert transfers[0]["link"] == "https://mailer.example.com/dpa"
        # Art. 49: a derogation says it is one, and which.
        assert "Article 49" in transfers[1]["mechanism_text"]
        assert transfers[1]["details"]["text"] == "Explicit consent (Article 49(1)(a))"

    def test_f_time_limits_and_which_the_service_enforces(self, client: TestClient, complete: Tenant) -> None:
        rules = read(client, complete)["retention"]
        assert [(r["category"]["text"], r["enforced"], r["years"]) for r in rules] == [
            ("Customer data", "customer", 5),
            ("Orders", "orders", 7),
            ("Call recordings", None, None),
        ]
        assert "anonymised once 5 years have passed" in rules[0]["enforced_text"]
        assert "7 years" in rules[1]["enforced_text"]
        assert "1336/1997" in rules[1]["enforced_text"]
        assert rules[2]["enforced_text"] == "The rule is stated; the service does not enforce it itself."

    def test_g_the_controllers_measures_and_the_services(self, client: TestClient, complete: Tenant) -> None:
        security = read(client, complete)["security"]
        assert security["manual"]["text"] == "Paper in a locked cabinet."
        assert security["electronic"]["text"] == "Personal accounts."
        assert security["service"] == records.texts("en")["measures"]["service"]
        assert any("hash" in measure for measure in security["service"])

    def test_a_complete_profile_misses_nothing(self, client: TestClient, complete: Tenant) -> None:
        record = read(client, complete)
        assert record["missing"] == []
        assert record["unreadable"] == []
        page = client.get(URL, params={"format": "html"}, headers=complete.headers()).text
        assert 'id="missing"' not in page


# --- gaps ---------------------------------------------------------------------------------------------------


class TestMissing:
    def test_every_point_the_profile_does_not_state_is_listed(self, client: TestClient, sparse: Tenant) -> None:
        record = read(client, sparse)
        assert record["version"] == 2
        assert gaps(record) == {
            ("a", "controller_contact"),
            ("a", "dpo"),
            ("b", "purposes"),
            ("c", "data_subjects"),
            ("c", "data_categories"),
            ("d", "recipients"),
            ("f", "retention"),
            ("g", "security"),
        }
        assert [gap["point"] for gap in record["missing"]] == sorted(gap["point"] for gap in record["missing"])
        dpo = next(gap for gap in record["missing"] if gap["item"] == "dpo")
        assert dpo == {
            "point": "a",
            "item": "dpo",
            "path": "dpo",
            "article": "GDPR Art. 30(1)(a), 37(1)",
            "text": records.texts("en")["missing"]["dpo"],
        }
        assert record["dpo"] == {"appointed": None, "name": None, "email": None, "phone": None, "address": None}
        assert (record["purposes"], record["recipients"], record["retention"]) == ([], [], [])
        # No recipient outside the EU/EEA is no gap: there is no transfer to document (Art. 30(1)(e) "where
        # applicable").
        assert record["transfers"] == []

    def test_the_page_and_the_markdown_say_not_stated(self, client: TestClient, sparse: Tenant) -> None:
        words = records.texts("en")
        page = client.get(URL, params={"format": "html", "lang": "en"}, headers=sparse.headers()).text
        assert '<section id="missing"' in page
        assert page.count(words["not_stated"]) >= 6
        assert words["dpo_not_stated"] in page
        assert words["missing"]["retention"] in page
        markdown = client.get(URL, params={"format": "markdown", "lang": "en"}, headers=sparse.headers()).text
        assert f"## {words['sections']['missing']}" in markdown
        assert f"- {words['missing']['security']} (Article 30(1)(g))" in markdown

    @pytest.mark.parametrize(
        ("purpose", "item", "path"),
        [
            ({"fi": "Markkinointi"}, "purpose_basis", "basis"),
            ({"fi": "Markkinointi", "basis": "legitimate_interests"}, "legitimate_interest", "legitimate_interest"),
            ({"fi": "Verotus", "basis": "legal_obligation"}, "law", "law"),
            ({"fi": "Tehtävä", "basis": "public_task"}, "law", "law"),
        ],
    )  # fmt: skip
    def test_b_a_purpose_without_its_basis(
        self, client: TestClient, complete: Tenant, owner_db: Any, purpose: dict[str, Any], item: str, path: str
    ) -> None:
        # Art. 6(1), 13(1)(c): the basis of each purpose; 13(1)(d) the interest of (f); 6(3) the law of (c), (e).
        profile = copy.deepcopy(COMPLETE)
        profile["notice"]["purposes"] = [purpose]
        kept_as_published(owner_db, complete, profile, 2)
        record = read(client, complete)
        assert [(gap["point"], gap["item"], gap["path"]) for gap in record["missing"]] == [
            ("b", item, f"notice.purposes[0].{path}")
        ]
        assert record["missing"][0]["text"].endswith(purpose["fi"])

    def test_b_an_interest_stated_for_the_whole_notice_counts(
        self, client: TestClient, complete: Tenant, owner_db: Any
    ) -> None:
        profile = copy.deepcopy(COMPLETE)
        profile["notice"]["purposes"] = [{"fi": "Markkinointi", "basis": "legitimate_interests"}]
        profile["notice"]["legitimate_interest"] = "Suoramarkkinointi asiakkaille"
        kept_as_published(owner_db, complete, profile, 2)
        record = read(client, complete, lang="fi")
        assert record["missing"] == []
        assert record["purposes"][0]["legitimate_interest"]["text"] == "Suoramarkkinointi asiakkaille"

    def test_e_a_third_country_recipient_without_a_safeguard(
        self, client: TestClient, complete: Tenant, owner_db: Any
    ) -> None:
        profile = copy.deepcopy(COMPLETE)
        del profile["recipients"][1]["transfer"]  # Mailer Inc., United States
        del profile["recipients"][2]["transfer"]["details"]  # the derogation, without saying which
        kept_as_published(owner_db, complete, profile, 2)
        record = read(client, complete)
        # Art. 30(1)(e), 44-46: no transfer without a safeguard; Art. 49: which derogation, documented.
        assert [(gap["point"], gap["item"], gap["path"]) for gap in record["missing"]] == [
            ("e", "transfer_safeguard", "recipients[1].transfer"),
            ("e", "derogation", "recipients[2].transfer.details"),
        ]
        assert record["missing"][0]["text"] == "The safeguard of the transfer: Mailer Inc. (United States)"
        assert record["transfers"][0]["mechanism"] is None
        page = client.get(URL, params={"format": "html", "lang": "en"}, headers=complete.headers()).text
        assert '<dt>Safeguard</dt><dd><span class="gap">Not stated.</span></dd>' in page


# --- versions -----------------------------------------------------------------------------------------------


class TestVersions:
    def test_a_changed_profile_is_version_2_and_version_1_reads_as_it_was(
        self, client: TestClient, complete: Tenant
    ) -> None:
        body = copy.deepcopy(COMPLETE)
        body["dpo"] = {"appointed": False}
        body["notice"]["purposes"].append({**_local("Asiakaskyselyt", "Customer surveys"), "basis": "consent"})
        response = client.put("/v1/controller", json=body, headers=complete.headers(Role.admin))
        assert response.status_code == 200, response.text
        assert response.json()["notice_version"] == 2
        current = read(client, complete)
        assert current["version"] == 2
        assert current["notice_date"] == response.json()["notice_date"]
        assert current["purposes"][-1]["purpose"]["text"] == "Customer surveys"
        assert current["dpo"]["appointed"] is False
        first = read(client, complete, version=1)
        assert (first["version"], first["dpo"]["name"]) == (1, "Olli Oikeus")
        assert "Customer surveys" not in [p["purpose"]["text"] for p in first["purposes"]]
        assert [v["version"] for v in first["versions"]] == [2, 1]
        page = client.get(URL, params={"format": "html", "version": 1}, headers=complete.headers()).text
        assert "Tietosuojaselosteen versio 1," in page
        assert 'href="?version=2&amp;lang=fi&amp;format=html"' in page

    def test_an_unknown_version_is_404(self, client: TestClient, complete: Tenant) -> None:
        response = client.get(URL, params={"version": 9}, headers=complete.headers())
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"

    def test_what_the_schema_no_longer_reads_is_left_out_and_said_to_be(
        self, client: TestClient, complete: Tenant, owner_db: Any
    ) -> None:
        profile = copy.deepcopy(COMPLETE)
        # An interest stated for a purpose resting on a contract: refused by today's rules.
        profile["notice"]["purposes"][0]["legitimate_interest"] = "Ristiriita"
        profile["notice"]["retired_setting"] = True
        kept_as_published(owner_db, complete, profile, 2)
        record = read(client, complete)
        assert record["unreadable"] == ["notice.purposes[0]", "notice.retired_setting"]
        assert [p["purpose"]["text"] for p in record["purposes"]] == [
            "Bookkeeping",
            "Developing the customer relationship",
            "Newsletter",
        ]
        page = client.get(URL, params={"format": "html", "lang": "en"}, headers=complete.headers()).text
        assert "<code>notice.purposes[0]</code>" in page

    def test_a_version_that_cannot_be_read_at_all_is_409(
        self, client: TestClient, complete: Tenant, owner_db: Any
    ) -> None:
        kept_as_published(owner_db, complete, {"notice": {}}, 2)
        response = client.get(URL, headers=complete.headers())
        assert response.status_code == 409
        assert response.headers["content-type"] == "application/problem+json"
        assert read(client, complete, version=1)["version"] == 1

    def test_the_language_is_that_versions_default(self, client: TestClient, complete: Tenant, owner_db: Any) -> None:
        kept_as_published(owner_db, complete, {**COMPLETE, "default_language": "sv"}, 2)
        assert client.get(URL, headers=complete.headers()).json()["language"] == "sv"
        assert client.get(URL, params={"version": 1}, headers=complete.headers()).json()["language"] == "fi"


# --- formats and languages ----------------------------------------------------------------------------------


class TestFormats:
    def test_json_names_its_schema(self, client: TestClient, complete: Tenant) -> None:
        response = client.get(URL, headers=complete.headers())
        assert response.headers["content-type"] == "application/json"
        assert response.json()["schema"] == "rekisteri.record-of-processing/1"
        assert "Accept" in response.headers["Vary"]

    @pytest.mark.parametrize(
        ("accept", "fmt", "media"),
        [
            ("text/html,application/xhtml+xml,*/*;q=0.8", None, HTML),
            ("text/markdown", None, "text/markdown"),
            ("*/*", None, "application/json"),
            (HTML, "markdown", "text/markdown"),
            ("text/markdown", "json", "application/json"),
            ("application/json", "html", HTML),
        ],
    )
    def test_by_accept_or_format(
        self, client: TestClient, complete: Tenant, accept: str, fmt: str | None, media: str
    ) -> None:
        params = {"format": fmt} if fmt else {}
        response = client.get(URL, params=params, headers=complete.headers(Accept=accept))
        assert response.status_code == 200
        assert response.headers["content-type"].startswith(media)

    def test_nothing_we_have_is_406(self, client: TestClient, complete: Tenant) -> None:
        response = client.get(URL, headers=complete.headers(Accept="image/png"))
        assert response.status_code == 406
        assert response.headers["content-type"] == "application/problem+json"

    @pytest.mark.parametrize(
        ("lang", "title", "basis"),
        [
            ("fi", "Seloste käsittelytoimista", "Tilausten toimittaminen"),
            ("sv", "Register över behandling", "Leverans av beställningar"),
            ("en", "Record of processing activities", "Delivering orders"),
        ],
    )
    def test_in_three_languages(self, client: TestClient, complete: Tenant, lang: str, title: str, basis: str) -> None:
        words, law = records.texts(lang), notice_text.texts(lang)
        record = read(client, complete, lang=lang)
        assert (record["language"], record["title"], record["purposes"][0]["purpose"]["text"]) == (lang, title, basis)
        assert record["purposes"][0]["basis_text"] == law["bases"]["contract"]
        assert record["transfers"][0]["mechanism_text"] == law["mechanisms"]["sccs"]
        page = client.get(URL, params={"format": "html", "lang": lang}, headers=complete.headers())
        assert page.headers["Content-Language"] == lang
        assert f'<html lang="{lang}">' in page.text
        for point, anchor in records.SECTIONS.items():
            assert f'<h2 id="{anchor}-title">{words["sections"][point]}</h2>' in page.text
            assert words["point"].format(point=point) in page.text
        markdown = client.get(URL, params={"format": "markdown", "lang": lang}, headers=complete.headers()).text
        assert markdown.startswith(f"# {title}\n")
        assert all(f"## {words['sections'][point]}\n" in markdown for point in records.SECTIONS)

    @pytest.mark.parametrize(("header", "lang"), [("sv-FI,sv;q=0.9", "sv"), ("de, en;q=0.3", "en"), ("de", "fi")])
    def test_language_by_accept_language(self, client: TestClient, complete: Tenant, header: str, lang: str) -> None:
        response = client.get(URL, headers=complete.headers(**{"Accept-Language": header}))
        assert response.json()["language"] == lang

    def test_finnish_only_texts_say_so(self, client: TestClient, complete: Tenant) -> None:
        record = read(client, complete, lang="sv")
        assert record["purposes"][2]["purpose"] == {"text": "Asiakassuhteen kehittäminen", "lang": "fi"}
        page = client.get(URL, params={"format": "html", "lang": "sv"}, headers=complete.headers()).text
        assert '<p lang="fi" title="Texten finns endast på finska.">Asiakassuhteen kehittäminen</p>' in page

    def test_the_page_is_self_contained_and_locked_down(self, client: TestClient, complete: Tenant) -> None:
        response = client.get(URL, params={"format": "html"}, headers=complete.headers())
        policy = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy
        assert "frame-ancestors 'none'" in policy
        assert "script-src" not in policy
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        page = response.text
        assert page.startswith("<!DOCTYPE html>")
        assert "<script" not in page
        assert 'src="' not in page
        assert '<link rel="stylesheet"' not in page

    def test_text_from_the_profile_is_shown_not_run(self, client: TestClient, app: FastAPI) -> None:
        hostile = copy.deepcopy(COMPLETE)
        hostile["notice"]["purposes"][0]["fi"] = "<script>alert(1)</script> & *tähdet*"
        hostile["recipients"][0]["name"] = '<img src=x onerror="alert(2)">'
        hostile["notice"]["security"]["manual"] = '"><iframe src="https://evil.example"></iframe>'
        tenant = tenant_with(client, app, hostile)
        page = client.get(URL, params={"format": "html"}, headers=tenant.headers()).text
        assert "<script>" not in page
        assert "<img" not in page
        assert "<iframe" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; *tähdet*" in page
        assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in page
        markdown = client.get(URL, params={"format": "markdown"}, headers=tenant.headers()).text
        assert "\\<script\\>alert(1)\\</script\\> \\& \\*tähdet\\*" in markdown
        assert '**\\<img src=x onerror="alert(2)"\\>**' in markdown
