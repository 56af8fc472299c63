"""The completeness rules a profile meets before its notice is published (app/services/profile_check.py): one test
per rule, each failing without it; pure, no database."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from app.models.profile import ProfileContent
from app.services.profile_check import ProfileProblem, problems

COMPLETE: dict[str, Any] = {
    "controller": {
        "name": "Esimerkki Oy",
        "street_address": "Lintukuja 1",
        "postal_code": "00100",
        "city": "Helsinki",
        "email": "tietosuoja@example.fi",
    },
    "dpo": {"appointed": False},
    "register": {"name": "Asiakasrekisteri"},
    "recipients": [
        {
            "id": "accounting",
            "name": "Tilitoimisto Esimerkki Oy",
            "category": "processor",
            "data": [{"fi": "Laskutustiedot", "en": "Billing data"}],
            "purpose": {"fi": "Kirjanpito", "en": "Bookkeeping"},
        },
        {
            "id": "analytics",
            "name": "Analytics Inc.",
            "category": "processor",
            "data": ["Sivuston käyttötiedot"],
            "purpose": "Kävijätilastot",
            "country": "US",
            "transfer": {"mechanism": "sccs", "link": "https://example.com/sccs"},
        },
    ],
    "notice": {
        "purposes": [
            {"fi": "Asiakassuhteen hoitaminen", "basis": "contract"},
            {"fi": "Kirjanpito", "basis": "legal_obligation", "law": "Kirjanpitolaki 1336/1997"},
            {"fi": "Suoramarkkinointi", "basis": "legitimate_interests", "legitimate_interest": "Myynti asiakkaille"},
        ],
        "provision_requirement": "Tiedot tarvitaan sopimuksen tekemiseen; ilman niitä emme voi toimittaa tilausta.",
        "data_categories": ["Nimi", "Yhteystiedot"],
        "sources": ["Asiakas itse"],
        "retention": [{"category": "Asiakastiedot", "period": "10 vuotta asiakkuuden päättymisestä."}],
        "automated_decisions": "Automaattista päätöksentekoa tai profilointia ei ole.",
        "cookies": [
            {
                "fi": "Asetamme muita kuin välttämättömiä evästeitä vain suostumuksellasi, jonka voit perua milloin "
                "tahansa. Voit lisäksi poistaa tallennetut evästeet selaimesi asetuksista.",
                "en": "We set cookies other than strictly necessary ones only with your consent, which you may "
                "withdraw at any time. You may also delete stored cookies in your browser settings.",
            }
        ],
        "exercising_rights": "Pyynnön voi tehdä vapaamuotoisesti; allekirjoitusta ei vaadita.",
        "security": {"manual": "Vain salassapitositoumuksen allekirjoittaneilla työntekijöillä on pääsy aineistoon."},
    },
}


def found(change: Any = None) -> list[ProfileProblem]:
    """The problems of the complete profile after `change` (a function that edits its copy)."""
    body = copy.deepcopy(COMPLETE)
    if change is not None:
        change(body)
    return problems(ProfileContent.model_validate(body))


def where(found_: list[ProfileProblem]) -> list[tuple[str, list[str | int], str]]:
    return [(p.kind, p.loc, p.article) for p in found_]


def test_a_complete_profile_has_no_problems() -> None:
    assert found() == []


class TestController:
    """Rule 1. GDPR Art. 13(1)(a): the controller's identity and contact details."""

    @pytest.mark.parametrize("field", ["street_address", "postal_code", "city"])
    def test_a_postal_address(self, field: str) -> None:
        assert where(found(lambda b: b["controller"].pop(field))) == [
            ("missing", ["controller", field], "GDPR Art. 13(1)(a)")
        ]

    def test_an_email_or_a_phone(self) -> None:
        assert where(found(lambda b: b["controller"].pop("email"))) == [
            ("missing", ["controller", "email"], "GDPR Art. 13(1)(a)")
        ]
        assert found(lambda b: b["controller"].update(email=None, phone="+358 9 123 4567")) == []


class TestDpo:
    """Rule 2. GDPR Art. 13(1)(b), 37(7): the officer, or the statement that none is appointed."""

    def test_silence_is_a_problem(self) -> None:
        assert where(found(lambda b: b.pop("dpo"))) == [("missing", ["dpo"], "GDPR Art. 13(1)(b), 37(7)")]

    def test_an_appointed_officer_with_a_contact_is_enough(self) -> None:
        assert found(lambda b: b.update(dpo={"appointed": True, "email": "dpo@example.fi"})) == []


