"""The privacy notice's text: the sections of one published version in one language, built from the profile.

The sections are those the Finnish notices have (the seeds in examples/), filled from the profile in the asked
language (Finnish where a text has no translation, and marked so), and two the service writes itself because
they must state current law: the rights and the complaint authority.
"""

from __future__ import annotations

import dataclasses
import functools
import gettext
import tomllib
from collections.abc import Sequence
from importlib.resources import files
from typing import Any

import phonenumbers
import pycountry

from app.models.notices import NoticeBlock, NoticeDocument, NoticeLanguage, NoticeSection, NoticeText, PrivacyNotice
from app.models.profile import ControllerProfile, ProfileContent
from app.models.profile_base import LocalText
from app.services import authorities

SCHEMA = "rekisteri.privacy-notice/1"
AUTHORITIES_PATH = "/v1/complaint-authorities"
EDPB_MEMBERS = "https://www.edpb.europa.eu/about-edpb/about-edpb/members_en"
RIGHTS = (
    "access",
    "rectification",
    "erasure",
    "restriction",
    "portability",
    "objection",
    "prohibition",
    "marketing",
    "consent",
)


@functools.cache
def texts(lang: str) -> dict[str, Any]:
    """The notice's own words in `lang` (app/data/notice/texts.toml)."""
    document = tomllib.loads((files("app") / "data" / "notice" / "texts.toml").read_text(encoding="utf-8"))
    return document[lang]  # type: ignore[no-any-return]


def _text(value: LocalText | str | None, lang: NoticeLanguage) -> NoticeText | None:
    if value is None:
        return None
    if isinstance(value, str):
        return NoticeText(text=value, lang=lang)
    own = getattr(value, lang.value, None)
    return NoticeText(text=own, lang=lang) if own else NoticeText(text=value.fi, lang=NoticeLanguage.fi)


def _texts(values: Sequence[LocalText], lang: NoticeLanguage) -> list[NoticeText]:
    return [t for t in (_text(v, lang) for v in values) if t is not None]


def _paragraphs(values: list[LocalText | str | None], lang: NoticeLanguage) -> list[NoticeBlock]:
    return [NoticeBlock(kind="paragraph", texts=[t]) for t in (_text(v, lang) for v in values) if t is not None]


def _list(values: list[NoticeText]) -> NoticeBlock:
    return NoticeBlock(kind="list", texts=values)


def _lines(values: list[str | None], lang: NoticeLanguage) -> NoticeBlock:
    return NoticeBlock(kind="lines", texts=[NoticeText(text=v, lang=lang) for v in values if v])


def _labelled(words: dict[str, Any], label: str, value: str | None) -> str | None:
    return f"{words[label]}: {value}" if value else None


def phone_text(number: str | None) -> str | None:
    """A stored E.164 number as people write it: +358 40 5385522."""
    if not number:
        return None
    try:
        parsed = phonenumbers.parse(number)
    except phonenumbers.NumberParseException:
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _address(street: str | None, postal_code: str | None, city: str | None) -> str | None:
    place = " ".join(p for p in (postal_code, city) if p)
    return ", ".join(p for p in (street, place) if p) or None


def _authority_lines(lang: NoticeLanguage) -> list[str | None]:
    words, ombudsman = texts(lang.value), authorities.finland()
    return [
        ombudsman.name_native if lang is not NoticeLanguage.en else ombudsman.name_en,
        _labelled(words, "address", ombudsman.street_address),
        ombudsman.postal_address,
        _labelled(words, "phone", ombudsman.phone),
        _labelled(words, "email", ombudsman.email),
        _labelled(words, "website", ombudsman.website),
    ]


def _translated(fi: str, sv: str | None, en: str | None, lang: NoticeLanguage) -> NoticeText:
    own = {NoticeLanguage.sv: sv, NoticeLanguage.en: en}.get(lang)
    return NoticeText(text=own, lang=lang) if own else NoticeText(text=fi, lang=NoticeLanguage.fi)


# --- wording others reuse: the access answer, the letters and the record of processing ---------------------


