"""The EU/EEA supervisory authority data set and its loader: no database needed."""

from __future__ import annotations

import json
from importlib.resources import files

import pytest
from fastapi.testclient import TestClient

from app.services.authorities import (
    VERIFIED_FIELDS,
    Authority,
    all_authorities,
    authority,
    finland,
    for_person,
)
from tests.conftest import Tenant, new_customer

EU = {
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
    "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
}  # fmt: skip
EEA_EFTA = {"IS", "LI", "NO"}


def test_thirty_authorities() -> None:
    assert len(EU) == 27
    assert len(all_authorities()) == 30


def test_the_expected_countries_once_each() -> None:
    countries = [a.country for a in all_authorities()]
    assert len(set(countries)) == len(countries)
    assert set(countries) == EU | EEA_EFTA
    assert "EL" not in countries  # Greece is GR in ISO 3166-1


def test_sorted_by_country() -> None:
    countries = [a.country for a in all_authorities()]
    assert countries == sorted(countries)


def test_finland_exact_details() -> None:
    fi = finland()
    assert fi.country == "FI"
    assert fi.name_en == "Office of the Data Protection Ombudsman"
    assert fi.name_native == "Tietosuojavaltuutetun toimisto / Dataombudsmannens byrå"
    assert fi.street_address == "Lintulahdenkuja 4, 00530 Helsinki"
    assert fi.postal_address == "PL 800, 00531 Helsinki"
    assert fi.phone == "+358 29 566 6700"
    assert fi.email == "tietosuoja@om.fi"
    assert fi.website == "https://tietosuoja.fi"
    assert fi.verified == dict.fromkeys(VERIFIED_FIELDS, True)
    assert "Ratapihantie" not in (fi.street_address + fi.postal_address)


def test_every_website_is_https() -> None:
    for a in all_authorities():
        assert a.website.startswith("https://"), a.country


def test_every_verified_map_has_all_seven_keys() -> None:
    assert len(VERIFIED_FIELDS) == 7
    for a in all_authorities():
        assert set(a.verified) == set(VERIFIED_FIELDS), a.country
        assert all(isinstance(v, bool) for v in a.verified.values()), a.country


def test_raw_data_has_all_seven_verified_keys_and_no_verified_nulls() -> None:
    document = json.loads((files("app") / "data" / "authorities.json").read_text(encoding="utf-8"))
    assert document["checked_on"] == "2026-11-22"
    assert document["sources"]
    for entry in document["authorities"]:
        assert set(entry["verified"]) == set(VERIFIED_FIELDS), entry["country"]
        for field in VERIFIED_FIELDS:
            if entry[field] is None:
                assert entry["verified"][field] is False, (entry["country"], field)


def test_phones_are_international() -> None:
    for a in all_authorities():
        if a.phone is not None:
            assert a.phone.startswith("+"), a.country


def test_germany_is_the_federal_commissioner_with_a_note() -> None:
    de = authority("DE")
    assert de is not None
    assert "Bundesbeauftragte für den Datenschutz und die Informationsfreiheit" in de.name_native
    assert de.note is not None
    assert "Land" in de.note


@pytest.mark.parametrize("code", ["se", "SE", " Se "])
def test_lookup_is_case_insensitive(code: str) -> None:
    found = authority(code)
    assert found is not None
    assert found.country == "SE"


@pytest.mark.parametrize("code", [None, "", "XX", "GB", "EL", "CH"])
def test_unknown_country_is_none(code: str | None) -> None:
    assert authority(code) is None


def test_for_person_in_sweden() -> None:
    assert [a.country for a in for_person("SE")] == ["FI", "SE"]


@pytest.mark.parametrize("code", ["FI", "fi", None, "XX"])
def test_for_person_finland_or_unknown_is_finland_only(code: str | None) -> None:
    assert [a.country for a in for_person(code)] == ["FI"]


def test_all_authorities_returns_a_copy() -> None:
    first = all_authorities()
    first.clear()
    assert len(all_authorities()) == 30


def test_authorities_are_frozen() -> None:
    fi = finland()
    assert isinstance(fi, Authority)
    with pytest.raises(AttributeError):
        fi.email = "someone@example.com"  # type: ignore[misc]


# --- federal states: Germany's Länder supervise companies -------------------------------------------------------


def test_germany_lists_its_laender_and_says_where_to_turn() -> None:
    germany = authority("DE")
    assert germany is not None
    assert germany.regional_note is not None
    assert "Land" in germany.regional_note
    assert len(germany.regions) == 16
    assert {r.code for r in germany.regions} >= {"DE-BY", "DE-BE", "DE-NW", "DE-TH"}
    assert all(not any(r.verified.values()) for r in germany.regions)  # best knowledge, marked so


def test_a_controller_in_a_land_names_that_lands_authority() -> None:
    """A German resident's authority: the controller's Land where the profile names it, else the BfDI and the note."""
    named = for_person("DE", "DE-BY")
    assert [a.country for a in named] == ["FI", "DE"]
    assert "Bayerisches Landesamt" in named[1].name_native
    assert not any(named[1].verified.values())
    assert for_person("DE", None)[1].name_native.startswith("Bundesbeauftragte")
    assert for_person("DE", "DE-XX")[1].name_native.startswith("Bundesbeauftragte")
    assert for_person("SE", "DE-BY")[1].country == "SE"  # a region of another country changes nothing


def test_the_letter_and_the_public_list_tell_germans_where_to_turn(client: TestClient, tenant: Tenant) -> None:
    listed = client.get("/v1/complaint-authorities/de").json()
    assert "Land" in listed["regional_note"]
    assert len(listed["regions"]) == 16
    person = new_customer(client, tenant, country="DE")
    body = {"type": "erasure", "channel": "email", "customer_id": person["id"], "erasure": {"ground": "objection"}}
    request = client.post("/v1/requests", json=body, headers=tenant.headers()).json()
    refused = {"reasons": "Manifestly unfounded."}
    client.post(f"/v1/requests/{request['id']}/refuse", json=refused, headers=tenant.headers())
    for lang, words in {"fi": "osavaltion", "sv": "delstatens", "en": "authority of the Land"}.items():
        letter = client.get(f"/v1/requests/{request['id']}/letter?lang={lang}", headers=tenant.headers()).text
        assert words in letter, lang


def test_fi_note_cites_nothing_outside_the_repository() -> None:
    finland_note = authority("FI")
    assert finland_note is not None
    assert finland_note.note is not None
    assert "DESIGN.md" not in finland_note.note
