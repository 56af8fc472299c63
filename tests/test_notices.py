"""The controller's profile and its privacy notice: versions, formats, languages, the public page."""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.models.api_keys import Role
from app.models.notices import NoticeLanguage, PrivacyNotice
from app.models.profile import ControllerProfile
from app.services import deadlines, notice_text, profile_check
from tests.conftest import EXAMPLES, Tenant

HTML = "text/html"


def profile(client: TestClient, tenant: Tenant) -> tuple[dict[str, Any], str]:
    response = client.get("/v1/controller", headers=tenant.headers())
    assert response.status_code == 200, response.text
    return response.json()["profile"], response.headers["ETag"]


def put(client: TestClient, tenant: Tenant, body: dict[str, Any], status: int = 200, **headers: str) -> Any:
    response = client.put("/v1/controller", json=body, headers=tenant.headers(**headers))
    assert response.status_code == status, response.text
    return response


def notice(client: TestClient, tenant: Tenant, **params: Any) -> dict[str, Any]:
    response = client.get("/v1/privacy-notice", params=params, headers=tenant.headers(Role.integration))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def section(document: dict[str, Any], section_id: str) -> dict[str, Any]:
    return next(s for s in document["sections"] if s["id"] == section_id)


def behind_the_audit(owner_db: Any, statement: str, tenant: Tenant) -> None:
    """Change a row as no API can (the triggers that demand an audit event switched off): a test's doing."""
    with owner_db.transaction():
        owner_db.execute("SET LOCAL session_replication_role = replica")
        owner_db.execute(statement, (tenant.id,))


def texts(part: dict[str, Any]) -> list[str]:
    """Every text of a section or block, depth first."""
    found = [t["text"] for t in part.get("texts", [])]
    for block in part.get("blocks", []):
        found += texts(block)
    return found


# --- the profile ------------------------------------------------------------------------------------------


class TestGetController:
    def test_needs_a_key(self, client: TestClient) -> None:
        assert client.get("/v1/controller").status_code == 401

    def test_integrations_may_not_read_it(self, client: TestClient, tenant: Tenant) -> None:
        assert client.get("/v1/controller", headers=tenant.headers(Role.integration)).status_code == 403

    def test_is_the_controllers_own(self, client: TestClient, tenant: Tenant, other_tenant: Tenant) -> None:
        mine = client.get("/v1/controller", headers=tenant.headers(Role.auditor)).json()
        theirs = client.get("/v1/controller", headers=other_tenant.headers(Role.admin)).json()
        assert (mine["slug"], theirs["slug"]) == (tenant.slug, other_tenant.slug)
        assert mine["profile"]["controller"]["name"] == "SonMark Oy"
        assert mine["notice_version"] == 1
        assert mine["notice_date"] == "2018-05-23"  # laatimispäivä of the seed notice


