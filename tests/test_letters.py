"""Answer letters: every kind, type, language and format renders, says what the law requires, and escapes input."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

import jinja2
import pytest
from jinja2 import meta, nodes
from markdown_it import MarkdownIt

from app.services import letters
from app.services.letters import LetterContext, format_date, md_block, md_inline, render

LANGUAGES = ("fi", "sv", "en")
KINDS = ("completion", "refusal", "extension", "identity")
FORMATS = ("markdown", "html")
TYPES = ("access", "portability", "rectification", "restriction", "objection", "erasure", "marketing_prohibition")
INJECTION = "<script>alert(1)</script> *bold*"

FINLAND = {
    "country": "FI",
    "name_en": "Office of the Data Protection Ombudsman",
    "name_native": "Tietosuojavaltuutetun toimisto",
    "street_address": "Lintulahdenkuja 4, 00530 Helsinki",
    "postal_address": "PL 800, 00531 Helsinki",
    "phone": "+358 29 566 6700",
    "email": "tietosuoja@om.fi",
    "website": "https://tietosuoja.fi",
}
SWEDEN = {
    "country": "SE",
    "name_en": "Swedish Authority for Privacy Protection",
    "name_native": "Integritetsskyddsmyndigheten",
    "street_address": None,
    "postal_address": "Box 8114, 104 20 Stockholm",
    "phone": None,
    "email": "imy@imy.se",
    "website": "https://www.imy.se",
}
OUTCOMES: dict[str, dict[str, Any]] = {
    "access": {"export": {"kind": "access", "url": "https://rekisteri.example/exports/a1"}, "note": None},
    "portability": {
        "export": {"kind": "portability", "url": "https://rekisteri.example/exports/p1", "formats": ["json", "zip"]}
    },
    "rectification": {"applied": ["email", "city"], "refused": {}},
    "restriction": {
        "restricted_at": "2026-11-20T10:00:00+00:00",
        "ground": "accuracy_contested",
        "contested_fields": ["phone"],
    },
    "objection": {"kind": "direct_marketing"},
    "erasure": {"erased": ["customer", "marketing"], "kept": []},
    "marketing_prohibition": {"channels": ["direct_mail", "electronic"]},
}
# The subject line names the right and its article in each language.
SUBJECTS = {
    "fi": {
        "access": "Tarkastusoikeus (tietosuoja-asetuksen 15 artikla)",
        "portability": "Oikeus siirtää tiedot järjestelmästä toiseen (tietosuoja-asetuksen 20 artikla)",
        "rectification": "Oikeus tietojen oikaisemiseen (tietosuoja-asetuksen 16 artikla)",
        "restriction": "Oikeus käsittelyn rajoittamiseen (tietosuoja-asetuksen 18 artikla)",
        "objection": "Vastustamisoikeus (tietosuoja-asetuksen 21 artikla)",
        "erasure": "Oikeus tietojen poistamiseen (tietosuoja-asetuksen 17 artikla)",
        "marketing_prohibition": "Suoramarkkinointikielto (tietosuoja-asetuksen 21 artiklan 2 ja 3 kohta)",
    },
    "sv": {
        "access": "Rätt till tillgång (artikel 15 i dataskyddsförordningen)",
        "portability": "Rätt till dataportabilitet (artikel 20 i dataskyddsförordningen)",
        "rectification": "Rätt till rättelse (artikel 16 i dataskyddsförordningen)",
        "restriction": "Rätt till begränsning av behandling (artikel 18 i dataskyddsförordningen)",
        "objection": "Rätt att göra invändningar (artikel 21 i dataskyddsförordningen)",
        "erasure": "Rätt till radering (artikel 17 i dataskyddsförordningen)",
        "marketing_prohibition": "Förbud mot direktmarknadsföring (artikel 21.2 och 21.3 i dataskyddsförordningen)",
    },
    "en": {
        "access": "Right of access (Article 15 GDPR)",
        "portability": "Right to data portability (Article 20 GDPR)",
        "rectification": "Right to rectification (Article 16 GDPR)",
        "restriction": "Right to restriction of processing (Article 18 GDPR)",
        "objection": "Right to object (Article 21 GDPR)",
        "erasure": "Right to erasure (Article 17 GDPR)",
        "marketing_prohibition": "Prohibition of direct marketing (Article 21(2) and (3) GDPR)",
    },
}
BUSINESS_ID_LABEL = {"fi": "Y-tunnus 2477816-7", "sv": "FO-nummer 2477816-7", "en": "Business ID 2477816-7"}
COURT = {"fi": "käräjäoikeudessa", "sv": "tingsrätten", "en": "district court"}
REMEDY_HEADING = {
    "fi": "## Oikeus tehdä valitus ja nostaa kanne",
    "sv": "## Rätt att lämna in klagomål och att väcka talan",
    "en": "## Your right to complain and to go to court",
}
RECEIVED = {"fi": "3.11.2026", "sv": "3.11.2026", "en": "3 November 2026"}


def make_context(kind: str = "completion", language: str = "fi", type: str = "access", **changes: Any) -> LetterContext:
    """A complete letter context; keyword arguments replace fields."""
    values: dict[str, Any] = {
        "kind": kind,
        "language": language,
        "controller": {
            "name": "Esimerkki Oy",
            "business_id": "2477816-7",
            "street_address": "Esimerkkikatu 1",
            "postal_code": "00100",
            "city": "Helsinki",
            "phone": "+358 9 123 4567",
            "email": "tietosuoja@esimerkki.fi",
            "website": "https://esimerkki.fi",
            "contact_person": {"name": "Liisa Lakimies", "title": None, "phone": "+358 40 765 4321", "email": None},
        },
        "request": {
            "id": "7d1c2b9e-5f7a-4c1e-9d3b-2a6f0e8c4b21",
            "type": type,
            "received_on": dt.date(2026, 11, 3),
            "due_date": dt.date(2027, 2, 3),
            "original_due_date": dt.date(2026, 12, 3),
            "extension_months": 2,
            "extension_reason": "The request covers several systems.",
            "closed_on": None,
            "identity_reason": "The request came from an e-mail address that is not in the register.",
            "params": {},
        },
        "today": dt.date(2026, 11, 22),
        "person_name": "Maija Meikäläinen",
        "person_address": ["Kotikatu 2 B 5", "00200 Helsinki"],
        "outcome": OUTCOMES[type] if kind == "completion" else {},
        "refusal_reasons": "The request is manifestly unfounded." if kind == "refusal" else None,
        "authorities": [FINLAND, SWEDEN],
        "recipients": ["Verkkokauppa Oy"],
    }
    values.update(changes)
    return LetterContext(**values)


def visible_text(page: str) -> str:
    """The text a reader sees in an HTML page: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