@functools.cache
def _country_names(lang: str) -> gettext.NullTranslations:
    if lang == "en":
        return gettext.NullTranslations()
    return gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[lang], fallback=True)


def country_name(code: str, lang: str) -> str:
    """The country's name in `lang` (ISO 3166-1 names, as pycountry translates them), e.g. Yhdysvallat."""
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return code
    if lang == "en":
        return str(getattr(country, "common_name", None) or country.name)
    return _country_names(lang).gettext(country.name)


DASH = "\N{EN DASH}"


def _clause(text: str) -> str:
    """A text as a part of a longer line: without its closing full stop."""
    return text.strip().removesuffix(".")


def bases(profile: ProfileContent, lang: str) -> list[str]:
    """Each purpose with its legal basis in words, one line a purpose (Art. 13(1)(c)): the Art. 6(1) point, for
    (f) the legitimate interest pursued (Art. 13(1)(d)), for (c) and (e) the law that lays it down (Art. 6(3)).
    A purpose whose basis is not stated says so."""
    words = texts(lang)
    lines = []
    for purpose in profile.notice.purposes:
        basis = words["bases"][purpose.basis] if purpose.basis else words["basis_not_stated"]
        parts = [f"{_clause(purpose.get(lang))} {DASH} {_clause(basis)}"]
        if purpose.legitimate_interest is not None:
            parts.append(f"{words['interest']}: {_clause(purpose.legitimate_interest.get(lang))}")
        if purpose.law is not None:
            parts.append(f"{words['law']}: {_clause(purpose.law.get(lang))}")
        lines.append(". ".join(parts) + ".")
    return lines


def recipient_lines(profile: ProfileContent, lang: str) -> list[str]:
    """Each recipient of the profile's register, one line each (Art. 13(1)(e), 15(1)(c), 30(1)(d)): its name
    (CJEU C-154/21: the identity, where known), its category, what it receives, why, and its country."""
    words = texts(lang)
    lines = []
    for recipient in profile.recipients:
        parts = [f"{recipient.name} {DASH} {_clause(words['recipient_categories'][recipient.category])}"]
        if recipient.data:
            parts.append(f"{words['receives']}: " + ", ".join(_clause(d.get(lang)) for d in recipient.data))
        if recipient.purpose is not None:
            parts.append(f"{words['purpose']}: {_clause(recipient.purpose.get(lang))}")
        parts.append(f"{words['country']}: {country_name(recipient.country, lang)}")
        lines.append(". ".join(parts) + ".")
    return lines


def transfer_lines(profile: ProfileContent, lang: str) -> list[str]:
    """Each recipient of the register outside the EU/EEA, with the safeguard of the transfer and where to read
    it (Art. 13(1)(f), 15(2), 30(1)(e); Chapter V)."""
    words = texts(lang)
    lines = []
    for recipient in (r for r in profile.recipients if r.outside_eea):
        transfer = recipient.transfer
        head = f"{recipient.name} ({country_name(recipient.country, lang)})"
        if transfer is None:
            lines.append(f"{head} {DASH} {words['mechanism_not_stated']}")
            continue
        parts = [f"{head} {DASH} {_clause(words['mechanisms'][transfer.mechanism])}"]
        if transfer.details is not None:
            parts.append(_clause(transfer.details.get(lang)))
        parts.append(f"{words['safeguard_link']}: {transfer.link}")
        lines.append(". ".join(parts))
    return lines


def dpo_lines(profile: ProfileContent, lang: str) -> list[str]:
    """The data protection officer's contact (Art. 13(1)(b), 37(7)), or that none is appointed; nothing where the
    profile does not say."""
    words, dpo = texts(lang), profile.dpo
    if dpo is None:
        return []
    if not dpo.appointed:
        return [words["no_dpo"]]
    found = [
        dpo.name,
        _labelled(words, "email", dpo.email),
        _labelled(words, "phone", phone_text(dpo.phone)),
        _labelled(words, "address", dpo.address),
    ]
    return [line for line in found if line]