class TestPutController:
    def test_only_admins(self, client: TestClient, tenant: Tenant) -> None:
        body, _ = profile(client, tenant)
        put(client, tenant, body, 403, Authorization=f"Bearer {tenant.keys[Role.agent]}")

    def test_a_change_publishes_a_new_version_drawn_up_today(self, client: TestClient, tenant: Tenant) -> None:
        body, tag = profile(client, tenant)
        body["notice"]["purposes"].append(
            {"fi": "Asiakastyytyväisyyskyselyt", "en": "Customer surveys", "basis": "consent"}
        )
        answer = put(client, tenant, body, **{"If-Match": tag})
        assert answer.headers["ETag"] == '"v2"'
        assert answer.json()["notice_version"] == 2
        assert answer.json()["notice_date"] == deadlines.today().isoformat()
        current = notice(client, tenant)
        assert current["version"] == 2
        assert "Asiakastyytyväisyyskyselyt" in texts(section(current, "purposes"))
        first = notice(client, tenant, version=1)
        assert "Asiakastyytyväisyyskyselyt" not in texts(section(first, "purposes"))
        assert first["notice_date"] == "2018-05-23"
        assert [v["version"] for v in current["versions"]] == [2, 1]

    def test_the_same_profile_again_changes_nothing(self, client: TestClient, tenant: Tenant) -> None:
        body, _ = profile(client, tenant)
        answer = put(client, tenant, body)
        assert answer.json()["notice_version"] == 1
        assert [v["version"] for v in notice(client, tenant)["versions"]] == [1]

    def test_a_later_date_given_is_the_date_drawn_up(self, client: TestClient, tenant: Tenant) -> None:
        body, _ = profile(client, tenant)
        body["register"]["notice_date"] = "2020-01-15"  # after the version in force's 23.5.2018
        body["register"]["name"] = "Asiakas- ja markkinointirekisteri"
        assert put(client, tenant, body).json()["notice_date"] == "2020-01-15"
        assert notice(client, tenant)["register_name"] == "Asiakas- ja markkinointirekisteri"
        body["register"]["notice_date"] = "2019-06-01"  # earlier than the version in force: drawn up today
        body["register"]["name"] = "Kolmas nimi"
        assert put(client, tenant, body).json()["notice_date"] == deadlines.today().isoformat()
        assert [v["notice_date"] for v in notice(client, tenant)["versions"]] == [
            deadlines.today().isoformat(),
            "2020-01-15",
            "2018-05-23",
        ]

    def test_a_date_in_the_future_is_422(self, client: TestClient, tenant: Tenant) -> None:
        body, _ = profile(client, tenant)
        body["register"]["notice_date"] = (deadlines.today() + dt.timedelta(days=1)).isoformat()
        body["register"]["name"] = "Tulevaisuus"
        put(client, tenant, body, 422)
        assert notice(client, tenant)["version"] == 1

    def test_two_rules_for_the_same_data_are_422(self, client: TestClient, tenant: Tenant) -> None:
        body, _ = profile(client, tenant)
        rule = {"category": "Asiakastiedot", "period": "10 vuotta", "enforce": {"applies_to": "customer", "years": 10}}
        body["notice"]["retention"] = [rule, {**rule, "enforce": {"applies_to": "customer", "years": 5}}]
        response = put(client, tenant, body, 422)
        assert "which would apply" in response.text

    def test_is_audited(self, client: TestClient, tenant: Tenant) -> None:
        body, _ = profile(client, tenant)
        body["controller"]["phone"] = "+358 9 123 4567"
        put(client, tenant, body)
        events = client.get("/v1/audit", params={"limit": 500}, headers=tenant.headers(Role.auditor)).json()["items"]
        changed = [e for e in events if e["entity"] == "controller" and e["action"] == "update"]
        assert changed
        assert "phone" in changed[-1]["fields"]
        assert any(e["entity"] == "privacy_notice" and e["action"] == "create" for e in events)

    def test_a_stale_etag_is_412(self, client: TestClient, tenant: Tenant) -> None:
        body, _ = profile(client, tenant)
        body["register"]["name"] = "Toinen"
        put(client, tenant, body, 412, **{"If-Match": '"v9"'})

    def test_the_slug_is_not_the_profiles_to_change(self, client: TestClient, tenant: Tenant) -> None:
        body, _ = profile(client, tenant)
        assert "slug" not in body
        put(client, tenant, {**body, "slug": "another-name"}, 422)

    @pytest.mark.parametrize(
        "change",
        [
            {"retention": [{"category": "x", "period": "y", "enforce": {"applies_to": "customer"}}]},  # no years
            {"retention": [{"category": "x", "period": "y", "enforce": {"applies_to": "orders", "years": 3}}]},
            {"retention": [{"category": "x", "period": "y", "enforce": {"applies_to": "invoices", "years": 9}}]},
            {"unknown_section": "x"},
        ],
    )
    def test_a_bad_profile_is_422(self, client: TestClient, tenant: Tenant, change: dict[str, Any]) -> None:
        body, _ = profile(client, tenant)
        body["notice"] |= change
        response = put(client, tenant, body, 422)
        assert response.headers["content-type"] == "application/problem+json"


# --- the notice -------------------------------------------------------------------------------------------