class TestEveryLetterRenders:
    @pytest.mark.parametrize("fmt", FORMATS)
    @pytest.mark.parametrize("language", LANGUAGES)
    @pytest.mark.parametrize("kind", KINDS)
    def test_kind_language_format(self, kind: str, language: str, fmt: str) -> None:
        text = render(make_context(kind, language), fmt)  # type: ignore[arg-type]
        shown = visible_text(text) if fmt == "html" else text
        assert SUBJECTS[language]["access"] in shown
        assert RECEIVED[language] in shown
        assert "Esimerkki Oy" in shown
        assert BUSINESS_ID_LABEL[language] in shown
        assert "Esimerkkikatu 1" in shown
        assert "Maija Meikäläinen" in shown
        assert "Kotikatu 2 B 5" in shown
        assert "7d1c2b9e-5f7a-4c1e-9d3b-2a6f0e8c4b21" in shown
        assert "Liisa Lakimies" in shown
        assert "+358 40 765 4321" in shown
        assert "tietosuoja@esimerkki.fi" in shown
        assert "{{" not in text
        assert "None" not in shown

    @pytest.mark.parametrize("language", LANGUAGES)
    @pytest.mark.parametrize("request_type", TYPES)
    def test_every_completion_type(self, request_type: str, language: str) -> None:
        context = make_context("completion", language, request_type)
        markdown = render(context, "markdown")
        page = render(context, "html")
        assert f"# {SUBJECTS[language][request_type]}" in markdown
        assert SUBJECTS[language][request_type] in visible_text(page)
        assert f'<html lang="{language}">' in page

    @pytest.mark.parametrize("language", LANGUAGES)
    def test_date_is_written_per_language(self, language: str) -> None:
        markdown = render(make_context(language=language), "markdown")
        expected = {"fi": "22.11.2026", "sv": "22.11.2026", "en": "22 November 2026"}[language]
        assert re.search(rf"^{re.escape(expected)}\\$", markdown, re.MULTILINE)

    def test_without_name_or_address_the_letter_still_greets(self) -> None:
        markdown = render(make_context(language="en", person_name=None, person_address=[]), "markdown")
        assert "Dear Sir or Madam," in markdown

    def test_closing_falls_back_to_the_controllers_contact_details(self) -> None:
        controller = {"name": "Pieni Oy", "business_id": None, "phone": "+358 9 555 0000", "email": "info@pieni.fi"}
        markdown = render(make_context(language="fi", controller=controller), "markdown")
        assert "Puhelin: +358 9 555 0000" in markdown
        assert "Sähköposti: info@pieni.fi" in markdown
        assert "Y-tunnus" not in markdown