@dataclasses.dataclass(frozen=True)
class _Page:
    """The language a notice is built in, with its standard wording."""

    lang: NoticeLanguage
    words: dict[str, Any]

    def own(self, text: str) -> list[NoticeBlock]:
        return [NoticeBlock(kind="paragraph", texts=[NoticeText(text=text, lang=self.lang)])]

    def not_stated(self) -> list[NoticeBlock]:
        return self.own(self.words["not_stated"])

    def subsection(self, title: str, value: LocalText | None) -> NoticeBlock:
        return NoticeBlock(kind="subsection", title=title, blocks=_paragraphs([value], self.lang))

    def listed(self, values: Sequence[LocalText]) -> list[NoticeBlock]:
        texts = _texts(values, self.lang)
        return [_list(texts)] if texts else []


def _who(page: _Page, profile: ControllerProfile) -> dict[str, list[NoticeBlock]]:
    """Art. 13(1)(a)-(b): who the controller is and whom to contact; the register's name."""
    words, lang = page.words, page.lang
    who, contact, register = profile.controller, profile.contact_person, profile.register_
    address = _address(who.street_address, who.postal_code, who.city)
    sections: dict[str, list[NoticeBlock]] = {}
    if profile.notice.introduction:
        sections["introduction"] = _paragraphs(list(profile.notice.introduction), lang)
    lines = [
        who.name,
        _labelled(words, "business_id", who.business_id),
        _labelled(words, "address", address),
        _labelled(words, "phone", phone_text(who.phone)),
        _labelled(words, "email", who.email),
        _labelled(words, "website", who.website),
    ]
    sections["controller"] = [_lines(lines, lang)]
    if contact is not None and (contact.name or contact.phone or contact.email):
        title = _translated(contact.title, contact.title_sv, contact.title_en, lang).text if contact.title else None
        name = ", ".join(p for p in (contact.name, title) if p) or None
        lines = [name, _labelled(words, "phone", phone_text(contact.phone)), _labelled(words, "email", contact.email)]
        sections["contact_person"] = [_lines(lines, lang)]
    # Art. 13(1)(b): the officer's contact, or that none is appointed; a profile that says neither, not stated.
    officer = dpo_lines(profile, lang.value)
    if profile.dpo is not None and profile.dpo.appointed:
        sections["dpo"] = [_lines([*officer], lang)]
    else:
        sections["dpo"] = page.own(officer[0]) if officer else page.not_stated()
    register_name = _translated(register.name, register.name_sv, register.name_en, lang)
    sections["register"] = [NoticeBlock(kind="lines", texts=[register_name])]
    return sections


def _own_list(lines: list[str], lang: NoticeLanguage) -> list[NoticeText]:
    return [NoticeText(text=line, lang=lang) for line in lines]


def _processing(page: _Page, profile: ControllerProfile) -> dict[str, list[NoticeBlock]]:
    """Art. 13(1)(c)-(d), (2)(e), 14(1)(d), 14(2)(f): why, on what basis, whether it must be given, what, whose,
    from where."""
    body, lang = profile.notice, page.lang
    sections: dict[str, list[NoticeBlock]] = {}
    sections["purposes"] = page.listed(body.purposes) or page.not_stated()
    # Each purpose with its basis; the profile's own words on the basis follow, as an addition.
    stated = [_list(_own_list(bases(profile, lang.value), lang))] if body.purposes else []
    stated += _paragraphs([body.legal_basis], lang)
    sections["legal_basis"] = stated or page.not_stated()
    sections["provision_requirement"] = _paragraphs([body.provision_requirement], lang) or page.not_stated()
    optional = {"legitimate_interest": body.legitimate_interest, "consent": body.consent}
    sections |= {key: _paragraphs([value], lang) for key, value in optional.items() if value is not None}
    lists = {"data_subjects": body.data_subjects, "data_groups": body.data_groups}
    sections |= {key: page.listed(values) for key, values in lists.items() if values}
    sections["data_categories"] = page.listed(body.data_categories) or page.not_stated()
    if body.sources:
        sections["sources"] = page.listed(body.sources)
    return sections