class TestNotice:
    def test_has_the_controller_and_every_section_a_finnish_notice_has(
        self, client: TestClient, tenant: Tenant
    ) -> None:
        document = notice(client, tenant)
        assert document["schema"] == "rekisteri.privacy-notice/1"
        assert (document["controller_name"], document["business_id"]) == ("SonMark Oy", "2477816-7")
        assert document["title"] == "Tietosuojaseloste"
        ids = [s["id"] for s in document["sections"]]
        for required in ("controller", "register", "purposes", "legal_basis", "data_categories", "recipients"):
            assert required in ids
        assert ids[-2:] == ["rights", "complaint"]

    def test_the_complaint_authority_is_current(self, client: TestClient, tenant: Tenant) -> None:
        complaint = " ".join(texts(section(notice(client, tenant), "complaint")))
        assert "Lintulahdenkuja 4, 00530 Helsinki" in complaint
        assert "PL 800, 00531 Helsinki" in complaint
        assert "Ratapihantie" not in complaint

    def test_the_rights_need_no_form(self, client: TestClient, tenant: Tenant) -> None:
        rights = section(notice(client, tenant, lang="en"), "rights")
        titles = [b["title"] for b in rights["blocks"]]
        assert "Right to prohibit direct marketing" in titles
        assert "no signature is needed" in " ".join(texts(rights))

    def test_the_marketing_rules_name_every_channel_and_the_profiles_window(
        self, client: TestClient, tenant: Tenant
    ) -> None:
        # Act 917/2014 § 200(1)-(2): consent for e-mail, SMS and automated calls; the existing-customer window.
        for lang, words in {
            "fi": ("automatisoiduilla soittojärjestelmillä", "viimeisten 24 kuukauden"),
            "sv": ("automatiska uppringningssystem", "de senaste 24 månaderna"),
            "en": ("automated calling systems", "within the last 24 months"),
        }.items():
            rights = " ".join(texts(section(notice(client, tenant, lang=lang), "rights")))
            assert all(w in rights for w in words), lang
        body, _ = profile(client, tenant)
        body["marketing"] = {"existing_customer_months": 12}
        put(client, tenant, body)
        rights = " ".join(texts(section(notice(client, tenant, lang="en"), "rights")))
        assert "within the last 12 months" in rights
        assert "{months}" not in rights

    def test_a_version_published_before_a_setting_existed_is_unchanged_by_its_default(
        self, client: TestClient, tenant: Tenant, owner_db: Any
    ) -> None:
        body, _ = profile(client, tenant)
        before = client.get("/v1/privacy-notice", headers=tenant.headers()).json()["version"]
        # The version as an older release kept it, without the setting (written past the audit trigger).
        owner_db.execute("SET session_replication_role = replica")
        owner_db.execute(
            "UPDATE privacy_notice SET profile = profile - 'marketing' WHERE controller_id = %s", (tenant.id,)
        )
        owner_db.execute("SET session_replication_role = DEFAULT")
        put(client, tenant, body)  # the same profile, the setting at its default
        assert client.get("/v1/privacy-notice", headers=tenant.headers()).json()["version"] == before

    def test_untranslated_texts_say_they_are_finnish(self, client: TestClient, tenant: Tenant) -> None:
        body, _ = profile(client, tenant)
        body["notice"]["purposes"] = [
            {"fi": "Vain suomeksi", "basis": "contract"},
            {"fi": "Myös ruotsiksi", "sv": "Även på svenska", "basis": "contract"},
        ]
        put(client, tenant, body)
        purposes = section(notice(client, tenant, lang="sv"), "purposes")["blocks"][0]["texts"]
        assert purposes == [{"text": "Vain suomeksi", "lang": "fi"}, {"text": "Även på svenska", "lang": "sv"}]
        page = client.get("/v1/privacy-notice?lang=sv&format=html", headers=tenant.headers()).text
        assert '<html lang="sv">' in page
        assert '<li lang="fi" title="Texten finns endast på finska.">Vain suomeksi</li>' in page

    def test_an_earlier_version_reads_as_it_was_published(
        self, client: TestClient, tenant: Tenant, owner_db: Any
    ) -> None:
        body, _ = profile(client, tenant)
        body["register"]["name"] = "Uusi nimi"
        put(client, tenant, body)
        first = client.get("/v1/privacy-notice?version=1&lang=en", headers=tenant.headers()).json()
        # Whatever becomes of the profile's schema or the service's own texts, version 1 is what was published.
        behind_the_audit(
            owner_db, "UPDATE privacy_notice SET profile = '{}' WHERE controller_id = %s AND version = 1", tenant
        )
        again = client.get("/v1/privacy-notice?version=1&lang=en", headers=tenant.headers()).json()
        assert again == first
        assert again["register_name"] == "Customer register"

    def test_a_version_copied_by_the_migration_is_rendered_from_its_profile(
        self, client: TestClient, tenant: Tenant, owner_db: Any
    ) -> None:
        published = notice(client, tenant)
        behind_the_audit(owner_db, "UPDATE privacy_notice SET documents = NULL WHERE controller_id = %s", tenant)
        assert notice(client, tenant)["sections"] == published["sections"]

    def test_each_controller_reads_its_own(self, client: TestClient, tenant: Tenant, other_tenant: Tenant) -> None:
        body, _ = profile(client, tenant)
        body["register"]["name"] = "Vain meidän"
        put(client, tenant, body)
        assert notice(client, other_tenant)["register_name"] == "Asiakasrekisteri"
        assert notice(client, other_tenant)["controller"] == other_tenant.slug

    def test_names_and_titles_in_the_asked_language(self, client: TestClient, tenant: Tenant) -> None:
        english = notice(client, tenant, lang="en")
        assert english["register_name"] == "Customer register"
        assert "Ülar Mihkelson, managing director" in texts(section(english, "contact_person"))
        assert "Ülar Mihkelson, toimitusjohtaja" in texts(section(notice(client, tenant), "contact_person"))

    def test_a_legacy_version_says_what_it_does_not_state(
        self, client: TestClient, tenant: Tenant, owner_db: Any
    ) -> None:
        # Only a version published before notices were checked can lack an item (GDPR Art. 13(2)(f)); one the
        # migration copied is rendered from its profile, and says so rather than leave the section out.
        behind_the_audit(
            owner_db,
            "UPDATE privacy_notice SET documents = NULL, profile = profile #- '{notice,automated_decisions}' "
            "WHERE controller_id = %s",
            tenant,
        )
        decided = texts(section(notice(client, tenant, lang="en"), "automated_decisions"))
        assert decided == ["The controller has not stated this."]

    def test_an_unknown_version_is_404(self, client: TestClient, tenant: Tenant) -> None:
        response = client.get("/v1/privacy-notice", params={"version": 7}, headers=tenant.headers())
        assert response.status_code == 404

    def test_needs_a_key(self, client: TestClient) -> None:
        assert client.get("/v1/privacy-notice").status_code == 401