class TestRefusal:
    @pytest.mark.parametrize("fmt", FORMATS)
    @pytest.mark.parametrize("language", LANGUAGES)
    def test_names_every_authority_and_the_court(self, language: str, fmt: str) -> None:
        text = render(make_context("refusal", language), fmt)  # type: ignore[arg-type]
        shown = visible_text(text) if fmt == "html" else text
        assert "The request is manifestly unfounded." in shown
        for authority in (FINLAND, SWEDEN):
            assert f"{authority['name_native']} ({authority['name_en']})" in shown
            assert str(authority["email"]) in shown
            assert str(authority["website"]) in shown
        assert "Lintulahdenkuja 4, 00530 Helsinki" in shown
        assert "PL 800, 00531 Helsinki" in shown
        assert "+358 29 566 6700" in shown
        assert "77" in shown
        assert "79" in shown
        assert COURT[language] in shown
        assert "None" not in shown

    def test_the_same_name_in_both_languages_is_given_once(self) -> None:
        ireland = {"name_en": "Data Protection Commission", "name_native": "Data Protection Commission"}
        markdown = render(make_context("refusal", "en", authorities=[ireland]), "markdown")
        assert "- Data Protection Commission\n" in markdown
        assert "(Data Protection Commission)" not in markdown

    def test_reasons_keep_their_line_breaks(self) -> None:
        reasons = "First line\nsecond line\n\nA new paragraph"
        page = render(make_context("refusal", "en", refusal_reasons=reasons), "html")
        assert "<p>First line<br>\nsecond line</p>\n<p>A new paragraph</p>" in page

    def test_without_reasons_it_is_not_written(self) -> None:
        with pytest.raises(ValueError, match="refusal_reasons"):
            render(make_context("refusal", "fi", refusal_reasons="  "), "markdown")


class TestEscaping:
    @pytest.mark.parametrize("language", LANGUAGES)
    def test_injected_reason_is_shown_not_run(self, language: str) -> None:
        page = render(make_context("refusal", language, refusal_reasons=INJECTION), "html")
        assert "<script" not in page
        assert "<em>" not in page
        assert "<strong>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt; *bold*" in page

    def test_every_field_from_people_is_escaped(self) -> None:
        outcome = {
            "erased": ["customer"],
            "kept": [{"category": "orders", "fields": ["email"], "reason": "open_invoice", "detail": INJECTION}],
            "note": INJECTION,
        }
        controller = {"name": INJECTION, "business_id": "2477816-7", "street_address": "# 1. *a*"}
        context = make_context(
            "completion",
            "en",
            "erasure",
            outcome=outcome,
            controller=controller,
            person_name=INJECTION,
            person_address=["> quoted", "- listed", "1) numbered"],
            recipients=[INJECTION],
        )
        page = render(context, "html")
        for tag in ("<script", "<em>", "<strong>", "<blockquote>", "<ol>"):
            assert tag not in page
        assert page.count("<h1>") == 1
        assert page.count("<h2>") == 1  # the remedies, not the street address
        # Sender and signature, address and greeting, the kept detail, the note, the recipient.
        assert visible_text(page).count(INJECTION) == 7
        assert "&gt; quoted" in page
        assert "# 1. *a*" in visible_text(page)

    @pytest.mark.parametrize(
        "text",
        [
            "*x* _y_ **z** __w__",
            "# heading",
            "1. item",
            "2) item",
            "- item",
            "+ item",
            "> quote",
            "`code` and ``more``",
            "[link](https://example.com) ![image](https://example.com/a.png)",
            "<b>bold</b> <https://example.com> &amp; &#35;",
            "back\\slash \\* escaped",
            "---",
            "===",
            "~~struck~~ | table |",
            "a_b_c snake_case_name",
        ],
    )
    def test_markdown_shows_user_text_literally(self, text: str) -> None:
        parser = MarkdownIt("commonmark", {"html": False})
        expected = html.escape(text, quote=False)
        assert parser.render(md_inline(text)) == f"<p>{expected}</p>\n"
        assert parser.render(md_block(text)) == f"<p>{expected}</p>\n"

    def test_block_text_keeps_lines_and_paragraphs(self) -> None:
        parser = MarkdownIt("commonmark", {"html": False})
        rendered = parser.render(md_block("one\r\n    two\n\n\nthree"))
        assert rendered == "<p>one<br />\ntwo</p>\n<p>three</p>\n"

    def test_inline_text_is_one_line(self) -> None:
        assert md_inline("Matti\nMeikäläinen  ") == "Matti Meikäläinen"
        assert md_inline(None) == ""