def _disclosure(page: _Page, profile: ControllerProfile) -> dict[str, list[NoticeBlock]]:
    """Art. 13(1)(e)-(f), (2)(a), (2)(f): to whom, outside the EU/EEA on what safeguard, how long, how kept."""
    body, words, lang = profile.notice, page.words, page.lang
    sections: dict[str, list[NoticeBlock]] = {}
    named = _own_list(recipient_lines(profile, lang.value), lang)
    named += _texts([*body.recipient_categories, *body.recipients], lang)
    sections["recipients"] = [_list(named)] if named else page.not_stated()
    if body.disclosures:
        sections["disclosures"] = page.listed(body.disclosures)
    transfers = _own_list(transfer_lines(profile, lang.value), lang)
    sections["transfers"] = ([_list(transfers)] if transfers else []) + _paragraphs([body.transfers], lang)
    if body.transfer_safeguards is not None:
        sections["transfers"].append(page.subsection(words["safeguards"], body.transfer_safeguards))
    sections["transfers"] = sections["transfers"] or page.own(words["no_transfers"])
    retention = [page.subsection(r.category.get(lang.value), r.period) for r in body.retention]
    sections["retention"] = retention or page.not_stated()
    if body.security is not None:
        parts = [("security_manual", body.security.manual), ("security_electronic", body.security.electronic)]
        sections["security"] = [page.subsection(words[label], value) for label, value in parts if value is not None]
    if body.cookies:
        sections["cookies"] = _paragraphs(list(body.cookies), lang)
    sections["automated_decisions"] = _paragraphs([body.automated_decisions], lang) or page.not_stated()
    return sections


def _rights(page: _Page, profile: ControllerProfile) -> dict[str, list[NoticeBlock]]:
    """Art. 13(2)(b)-(d): the rights, how to use them, and where to complain."""
    words, lang = page.words, page.lang
    who, contact = profile.controller, profile.contact_person
    rights: dict[str, Any] = words["rights"]
    how = page.own(rights["how"][1]) + _paragraphs([profile.notice.exercising_rights], lang)
    # Where to turn: the contact person's details, the controller's where the contact person gives none.
    lines = [
        (contact.name if contact else None) or who.name,
        _labelled(words, "email", (contact.email if contact else None) or who.email),
        _labelled(words, "phone", phone_text((contact.phone if contact else None) or who.phone)),
        _labelled(words, "address", _address(who.street_address, who.postal_code, who.city)),
    ]
    how.append(_lines(lines, lang))
    # The marketing rules say how recent a sale makes an existing customer (917/2014 § 200(2)), as the profile sets.
    months = profile.marketing.existing_customer_months
    each = [
        NoticeBlock(
            kind="subsection",
            title=rights[right][0],
            blocks=page.own(rights[right][1].format(months=months) if right == "marketing" else rights[right][1]),
        )
        for right in RIGHTS
    ]
    return {
        "rights": [*each, NoticeBlock(kind="subsection", title=rights["how"][0], blocks=how)],
        "complaint": [
            *page.own(rights["complaint"]),
            _lines(_authority_lines(lang), lang),
            *page.own(words["authorities_link"].format(edpb=EDPB_MEMBERS, url=AUTHORITIES_PATH)),
        ],
    }


def build(slug: str, notice: PrivacyNotice, lang: NoticeLanguage) -> NoticeDocument:
    """The notice of one published version in one language (its list of versions is added when it is read)."""
    profile = ControllerProfile.model_validate(notice.profile)
    page = _Page(lang=lang, words=texts(lang.value))
    titles: dict[str, str] = page.words["sections"]
    sections = _who(page, profile) | _processing(page, profile) | _disclosure(page, profile) | _rights(page, profile)
    register = profile.register_
    order = list(titles)
    return NoticeDocument(
        schema=SCHEMA,
        controller=slug,
        language=lang,
        title=page.words["title"],
        controller_name=profile.controller.name,
        business_id=profile.controller.business_id,
        register_name=_translated(register.name, register.name_sv, register.name_en, lang).text,
        version=notice.version,
        notice_date=notice.notice_date,
        published_at=notice.created_at,
        sections=[
            NoticeSection(id=key, title=titles[key], blocks=sections[key]) for key in sorted(sections, key=order.index)
        ],
        versions=[],
    )