class TestPurposes:
    """Rule 3. GDPR Art. 13(1)(c)-(d), 6(1), 6(3)."""

    def test_there_are_purposes(self) -> None:
        assert where(found(lambda b: b["notice"].update(purposes=[]))) == [
            ("missing", ["notice", "purposes"], "GDPR Art. 13(1)(c)")
        ]

    def test_each_has_a_basis(self) -> None:
        # A plain text is a purpose whose basis is not stated: "within the limits of the law" is none.
        result = found(lambda b: b["notice"]["purposes"].append("Tilastointi"))
        assert where(result) == [("missing", ["notice", "purposes", 3, "basis"], "GDPR Art. 13(1)(c), 6(1)")]

    def test_a_legitimate_interest_is_said_in_words(self) -> None:
        result = found(lambda b: b["notice"]["purposes"][2].pop("legitimate_interest"))
        assert where(result) == [("missing", ["notice", "purposes", 2, "legitimate_interest"], "GDPR Art. 13(1)(d)")]

    @pytest.mark.parametrize("basis", ["legal_obligation", "public_task"])
    def test_a_legal_obligation_names_its_law(self, basis: str) -> None:
        result = found(lambda b: b["notice"]["purposes"][1].update(basis=basis, law=None))
        assert where(result) == [("missing", ["notice", "purposes", 1, "law"], "GDPR Art. 6(3)")]


class TestRecipients:
    """Rules 4 and 5. GDPR Art. 13(1)(e)-(f), 15(1)(c), 30(1)(d), 44-49."""

    def test_recipients_or_their_categories(self) -> None:
        assert where(found(lambda b: b.update(recipients=[]))) == [("missing", ["recipients"], "GDPR Art. 13(1)(e)")]
        assert (
            found(lambda b: b.update(recipients=[]) or b["notice"].update(recipient_categories=["Tilitoimisto"])) == []
        )

    def test_free_text_recipients_alone_are_not_enough(self) -> None:
        result = found(lambda b: b.update(recipients=[]) or b["notice"].update(recipients=["Kumppanit"]))
        assert where(result) == [("missing", ["recipients"], "GDPR Art. 13(1)(e)")]

    @pytest.mark.parametrize("field", ["data", "purpose"])
    def test_each_says_what_it_receives_and_why(self, field: str) -> None:
        result = found(lambda b: b["recipients"][0].pop(field))
        assert where(result) == [("missing", ["recipients", 0, field], "GDPR Art. 30(1)(d), 15(1)(c)")]

    def test_a_recipient_outside_the_eea_has_a_transfer_mechanism(self) -> None:
        result = found(lambda b: b["recipients"][1].pop("transfer"))
        assert where(result) == [("missing", ["recipients", 1, "transfer"], "GDPR Art. 13(1)(f), 44-49")]

    def test_inside_the_eea_none_is_needed(self) -> None:
        assert found(lambda b: b["recipients"][1].update(country="SE", transfer=None)) == []


@pytest.mark.parametrize(
    ("key", "article"),
    [
        ("retention", "GDPR Art. 13(2)(a)"),  # rule 6
        ("provision_requirement", "GDPR Art. 13(2)(e)"),  # rule 7
        ("automated_decisions", "GDPR Art. 13(2)(f)"),  # rule 8
        ("data_categories", "GDPR Art. 14(1)(d)"),  # rule 9
        ("sources", "GDPR Art. 14(2)(f)"),  # rule 9
    ],
)
def test_the_notice_states(key: str, article: str) -> None:
    assert where(found(lambda b: b["notice"].pop(key))) == [("missing", ["notice", key], article)]


def test_every_problem_is_listed_at_once() -> None:
    result = found(lambda b: b.pop("dpo") and b["notice"].pop("sources") and b["notice"]["purposes"].append("X"))
    assert [p.loc for p in result] == [["dpo"], ["notice", "purposes", 3, "basis"], ["notice", "sources"]]