class TestHtmlPage:
    @pytest.mark.parametrize("language", LANGUAGES)
    def test_is_a_complete_self_contained_page(self, language: str) -> None:
        page = render(make_context("completion", language, "access"), "html")
        assert page.startswith("<!DOCTYPE html>\n")
        assert f'<html lang="{language}">' in page
        assert '<meta charset="utf-8">' in page
        assert f"<title>{SUBJECTS[language]['access']}" in page
        assert page.rstrip().endswith("</html>")
        for external in ("<script", "<link", " src=", "@import", "url("):
            assert external not in page
        assert '<a href="https://rekisteri.example/exports/a1">' in page

    def test_title_is_plain_escaped_text(self) -> None:
        page = render(make_context("completion", "en", "access"), "html")
        title = re.search(r"<title>(.*)</title>", page)
        assert title is not None
        assert title.group(1) == "Right of access (Article 15 GDPR), request received on 3 November 2026"


class TestCompletion:
    @pytest.mark.parametrize("language", LANGUAGES)
    def test_erasure_lists_kept_items_with_reasons(self, language: str) -> None:
        outcome = {
            "erased": ["customer", "marketing"],
            "kept": [
                {
                    "category": "orders",
                    "fields": ["first_name", "last_name", "street_address"],
                    "reason": "accounting",
                    "detail": "Invoice 2024-118",
                    "until": "2031-12-31",
                },
                {"category": "invoices", "fields": ["email"], "reason": "open_invoice", "detail": "", "until": None},
                {"category": "contact", "fields": ["phone"], "reason": "business_contact", "detail": "", "until": None},
            ],
        }
        markdown = render(make_context("completion", language, "erasure", outcome=outcome), "markdown")
        expected = {
            "fi": [
                "tilaustiedot: etunimi, sukunimi, katuosoite",
                "kirjanpitolain (1336/1997)",
                "17 artiklan 3 kohdan b alakohta",
                "Säilytetään 31.12.2031 asti",
                "avoin tai perinnässä oleva lasku",
                "17 artiklan 3 kohdan e alakohta",
                "yritysasiakkaan yhteyshenkilön tiedot",
                "kaikki muu käyttö on estetty",
            ],
            "sv": [
                "beställningsuppgifter: förnamn, efternamn, gatuadress",
                "bokföringslagen (1336/1997)",
                "artikel 17.3 b",
                "Sparas till och med 31.12.2031",
                "indrivning",
                "artikel 17.3 e",
                "kontaktperson hos en företagskund",
                "spärrats för all annan användning",
            ],
            "en": [
                "orders: first name, last name, street address",
                "Finnish Accounting Act (1336/1997)",
                "Article 17(3)(b)",
                "Kept until 31 December 2031",
                "debt collection",
                "Article 17(3)(e)",
                "business contact",
                "blocked from any other use",
            ],
        }[language]
        for phrase in expected:
            assert phrase in markdown
        # The detail is the English text the service writes; the Finnish and Swedish letters give the reason only.
        assert ("Invoice 2024-118" in markdown) is (language == "en")
        assert REMEDY_HEADING[language] in markdown
        assert COURT[language] in markdown
        assert "Verkkokauppa Oy" in markdown

    @pytest.mark.parametrize("language", LANGUAGES)
    def test_erasure_takes_categories_as_records_too(self, language: str) -> None:
        outcome = {
            "erased": [
                {"category": "customer", "fields": ["email", "phone"]},
                {"category": "orders", "count": 3},
                {"category": "audit_values"},
            ],
            "kept": [
                {
                    "category": "orders",
                    "fields": ["order_date", "total"],
                    "reason": "open_invoice",
                    "detail": "1 open invoice",
                    "until": None,
                    "count": 1,
                }
            ],
        }
        markdown = render(make_context("completion", language, "erasure", outcome=outcome), "markdown")
        expected = {
            "fi": [
                "- asiakastiedot: sähköpostiosoite, puhelinnumero",
                "- tilaustiedot (3)",
                "- tilaustiedot (1): tilauspäivä, loppusumma",
            ],
            "sv": [
                "- kunduppgifter: e-postadress, telefonnummer",
                "- beställningsuppgifter (3)",
                "- beställningsuppgifter (1): beställningsdatum, totalbelopp",
            ],
            "en": [
                "- customer details: e-mail address, phone number",
                "- orders (3)",
                "- orders (1): order date, total",
            ],
        }[language]
        for line in expected:
            assert line in markdown
        assert {"fi": "tapahtumalokiin", "sv": "händelselogg", "en": "audit log"}[language] in markdown

    @pytest.mark.parametrize("language", LANGUAGES)
    def test_full_erasure_needs_no_remedies(self, language: str) -> None:
        markdown = render(make_context("completion", language, "erasure"), "markdown")
        assert REMEDY_HEADING[language] not in markdown

    @pytest.mark.parametrize("language", LANGUAGES)
    def test_refused_rectification_gives_reasons_and_remedies(self, language: str) -> None:
        outcome = {"applied": ["email"], "refused": {"last_name": "Matches the population register.", "x_field": "No."}}
        markdown = render(make_context("completion", language, "rectification", outcome=outcome), "markdown")
        label = {"fi": "sukunimi", "sv": "efternamn", "en": "last name"}[language]
        assert f"- {label}: Matches the population register." in markdown
        assert "- x\\_field: No." in markdown
        assert REMEDY_HEADING[language] in markdown

    @pytest.mark.parametrize("language", LANGUAGES)
    def test_rectification_done_in_full_has_no_remedies(self, language: str) -> None:
        markdown = render(make_context("completion", language, "rectification"), "markdown")
        assert REMEDY_HEADING[language] not in markdown
        assert {"fi": "- sähköpostiosoite", "sv": "- e-postadress", "en": "- e-mail address"}[language] in markdown

    @pytest.mark.parametrize("language", LANGUAGES)
    @pytest.mark.parametrize("request_type", ["rectification", "erasure", "restriction"])
    def test_recipients_told_or_none(self, request_type: str, language: str) -> None:
        told = render(make_context("completion", language, request_type), "markdown")
        assert "- Verkkokauppa Oy" in told
        assert {"fi": "19 artikla", "sv": "artikel 19", "en": "Article 19"}[language] in told
        nobody = render(make_context("completion", language, request_type, recipients=[]), "markdown")
        assert {"fi": "ei ole ollut tarpeen", "sv": "inte funnits någon", "en": "no one to inform"}[language] in nobody

    @pytest.mark.parametrize("language", LANGUAGES)
    @pytest.mark.parametrize("request_type", ["access", "rectification", "erasure", "restriction"])
    def test_who_received_the_data_with_dates_then_the_other_recipients(self, request_type: str, language: str) -> None:
        """GDPR Art. 15(1)(c), 19 and CJEU C-154/21: the recipients the data went to by name, with the first and
        latest disclosure, before the others the profile names; never "disclosed to no one" then."""
        disclosed = [
            {"recipient": "crm", "name": "CRM Oy", "category": "Käsittelijä", "first_date": "2026-03-01",
             "last_date": "2026-06-15"},
            {"recipient": "kassa", "name": "Kassa Oy", "category": None, "first_date": "2026-05-02",
             "last_date": "2026-05-02"},
        ]  # fmt: skip
        others = ["Tilitoimisto Oy (Käsittelijä)", "Viranomaiset"]
        markdown = render(
            make_context(
                "completion", language, request_type, recipients=[], disclosed=disclosed, named_recipients=others
            ),
            "markdown",
        )
        span = {"en": "1 March 2026 \N{EN DASH} 15 June 2026"}.get(language, "1.3.2026 \N{EN DASH} 15.6.2026")
        assert f"- CRM Oy (Käsittelijä): {span}\n" in markdown
        assert f"- Kassa Oy: {'2 May 2026' if language == 'en' else '2.5.2026'}\n" in markdown
        assert markdown.index("CRM Oy") < markdown.index("- Tilitoimisto Oy") < markdown.index("- Viranomaiset")
        nobody = {"fi": "ei ole luovutettu", "sv": "inte lämnats ut", "en": "not been disclosed"}[language]
        assert nobody not in markdown
        article = {"fi": "15 artiklan 1 kohdan c", "sv": "artikel 15.1 c", "en": "Article 15(1)(c)"}[language]
        assert (article in markdown) is (request_type == "access")

    @pytest.mark.parametrize("language", LANGUAGES)
    def test_an_access_letter_says_when_the_data_went_to_no_one(self, language: str) -> None:
        markdown = render(make_context("completion", language, "access", recipients=[]), "markdown")
        assert {"fi": "ei ole luovutettu", "sv": "inte lämnats ut", "en": "not been disclosed"}[language] in markdown
        # Nothing held, nothing disclosed: the letter says only that nothing is held.
        nothing = render(make_context("completion", language, "access", outcome={"found": False}), "markdown")
        assert {"fi": "ei ole luovutettu", "sv": "inte lämnats ut", "en": "not been disclosed"}[language] not in nothing

    @pytest.mark.parametrize("language", LANGUAGES)
    def test_restriction_says_stored_only_and_told_before_lifting(self, language: str) -> None:
        markdown = render(make_context("completion", language, "restriction"), "markdown")
        assert {"fi": "ainoastaan säilytetään", "sv": "lagras dina uppgifter endast", "en": "only stored"}[
            language
        ] in markdown
        assert {"fi": "18 artiklan 3 kohta", "sv": "artikel 18.3", "en": "Article 18(3)"}[language] in markdown
        assert {"fi": "20.11.2026", "sv": "20.11.2026", "en": "20 November 2026"}[language] in markdown

    @pytest.mark.parametrize("language", LANGUAGES)
    def test_objections(self, language: str) -> None:
        marketing = render(make_context("completion", language, "objection"), "markdown")
        assert {"fi": "21 artiklan 3 kohta", "sv": "artikel 21.3", "en": "Article 21(3)"}[language] in marketing
        # Upheld (Art. 21(1)): the data was erased (Art. 17(1)(c)) but what a hold keeps, and the letter says which.
        upheld = {
            "kind": "particular_situation",
            "upheld": True,
            "ground": "objection",
            "erased": [{"category": "customer", "fields": ["email"]}],
            "kept": [{"category": "orders", "reason": "accounting", "until": "2031-12-31", "count": 1}],
        }
        stopped = render(make_context("completion", language, "objection", outcome=upheld), "markdown")
        assert {"fi": "17 artiklan 1 kohdan c", "sv": "artikel 17.1 c", "en": "Article 17(1)(c)"}[language] in stopped
        assert {"fi": "kirjanpitolain", "sv": "bokföringslag", "en": "Accounting Act"}[language] in stopped
        assert REMEDY_HEADING[language] not in stopped
        rejected = {"kind": "particular_situation", "upheld": False}
        continues = render(make_context("completion", language, "objection", outcome=rejected), "markdown")
        assert REMEDY_HEADING[language] in continues

    @pytest.mark.parametrize("language", LANGUAGES)
    def test_marketing_prohibition_channels(self, language: str) -> None:
        some = render(make_context("completion", language, "marketing_prohibition"), "markdown")
        assert {
            "fi": "- osoitteellinen suoramainonta",
            "sv": "- adresserad direktreklam",
            "en": "- addressed direct mail",
        }[language] in some
        every = render(
            make_context("completion", language, "marketing_prohibition", outcome={"channels": []}), "markdown"
        )
        assert {"fi": "kaikkia kanavia", "sv": "alla kanaler", "en": "every channel"}[language] in every

    @pytest.mark.parametrize("language", LANGUAGES)
    def test_access_and_portability_are_free_and_linked(self, language: str) -> None:
        access = render(make_context("completion", language, "access"), "markdown")
        assert "<https://rekisteri.example/exports/a1>" in access
        assert {"fi": "15 artiklan 1 ja 2 kohdassa", "sv": "artikel 15.1 och 15.2", "en": "Article 15(1) and (2)"}[
            language
        ] in access
        assert {"fi": "maksuton", "sv": "avgiftsfri", "en": "free of charge"}[language] in access
        portability = render(make_context("completion", language, "portability"), "markdown")
        assert "JSON, ZIP" in portability
        assert {"fi": "koneellisesti luettavassa", "sv": "maskinläsbart", "en": "machine-readable"}[
            language
        ] in portability

    def test_note_is_included(self) -> None:
        outcome = {**OUTCOMES["access"], "note": "Orders before 2019 were\nalready erased."}
        markdown = render(make_context("completion", "en", "access", outcome=outcome), "markdown")
        assert "Orders before 2019 were\\\nalready erased." in markdown