class TestFormats:
    @pytest.mark.parametrize(
        ("accept", "media"),
        [
            ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", HTML),
            ("text/markdown", "text/markdown"),
            ("application/json", "application/json"),
            ("*/*", "application/json"),
            ("application/json;q=0.5, text/markdown", "text/markdown"),
            ("", "application/json"),
        ],
    )
    def test_by_accept(self, client: TestClient, tenant: Tenant, accept: str, media: str) -> None:
        response = client.get(f"/public/{tenant.slug}/privacy-notice", headers={"Accept": accept})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith(media)
        assert "Accept" in response.headers["Vary"]

    @pytest.mark.parametrize(
        ("accept", "media"),
        [
            ("application/json;q=0, */*", HTML),  # JSON refused outright; the next offer
            ("text/html;q=0, text/*", "text/markdown"),
            ("text/*;q=0.5, application/json;q=0.4", HTML),
            ("TEXT/HTML", HTML),
        ],
    )
    def test_a_refusal_wins_over_a_wildcard(self, client: TestClient, tenant: Tenant, accept: str, media: str) -> None:
        response = client.get(f"/public/{tenant.slug}/privacy-notice", headers={"Accept": accept})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith(media)

    @pytest.mark.parametrize("accept", ["*/*;q=0", "image/png", "text/plain"])
    def test_nothing_we_have_is_406(self, client: TestClient, tenant: Tenant, accept: str) -> None:
        response = client.get(f"/public/{tenant.slug}/privacy-notice", headers={"Accept": accept})
        assert response.status_code == 406

    def test_format_wins_over_accept(self, client: TestClient, tenant: Tenant) -> None:
        response = client.get(f"/public/{tenant.slug}/privacy-notice?format=markdown", headers={"Accept": HTML})
        assert response.headers["content-type"].startswith("text/markdown")
        assert response.text.startswith("# Tietosuojaseloste\n")

    def test_nothing_acceptable_is_406(self, client: TestClient, tenant: Tenant) -> None:
        response = client.get(f"/public/{tenant.slug}/privacy-notice", headers={"Accept": "image/png"})
        assert response.status_code == 406
        assert response.headers["content-type"] == "application/problem+json"

    @pytest.mark.parametrize(
        ("header", "lang"),
        [
            ("sv-FI,sv;q=0.9,en;q=0.5", "sv"),
            ("de, en;q=0.3", "en"),
            ("de", "fi"),
            ("*", "fi"),
            ("fi;q=0, sv;q=0.1", "sv"),
            ("EN-gb", "en"),
        ],
    )
    def test_language_by_accept_language(self, client: TestClient, tenant: Tenant, header: str, lang: str) -> None:
        response = client.get(f"/public/{tenant.slug}/privacy-notice", headers={"Accept-Language": header})
        assert response.json()["language"] == lang
        assert response.headers["Content-Language"] == lang

    def test_the_page_is_self_contained_and_locked_down(self, client: TestClient, tenant: Tenant) -> None:
        response = client.get(f"/public/{tenant.slug}/privacy-notice?format=html&lang=en")
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        page = response.text
        assert page.startswith("<!DOCTYPE html>")
        assert "<script" not in page
        assert 'src="http' not in page

    def test_text_from_the_profile_is_shown_not_run(self, client: TestClient, tenant: Tenant) -> None:
        body, _ = profile(client, tenant)
        body["notice"]["purposes"] = [{"fi": "<script>alert(1)</script> & *tähdet*", "basis": "contract"}]
        put(client, tenant, body)
        page = client.get(f"/public/{tenant.slug}/privacy-notice?format=html").text
        assert "<script>alert(1)</script>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; *tähdet*" in page
        markdown = client.get(f"/public/{tenant.slug}/privacy-notice?format=markdown").text
        assert "\\<script\\>alert(1)\\</script\\> \\& \\*tähdet\\*" in markdown

    def test_links_become_links_and_only_links(self, client: TestClient, tenant: Tenant) -> None:
        body, _ = profile(client, tenant)
        body["notice"]["cookies"] = ['Asetukset: https://example.com/ads?a=1&b="x". Loppu.']
        put(client, tenant, body)
        page = client.get(f"/public/{tenant.slug}/privacy-notice?format=html").text
        assert '<a href="https://example.com/ads?a=1&amp;b=">https://example.com/ads?a=1&amp;b=</a>' in page
        assert '<a href="/v1/complaint-authorities">' in page


