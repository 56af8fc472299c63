"""The five seed notices, made true: each profile in examples/ loads and renders as a Finnish notice with its
controller's name, business ID and register name, and a section for every section its original has.

Each map below lists the original notice's headings as they stand in it, with the section of the rendered
notice that says the same. The rights sections of the originals map to the service's own rights and complaint
sections, which state current law (no form, signature or language required; the Ombudsman's present address).
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.conftest import make_tenant

HEADINGS: dict[str, dict[str, str]] = {
    "sonmark": {
        "Rekisterinpitäjä": "controller",
        "Yhteyshenkilö rekisteriä koskevissa asioissa": "contact_person",
        "Rekisterin nimi": "register",
        "Henkilötietojen käsittelyn tarkoitus": "purposes",
        "Rekisterin tietosisältö": "data_categories",
        "Säännönmukaiset tietolähteet": "sources",
        "Tietojen säännönmukaiset luovutukset": "disclosures",
        "Tietojen siirto EU:n tai ETA:n ulkopuolelle": "transfers",
        "Rekisterin suojauksen periaatteet A: Manuaalinen aineisto": "security",
        "Rekisterin suojauksen periaatteet B: ATK:lla käsiteltävät toiminnot": "security",
        "Evästeet": "cookies",
        "Tarkastusoikeus": "rights",
        "Muut henkilötietojen käsittelyyn liittyvät oikeudet": "rights",
        "Oikeus vaatia tiedon korjaamista": "rights",
    },
    "solintech": {
        "Rekisterinpitäjä": "controller",
        "Yhteys henkilö rekisteriä koskevissa asioissa": "contact_person",
        "Rekisterin nimi": "register",
        "Oikeusperuste ja henkilötietojen käsittelyn tarkoitus": "purposes",
        "Oikeutetun edun peruste": "legitimate_interest",
        "Kyseessä olevat henkilötietoryhmät": "data_groups",
        "Vastaanottajat ja vastaanottajaryhmät": "recipients",
        "Suostumus": "consent",
        "Rekisterin tietosisältö": "data_categories",
        "Säännönmukaiset tietolähteet": "sources",
        "Henkilötietojen säilyttämisaika": "retention",
        "Tietojen säännönmukaiset luovutukset": "disclosures",
        "Tietojen siirto EU:n tai ETA:n ulkopuolelle": "transfers",
        "Rekisterin suojauksen periaatteet A: Manuaalinen aineisto": "security",
        "Rekisterin suojauksen periaatteet B: ATK:lla käsiteltävät toiminnot": "security",
        "Evästeet": "cookies",
        "Automaattinen käsittely ja profilointi": "automated_decisions",
        "Tarkastusoikeus, eli oikeus saada pääsy henkilötietoihin.": "rights",
        "Oikeus siirtää tiedot järjestelmästä toiseen": "rights",
        "Oikeus vaatia tiedon korjaamista": "rights",
        "Rajoittamisoikeus": "rights",
        "Vastustamisoikeus": "rights",
        "Oikeus tehdä valitus valvontaviranomaiselle": "complaint",
        "Muut henkilötietojen käsittelyyn liittyvät oikeudet": "rights",
    },
    "sesoma": {
        "Tietosuoja ja henkilötietojen käsittely Sesoma Oy:ssä": "introduction",
        "1. Rekisterinpitäjä": "controller",
        "2. Rekisteriasioita hoitava henkilö": "contact_person",
        "3. Rekisterin nimi": "register",
        "4. Rekisterin käyttötarkoitus": "purposes",
        "5. Rekisterin sisältämät tiedot": "data_categories",
        "6. Säännönmukaiset tietolähteet ja tietojen säilytys": "sources",
        "7. Rekisterin suojaus": "security",
        "8. Tietojen luovutus ja siirto": "disclosures",
        "9. Tarkastus-, kielto- ja korjausoikeus": "rights",
        "10. Evästeet": "cookies",
    },
    "mastermark": {
        "Rekisterinpitäjä": "controller",
        "Yhteyshenkilö rekisteriä koskevissa asioissa": "contact_person",
        "Rekisterin nimi": "register",
        "Oikeusperuste ja henkilötietojen käsittelyn tarkoitus": "purposes",
        "Oikeutetun edun peruste": "legal_basis",
        "Kyseessä olevat henkilötietoryhmät": "data_groups",
        "Vastaanottajat ja vastaanottajaryhmät": "recipients",
        "Suostumus": "consent",
        "Rekisterin tietosisältö": "data_categories",
        "Säännönmukaiset tietolähteet": "sources",
        "Henkilötietojen säilyttämisaika": "retention",
        "Tietojen säännönmukaiset luovutukset": "disclosures",
        "Tietojen siirto EU:n tai ETA:n ulkopuolelle": "transfers",
        "Rekisterin suojauksen periaatteet A: Manuaalinen aineisto": "security",
        "Rekisterin suojauksen periaatteet B: ATK:lla käsiteltävät toiminnot": "security",
        "Evästeet": "cookies",
        "Automaattinen käsittely ja profilointi": "automated_decisions",
        "Tarkastusoikeus, eli oikeus saada pääsy henkilötietoihin.": "rights",
        "Oikeus siirtää tiedot järjestelmästä toiseen": "rights",
        "Oikeus vaatia tiedon korjaamista": "rights",
        "Rajoittamisoikeus": "rights",
        "Vastustamisoikeus": "rights",
        "Oikeus tehdä valitus valvontaviranomaiselle": "complaint",
        "Muut henkilötietojen käsittelyyn liittyvät oikeudet": "rights",
    },
    # The fifth names no controller at all (the profile's placeholders stand in), and its cookies section is
    # empty (nothing to render).
    "asiakasrekisteri": {
        "Rekisterin nimi": "register",
        "Henkilötietojen käsittelyn tarkoitus": "purposes",
        "Rekisterin tietosisältö": "data_categories",
        "Säännönmukaiset tietolähteet": "sources",
        "Tietojen säännönmukaiset luovutukset": "disclosures",
        "Tietojen siirto EU:n tai ETA:n ulkopuolelle": "transfers",
        "Rekisterin suojauksen periaatteet A: Manuaalinen aineisto": "security",
        "Rekisterin suojauksen periaatteet B: ATK:lla käsiteltävät toiminnot": "security",
        "Tarkastusoikeus": "rights",
        "Oikeus vaatia tiedon korjaamista": "rights",
        "Muut henkilötietojen käsittelyyn liittyvät oikeudet": "rights",
    },
}

# Words of each original that its rendered notice must carry, section by section.
PHRASES: dict[str, dict[str, str]] = {
    "sonmark": {
        "transfers": "teknisen toteutuksen varmistamiseksi tarpeellista",
        "introduction": "käsittelee henkilötietoja huolellisesti ja turvallisesti",
        "cookies": "Tämä sivusto käyttää evästeitä",
        "security": "lukituissa ja paloturvallisissa säilytystiloissa",
    },
    "solintech": {
        "transfers": "teknisen toteutuksen varmistamiseksi tarpeellista",
        "cookies": "Chrome-selaimen lisäosalla",
        "security": "oma henkilökohtainen käyttäjätunnus ja salasana",
        "consent": "Suostumuksen peruuttaminen on yhtä helppoa kuin suostumuksen antaminen",
        "retention": "10 vuotta asiakkuuden päättymisestä lukien",
    },
    "sesoma": {
        "transfers": "ellei siirtämiseen ole välitöntä tarvetta",
        "introduction": "sitoudumme suojaamaan henkilötietojen yksityisyyttä",
        "cookies": "haittaohjelmien levittämiseen",
        "security": "manuaaliset arkistot ovat lukitussa tilassa",
    },
    "mastermark": {
        "transfers": "teknisen toteutuksen varmistamiseksi tarpeellista",
        "cookies": "Google Analytics Demographics",
        "security": "hyvää tietojenkäsittelytapaa",
        "consent": "Käsittely perustuu sopimukseen",
    },
    "asiakasrekisteri": {
        "transfers": "teknisen toteutuksen varmistamiseksi tarpeellista",
        "security": "säilytetään yrityksen turvallisissa säilytystiloissa",
    },
}

IDENTITY = {
    "sonmark": ("SonMark Oy", "2477816-7", "Asiakasrekisteri", "23.5.2018"),
    "solintech": ("Janne Peltola", None, "Asiakasrekisteri", "4.1.2018"),
    "sesoma": ("Sesoma Oy", "1014672-4", "Sesoman asiakasrekisteri", None),
    "mastermark": ("Mastermark Oy", None, "Asiakasrekisteri", "28.4.2021"),
    "asiakasrekisteri": ("Esimerkki Oy", None, "Asiakasrekisteri", None),
}


def texts(part: dict[str, Any]) -> str:
    found = [t["text"] for t in part.get("texts", [])]
    found += [texts(block) for block in part.get("blocks", [])]
    return " ".join(found)


@pytest.mark.parametrize("seed", sorted(HEADINGS))
def test_the_seed_renders_in_finnish_with_every_section_of_its_original(
    client: TestClient, app: FastAPI, seed: str
) -> None:
    tenant = make_tenant(client, app, seed)
    notice = client.get(f"/public/{tenant.slug}/privacy-notice", params={"lang": "fi"}).json()
    page = client.get(f"/public/{tenant.slug}/privacy-notice", params={"lang": "fi", "format": "html"}).text
    name, business_id, register, drawn_up = IDENTITY[seed]
    assert notice["language"] == "fi"
    assert '<html lang="fi">' in page
    assert (notice["controller_name"], notice["business_id"], notice["register_name"]) == (name, business_id, register)
    assert name in page
    assert register in page
    if business_id:
        assert f"Y-tunnus {business_id}" in page
    if drawn_up:
        assert f'Laatimispäivä <time datetime="{notice["notice_date"]}">{drawn_up}</time>' in page

    sections = {s["id"]: s for s in notice["sections"]}
    for heading, section_id in HEADINGS[seed].items():
        assert section_id in sections, f"{seed}: {heading!r} has no {section_id} section"
        assert texts(sections[section_id]).strip(), f"{seed}: the {section_id} section is empty"
        assert f'<section id="{section_id}"' in page
    for section_id, phrase in PHRASES[seed].items():
        assert phrase in texts(sections[section_id]), f"{seed}: {section_id}"
        assert phrase in page


@pytest.mark.parametrize("seed", sorted(HEADINGS))
def test_what_is_outdated_in_the_original_is_not_repeated(client: TestClient, app: FastAPI, seed: str) -> None:
    tenant = make_tenant(client, app, seed)
    page = client.get(f"/public/{tenant.slug}/privacy-notice", params={"lang": "fi", "format": "markdown"}).text
    assert "Ratapihantie" not in page  # the Ombudsman moved: Lintulahdenkuja 4
    assert "Lintulahdenkuja 4, 00530 Helsinki" in page
    assert "allekirjoitettava" not in page  # no signature is required
    assert "allekirjoitusta ei vaadita" in page
    assert "henkilötietolain" not in page  # the Personal Data Act was repealed in 2019
    assert "muuta?" not in page  # a placeholder left in one original


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_the_seeds_render_in_swedish_and_english_too(client: TestClient, app: FastAPI, lang: str) -> None:
    for seed in sorted(HEADINGS):
        tenant = make_tenant(client, app, seed)
        page = client.get(f"/public/{tenant.slug}/privacy-notice", params={"lang": lang, "format": "html"})
        assert page.status_code == 200
        assert f'<html lang="{lang}">' in page.text