class TestExtensionAndIdentity:
    @pytest.mark.parametrize("language", LANGUAGES)
    def test_extension_shows_both_dates_months_and_reasons(self, language: str) -> None:
        markdown = render(make_context("extension", language), "markdown")
        original, new = {"fi": ("3.12.2026", "3.2.2027"), "sv": ("3.12.2026", "3.2.2027")}.get(
            language, ("3 December 2026", "3 February 2027")
        )
        assert original in markdown
        assert new in markdown
        assert {"fi": "kahdella kuukaudella", "sv": "två månader", "en": "two months"}[language] in markdown
        assert {"fi": "12 artiklan 3 kohdan", "sv": "artikel 12.3", "en": "Article 12(3)"}[language] in markdown
        assert "The request covers several systems." in markdown
        assert {"fi": "nostaa kanteen", "sv": "väcka talan", "en": "bring proceedings"}[language] in markdown

    @pytest.mark.parametrize("language", LANGUAGES)
    def test_identity_says_why_and_that_the_clock_stops(self, language: str) -> None:
        markdown = render(make_context("identity", language), "markdown")
        assert "not in the register." in markdown
        assert {"fi": "12 artiklan 6 kohta", "sv": "artikel 12.6", "en": "Article 12(6)"}[language] in markdown
        assert {"fi": "ei kulu", "sv": "löper inte", "en": "does not run"}[language] in markdown
        assert {"fi": "3.2.2027", "sv": "3.2.2027", "en": "3 February 2027"}[language] in markdown