class TestPublic:
    def test_no_key_needed_and_any_controllers_notice(self, client: TestClient, other_tenant: Tenant) -> None:
        response = client.get(f"/public/{other_tenant.slug}/privacy-notice", params={"lang": "en"})
        assert response.status_code == 200
        assert response.json()["controller"] == other_tenant.slug
        assert response.json()["title"] == "Privacy notice"
        assert response.headers["Cache-Control"] == "public, max-age=300"

    def test_an_unknown_controller_is_404(self, client: TestClient) -> None:
        response = client.get("/public/no-such-controller/privacy-notice")
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"

    def test_earlier_versions_stay_readable(self, client: TestClient, tenant: Tenant) -> None:
        body, _ = profile(client, tenant)
        changed = copy.deepcopy(body)
        changed["register"]["name"] = "Uusi nimi"
        put(client, tenant, changed)
        old = client.get(f"/public/{tenant.slug}/privacy-notice", params={"version": 1}).json()
        assert old["register_name"] == "Asiakasrekisteri"
        page = client.get(f"/public/{tenant.slug}/privacy-notice", params={"format": "html"}).text
        assert 'href="?version=1&amp;lang=fi&amp;format=html"' in page


# --- the complaint authorities -------------------------------------------------------------------------------


class TestComplaintAuthorities:
    def test_all_thirty_without_a_key(self, client: TestClient) -> None:
        response = client.get("/v1/complaint-authorities")
        assert response.status_code == 200
        items = response.json()["items"]
        eu = "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK".split()  # noqa: SIM905
        assert [a["country"] for a in items] == sorted([*eu, "IS", "LI", "NO"])
        assert all(set(a["verified"]) >= {"email", "phone", "street_address"} for a in items)

    def test_finland_is_current_and_verified(self, client: TestClient) -> None:
        finland = client.get("/v1/complaint-authorities/fi").json()
        assert finland["street_address"] == "Lintulahdenkuja 4, 00530 Helsinki"
        assert finland["postal_address"] == "PL 800, 00531 Helsinki"
        assert finland["email"] == "tietosuoja@om.fi"
        assert all(finland["verified"].values())

    @pytest.mark.parametrize(("country", "status"), [("SE", 200), ("se", 200), ("US", 404), ("SWE", 422), ("1a", 422)])
    def test_one_country(self, client: TestClient, country: str, status: int) -> None:
        response = client.get(f"/v1/complaint-authorities/{country}")
        assert response.status_code == status


