"""The EU/EEA supervisory authority data set and its loader: no database needed."""

from __future__ import annotations

import json
from importlib.resources import files

import pytest

from app.services.authorities import (
    VERIFIED_FIELDS,
    Authority,
    all_authorities,
    authority,
    finland,
    for_person,
)

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