# Rule 10: outdated texts. Each phrase family as the seed notices say it, in Finnish, Swedish and English.
OUTDATED: dict[str, list[tuple[str, str]]] = {
    # Act 917/2014 § 205; CJEU C-673/17 Planet49: consent to cookies is prior, specific and active.
    "cookie consent by using the site": [
        ("fi", "Käyttämällä sivustoamme, hyväksyt evästeiden käytön."),
        ("fi", "Käyttämällä verkkopalveluamme hyväksyt, että käytämme evästeitä."),
        ("sv", "Genom att använda vår webbplats godkänner du användningen av kakor."),
        ("en", "By using our website, you accept the use of cookies."),
        ("en", "By continuing to browse this site you agree to our use of cookies."),
    ],
    "refusing cookies through browser settings": [
        ("fi", "Sivuston käyttäjä voi estää evästeiden käytön muuttamalla omia selainasetuksiaan."),
        (
            "fi",
            "Sivuillamme vierailevalla käyttäjällä on mahdollisuus koska tahansa estää evästeiden käyttö muuttamalla "
            "selaimensa asetuksia.",
        ),
        ("sv", "Du kan blockera kakor genom att ändra webbläsarens inställningar."),
        ("en", "You can refuse cookies by changing your browser settings."),
        ("en", "If your browser settings allow cookies, you consent to their use."),
    ],
    # GDPR recital 30; CJEU C-582/14 Breyer: online identifiers are personal data.
    "the visitor cannot be identified": [
        ("fi", "Vierailijaa ei voida tunnistaa pelkkien evästeiden avulla."),
        ("fi", "Käyttäjää ei voida tunnistaa evästeiden avulla."),
        ("sv", "Besökaren kan inte identifieras med hjälp av kakor."),
        ("en", "The visitor cannot be identified by cookies alone."),
    ],
    # Data Protection Act 1050/2018 repealed the Personal Data Act 523/1999.
    "the Personal Data Act": [
        ("fi", "Henkilötietoja käsitellään henkilötietolain mukaisesti."),
        ("fi", "Rekisteri on laadittu henkilötietolaki 523/1999 10 §:n mukaisesti."),
        ("sv", "Enligt personuppgiftslagen har du rätt till insyn."),
        ("en", "Under the Personal Data Act you have the right of access."),
    ],
    # GDPR Art. 6(1): being within the limits of the law is not a basis.
    "processed within the limits of the law": [
        ("fi", "Henkilötietoja käsitellään tietosuoja-asetuksen sallimissa ja edellyttämissä rajoissa."),
        (
            "fi",
            "Henkilötietoja käsitellään EU:n yleisen tietosuoja-asetuksen (EU) 2016/679 ja tietosuojalain (1050/2018) "
            "sallimissa ja edellyttämissä rajoissa.",
        ),
        ("sv", "Personuppgifter behandlas inom ramen för dataskyddsförordningen."),
        ("en", "Personal data is processed within the limits permitted by the GDPR."),
    ],
    "the Ombudsman's old address": [
        ("fi", "Tietosuojavaltuutetun toimisto, PL 800, Ratapihantie 9, 00521 Helsinki."),
        ("sv", "Dataombudsmannens byrå, Ratapihantie 9."),
    ],
    # GDPR Art. 12: no form, signature or language of a request is required.
    "a required form for requests": [
        ("fi", "Tarkastuspyyntö on allekirjoitettava."),
        ("fi", "Korjauspyyntö tulee tehdä omakätisesti allekirjoitetulla kirjallisella pyynnöllä."),
        ("fi", "Tarkastuspyyntö tulee tehdä kirjallisena rekisterin yhteyshenkilöön suomeksi tai englanniksi."),
        ("sv", "Begäran ska vara egenhändigt undertecknad."),
        ("sv", "Begäran görs skriftligen på finska eller engelska."),
        ("en", "The request must be signed."),
        ("en", "Requests must be made in writing in Finnish or English."),
    ],
}


def _outdated(text: str, lang: str = "fi") -> list[ProfileProblem]:
    local = {"fi": text} if lang == "fi" else {"fi": "Evästeet.", lang: text}
    return [p for p in found(lambda b: b["notice"].update(cookies=[local])) if p.kind == "outdated"]


@pytest.mark.parametrize(
    ("family", "lang", "text"), [(family, lang, text) for family, said in OUTDATED.items() for lang, text in said]
)
def test_an_outdated_text_is_flagged_with_its_reason(family: str, lang: str, text: str) -> None:
    result = _outdated(text, lang)
    assert len(result) == 1, result
    assert result[0].loc == ["notice", "cookies", 0, lang]
    assert result[0].message.startswith(f"Outdated: {family}.")
    assert result[0].article


def test_outdated_phrases_are_matched_in_any_case_and_anywhere() -> None:
    result = found(lambda b: b["notice"]["purposes"][0].update(legitimate_interest=None, fi="RATAPIHANTIE 9"))
    assert where(result) == [("outdated", ["notice", "purposes", 0, "fi"], "GDPR Art. 13(2)(d), 77")]


@pytest.mark.parametrize(
    "text",
    [
        "Asetamme evästeitä vain suostumuksellasi. Voit poistaa evästeet selaimesi asetuksista.",
        "Google Analytics seurannan voit ottaa halutessasi pois käytöstä Chrome-selaimen lisäosalla.",
        "Ainoastaan salassapitositoumuksen allekirjoittaneilla työntekijöillä on pääsy tietoihin.",
        "Pyynnön voi tehdä vapaamuotoisesti; allekirjoitusta ei vaadita.",
        "Käsittely perustuu sopimukseen (tietosuoja-asetuksen 6 artiklan 1 kohdan b alakohta).",
        "Tiedot säilytetään kirjanpitolain (1336/1997) mukaisesti.",
        "Evästeiden avulla voimme tunnistaa selaimesi, joten evästetiedot ovat henkilötietoja.",
        "By using our website you can read about our products.",
        "We answer in Finnish, Swedish or English.",
        "Tietosuojalaki (1050/2018) täydentää tietosuoja-asetusta.",
    ],
)
def test_corrected_texts_are_not_flagged(text: str) -> None:
    assert _outdated(text) == []


def test_an_address_on_the_street_is_not_the_ombudsmans() -> None:
    # Only the notice's texts are read: a controller may well be at Ratapihantie.
    assert found(lambda b: b["controller"].update(street_address="Ratapihantie 11")) == []