# --- the example profiles: every Art. 13 item, in every language ------------------------------------------------


def _built(example: Path, lang: str) -> tuple[ControllerProfile, dict[str, str]]:
    """An example profile, and its notice in `lang` built as publishing builds it: section id -> its text."""
    loaded = ControllerProfile.load(example)
    kept = PrivacyNotice(
        controller_id=uuid.uuid4(),
        version=1,
        notice_date=dt.date(2026, 12, 1),
        profile=loaded.model_dump(mode="json", by_alias=True),
        published_by="test",
        created_at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
    )
    document = notice_text.build(loaded.slug, kept, NoticeLanguage(lang)).model_dump(mode="json")
    return loaded, {s["id"]: " ".join(texts(s)) for s in document["sections"]}


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.toml")), ids=lambda p: p.stem)
def test_each_example_states_every_art_13_item(example: Path, lang: str) -> None:
    loaded, sections = _built(example, lang)
    words = notice_text.texts(lang)
    assert profile_check.problems(loaded) == []
    stated = {key: text for key, text in sections.items() if text != words["not_stated"]}
    required = [
        "controller",  # 13(1)(a)
        "dpo",  # 13(1)(b)
        "purposes",  # 13(1)(c)
        "legal_basis",  # 13(1)(c)-(d)
        "recipients",  # 13(1)(e)
        "transfers",  # 13(1)(f)
        "retention",  # 13(2)(a)
        "rights",  # 13(2)(b)-(c)
        "complaint",  # 13(2)(d)
        "provision_requirement",  # 13(2)(e)
        "automated_decisions",  # 13(2)(f)
        "data_categories",  # 14(1)(d)
    ]
    assert [key for key in required if key not in stated] == []
    who = loaded.controller
    assert who.street_address in stated["controller"]
    assert f"{words['email']}: {who.email}" in stated["controller"] or words["phone"] in stated["controller"]
    for purpose in loaded.notice.purposes:  # each with its basis in words
        assert purpose.basis is not None
        assert words["bases"][purpose.basis].removesuffix(".") in stated["legal_basis"]
    for recipient in loaded.recipients:
        assert recipient.name in stated["recipients"]
        if recipient.outside_eea:
            assert recipient.name in stated["transfers"]
    assert "Lintulahdenkuja 4" in stated["complaint"]
    # The rights (13(2)(b)-(c)), as the service writes them; the marketing rules carry the profile's window.
    assert all(words["rights"][right][1] in stated["rights"] for right in notice_text.RIGHTS if right != "marketing")


