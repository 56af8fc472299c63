"""The privacy notice's text: the sections of one published version in one language, built from the profile.

The sections are those the Finnish notices have (the seeds in examples/), filled from the profile in the asked
language (Finnish where a text has no translation, and marked so), and two the service writes itself because
they must state current law: the rights and the complaint authority.
"""

from __future__ import annotations

import dataclasses
import functools
import tomllib
from collections.abc import Sequence
from importlib.resources import files
from typing import Any

import phonenumbers

from app.models.notices import NoticeBlock, NoticeDocument, NoticeLanguage, NoticeSection, NoticeText, PrivacyNotice
from app.models.profile import ControllerProfile, ProfileNotice
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


def _phone(number: str | None) -> str | None:
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
        _labelled(words, "phone", _phone(who.phone)),
        _labelled(words, "email", who.email),
        _labelled(words, "website", who.website),
    ]
    sections["controller"] = [_lines(lines, lang)]
    if contact is not None and (contact.name or contact.phone or contact.email):
        title = _translated(contact.title, contact.title_sv, contact.title_en, lang).text if contact.title else None
        name = ", ".join(p for p in (contact.name, title) if p) or None
        lines = [name, _labelled(words, "phone", _phone(contact.phone)), _labelled(words, "email", contact.email)]
        sections["contact_person"] = [_lines(lines, lang)]
    register_name = _translated(register.name, register.name_sv, register.name_en, lang)
    sections["register"] = [NoticeBlock(kind="lines", texts=[register_name])]
    return sections


def _processing(page: _Page, body: ProfileNotice) -> dict[str, list[NoticeBlock]]:
    """Art. 13(1)(c)-(f), (2)(a), (2)(e)-(f): why, on what basis, what, from where, to whom, how long."""
    words, lang = page.words, page.lang
    sections: dict[str, list[NoticeBlock]] = {}
    sections["purposes"] = page.listed(body.purposes) or page.not_stated()
    sections["legal_basis"] = _paragraphs([body.legal_basis], lang) or page.not_stated()
    optional = {
        "provision_requirement": body.provision_requirement,
        "legitimate_interest": body.legitimate_interest,
        "consent": body.consent,
    }
    sections |= {key: _paragraphs([value], lang) for key, value in optional.items() if value is not None}
    if body.data_groups:
        sections["data_groups"] = page.listed(body.data_groups)
    sections["data_categories"] = page.listed(body.data_categories) or page.not_stated()
    if body.sources:
        sections["sources"] = page.listed(body.sources)
    sections["recipients"] = page.listed([*body.recipients, *body.recipient_categories]) or page.not_stated()
    if body.disclosures:
        sections["disclosures"] = page.listed(body.disclosures)
    sections["transfers"] = _paragraphs([body.transfers], lang) or page.own(words["no_transfers"])
    if body.transfer_safeguards is not None:
        sections["transfers"].append(page.subsection(words["safeguards"], body.transfer_safeguards))
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
        _labelled(words, "phone", _phone((contact.phone if contact else None) or who.phone)),
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
    sections = _who(page, profile) | _processing(page, profile.notice) | _rights(page, profile)
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