class TestTemplates:
    def test_templates_use_only_the_context(self) -> None:
        env = letters._environment()
        assert env.loader is not None
        for language in LANGUAGES:
            tree = env.parse(env.loader.get_source(env, f"{language}.md.j2")[0])
            # Names a template sets inside a branch count as undeclared to Jinja; they are its own, not typos.
            targets = [assign.target for assign in tree.find_all(nodes.Assign)]
            assigned = {name.name for target in targets for name in [target, *target.find_all(nodes.Name)]}
            assert meta.find_undeclared_variables(tree) - assigned <= letters.TEMPLATE_VARIABLES, language
        tree = env.parse(env.loader.get_source(env, "page.html.j2")[0])
        assert meta.find_undeclared_variables(tree) == {"language", "title", "body"}

    def test_an_undefined_name_raises(self) -> None:
        with pytest.raises(jinja2.UndefinedError):
            letters._environment().from_string("{{ not_given }}").render()

    def test_a_missing_request_key_raises(self) -> None:
        context = make_context()
        request = {key: value for key, value in context.request.items() if key != "received_on"}
        with pytest.raises(jinja2.UndefinedError):
            render(make_context(request=request), "markdown")

    def test_an_unknown_request_type_raises(self) -> None:
        with pytest.raises(jinja2.UndefinedError):
            render(make_context("refusal", request={**make_context().request, "type": "telepathy"}), "markdown")


class TestDates:
    @pytest.mark.parametrize(
        ("value", "language", "expected"),
        [
            (dt.date(2026, 11, 22), "fi", "22.11.2026"),
            (dt.date(2026, 1, 5), "sv", "5.1.2026"),
            (dt.date(2026, 11, 22), "en", "22 November 2026"),
            ("2026-03-01", "en", "1 March 2026"),
            # 23:30 UTC on 20 November is already 21 November in Finland.
            ("2026-11-20T23:30:00+00:00", "fi", "21.11.2026"),
            (dt.datetime(2026, 6, 1, 12, 0), "fi", "1.6.2026"),
        ],
    )
    def test_format(self, value: dt.date | str, language: str, expected: str) -> None:
        assert format_date(value, language) == expected