def test_the_register_of_recipients_and_the_bases_in_words() -> None:
    body = ControllerProfile.load(EXAMPLES / "sonmark.toml").model_dump(mode="json", by_alias=True)
    body["dpo"] = {"appointed": True, "name": "Tiina Tietosuoja", "email": "dpo@example.fi"}
    body["notice"]["purposes"] = [
        {"fi": "Markkinointi", "en": "Marketing", "basis": "legitimate_interests", "legitimate_interest": "Myynti"},
        {"fi": "Kirjanpito", "en": "Bookkeeping", "basis": "legal_obligation", "law": "Kirjanpitolaki 1336/1997"},
    ]
    body["recipients"] = [
        {"id": "tili", "name": "Tili Oy", "category": "processor", "data": ["Laskut"], "purpose": "Kirjanpito"},
        {
            "id": "cloud",
            "name": "Cloud Inc.",
            "category": "processor",
            "data": [{"fi": "Asiakastiedot", "en": "Customer data"}],
            "purpose": {"fi": "Palvelin", "en": "Hosting"},
            "country": "US",
            "transfer": {"mechanism": "sccs", "link": "https://example.com/sccs"},
        },
    ]
    profile_ = ControllerProfile.model_validate(body)
    assert notice_text.bases(profile_, "en") == [
        "Marketing \N{EN DASH} The legitimate interests of the controller or of a third party (Article 6(1)(f)). "
        "Legitimate interest: Myynti.",
        "Bookkeeping \N{EN DASH} Compliance with a legal obligation of the controller (Article 6(1)(c)). "
        "Law: Kirjanpitolaki 1336/1997.",
    ]
    assert notice_text.recipient_lines(profile_, "fi") == [
        "Tili Oy \N{EN DASH} Henkilötietojen käsittelijä (käsittelee tietoja rekisterinpitäjän lukuun). "
        "Vastaanottaa: Laskut. Tarkoitus: Kirjanpito. Maa: Suomi.",
        "Cloud Inc. \N{EN DASH} Henkilötietojen käsittelijä (käsittelee tietoja rekisterinpitäjän lukuun). "
        "Vastaanottaa: Asiakastiedot. Tarkoitus: Palvelin. Maa: Yhdysvallat.",
    ]
    assert notice_text.transfer_lines(profile_, "sv") == [
        "Cloud Inc. (USA) \N{EN DASH} Standardavtalsklausuler som antagits av kommissionen (artikel 46.2 c). "
        "Mer information: https://example.com/sccs"
    ]
    assert notice_text.dpo_lines(profile_, "en") == ["Tiina Tietosuoja", "E-mail: dpo@example.fi"]
    body["dpo"] = {"appointed": False}
    assert notice_text.dpo_lines(ControllerProfile.model_validate(body), "sv") == [
        "Den personuppgiftsansvarige har inte utsett något dataskyddsombud."
    ]


def test_the_bases_section_adds_the_profiles_own_words(client: TestClient, tenant: Tenant) -> None:
    body, _ = profile(client, tenant)
    body["notice"]["legal_basis"] = {"fi": "Lisätieto perusteista.", "en": "More on the bases."}
    put(client, tenant, body)
    blocks = section(notice(client, tenant, lang="en"), "legal_basis")["blocks"]
    assert [b["kind"] for b in blocks] == ["list", "paragraph"]
    assert blocks[1]["texts"] == [{"text": "More on the bases.", "lang": "en"}]


def test_no_transfer_outside_the_eea_says_so(client: TestClient, tenant: Tenant) -> None:
    body, _ = profile(client, tenant)
    body["recipients"] = [r for r in body.get("recipients", []) if r.get("country", "FI") == "FI"]
    body["notice"]["transfers"] = body["notice"]["transfer_safeguards"] = None
    body["notice"]["recipient_categories"] = ["Tilitoimisto"]
    put(client, tenant, body)
    assert texts(section(notice(client, tenant, lang="en"), "transfers")) == [
        "The controller has not stated any transfer of data outside the EU or the EEA."
    ]
