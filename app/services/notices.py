"""The privacy notice (tietosuojaseloste): published versions of the profile, and the notice built from one.

Every change of the controller's profile publishes a new version; a version is never changed afterwards, so
the notice a person read on a given day can be shown again. The notice has the sections the Finnish notices
have (the seeds in examples/), filled from the profile in the asked language (Finnish where a text has no
translation, and marked so), and two the service writes itself because they must state current law: the
rights and the complaint authority.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import tomllib
import uuid
from importlib.resources import files
from typing import Any

import jinja2
import phonenumbers
from markupsafe import Markup, escape
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.config import ControllerProfile, LocalText
from app.errors import NotFound, Unprocessable
from app.models.controllers import Controller
from app.models.notices import (
    NoticeBlock,
    NoticeDocument,
    NoticeLanguage,
    NoticeSection,
    NoticeText,
    NoticeVersion,
    PrivacyNotice,
)
from app.security import Actor
from app.services import authorities, deadlines, letters

SCHEMA = "rekisteri.privacy-notice/1"
AUTHORITIES_PATH = "/v1/complaint-authorities"
EDPB_MEMBERS = "https://www.edpb.europa.eu/about-edpb/about-edpb/members_en"
LANGUAGES = (("fi", "Suomeksi"), ("sv", "På svenska"), ("en", "In English"))
_LINK = re.compile(r"(https?://[^\s<>\"'`]+[^\s<>\"'`.,;:!?)]|/v1/[a-z/-]+)")
RIGHTS = ("access", "rectification", "erasure", "restriction", "portability", "objection", "prohibition", "consent")


@functools.cache
def texts(lang: str) -> dict[str, Any]:
    """The notice's own words in `lang` (app/data/notice/texts.toml)."""
    document = tomllib.loads((files("app") / "data" / "notice" / "texts.toml").read_text(encoding="utf-8"))
    return document[lang]  # type: ignore[no-any-return]


# --- versions ------------------------------------------------------------------------------------------


def _content(profile: dict[str, Any]) -> dict[str, Any]:
    """The profile without its date: what decides whether anything changed."""
    register = {k: v for k, v in profile.get("register", {}).items() if k != "notice_date"}
    return {**profile, "register": register}


async def latest(*, session: AsyncSession, controller_id: uuid.UUID) -> PrivacyNotice | None:
    """The version in force, if any was published."""
    query = select(PrivacyNotice).where(PrivacyNotice.controller_id == controller_id)
    return await session.scalar(query.order_by(col(PrivacyNotice.version).desc()).limit(1))


async def publish(
    *, session: AsyncSession, actor: Actor, profile: ControllerProfile, today: dt.date | None = None
) -> PrivacyNotice | None:
    """Publish the profile as a new version, unless it says what the version in force says.

    The date drawn up (laatimispäivä) is the profile's `register.notice_date` when it is later than the
    version in force's, else the day of publishing: a changed notice is a notice drawn up anew. The notice is
    rendered now, in every language, and kept so: an earlier version reads as it read then, whatever later
    releases of the service say in their own sections.
    """
    today = today or deadlines.today()
    given = profile.register_.notice_date
    if given is not None and given > today:
        raise Unprocessable("A notice cannot be drawn up in the future.", loc=("body", "register", "notice_date"))
    snapshot = profile.model_dump(mode="json", by_alias=True)
    previous = await latest(session=session, controller_id=actor.controller_id)
    if previous is not None and _content(previous.profile) == _content(snapshot):
        return None
    later = given is not None and (previous is None or given > previous.notice_date)
    notice_date = given if later and given is not None else today
    snapshot["register"]["notice_date"] = notice_date.isoformat()
    notice = PrivacyNotice(
        controller_id=actor.controller_id,
        version=(previous.version + 1) if previous is not None else 1,
        notice_date=notice_date,
        profile=snapshot,
        published_by=actor.name,
    )
    notice.documents = {
        lang.value: build(profile.slug, notice, lang).model_dump(mode="json", by_alias=True, exclude={"versions"})
        for lang in NoticeLanguage
    }
    session.add(notice)
    await session.flush()
    return notice


async def versions(*, session: AsyncSession, controller_id: uuid.UUID) -> list[NoticeVersion]:
    """Every published version, newest first (their numbers and dates: not their texts)."""
    query = select(col(PrivacyNotice.version), col(PrivacyNotice.notice_date), col(PrivacyNotice.created_at)).where(
        PrivacyNotice.controller_id == controller_id
    )
    rows = await session.execute(query.order_by(col(PrivacyNotice.version).desc()))
    return [NoticeVersion(version=v, notice_date=d, published_at=t) for v, d, t in rows]


async def public_controller(*, session: AsyncSession, slug: str) -> Controller:
    """The controller a public URL names; scopes the transaction to it (no key: row-level security needs it)."""
    found = await session.scalar(
        text("SELECT set_config('rekisteri.controller_id', id::text, true) FROM rekisteri_public_controller(:s) id"),
        {"s": slug},
    )
    controller = await session.get(Controller, uuid.UUID(found)) if found else None
    if controller is None:
        raise NotFound("No such controller.")
    return controller


async def document(
    *, session: AsyncSession, controller: Controller, lang: NoticeLanguage, version: int | None
) -> NoticeDocument:
    """The notice of `version` (default: the one in force) in `lang`, as it was published."""
    query = select(PrivacyNotice).where(PrivacyNotice.controller_id == controller.id)
    if version is not None:
        query = query.where(PrivacyNotice.version == version)
    chosen = await session.scalar(query.order_by(col(PrivacyNotice.version).desc()).limit(1))
    if chosen is None:
        raise NotFound("No such version of the privacy notice." if version else "No privacy notice is published.")
    history = await versions(session=session, controller_id=controller.id)
    kept = (chosen.documents or {}).get(lang.value)
    if kept is None:  # a version the migration copied from before notices were kept rendered
        return build(controller.slug, chosen, lang).model_copy(update={"versions": history})
    return NoticeDocument.model_validate({**kept, "versions": history})


# --- the document -------------------------------------------------------------------------------------


def _text(value: LocalText | str | None, lang: NoticeLanguage) -> NoticeText | None:
    if value is None:
        return None
    if isinstance(value, str):
        return NoticeText(text=value, lang=lang)
    own = getattr(value, lang.value, None)
    return NoticeText(text=own, lang=lang) if own else NoticeText(text=value.fi, lang=NoticeLanguage.fi)


def _texts(values: list[LocalText], lang: NoticeLanguage) -> list[NoticeText]:
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


def build(slug: str, notice: PrivacyNotice, lang: NoticeLanguage) -> NoticeDocument:
    """The notice of one published version in one language (its list of versions is added when it is read)."""
    profile = ControllerProfile.model_validate(notice.profile)
    words, body = texts(lang.value), profile.notice
    titles: dict[str, str] = words["sections"]
    who, contact, register = profile.controller, profile.contact_person, profile.register_
    not_stated = [NoticeBlock(kind="paragraph", texts=[NoticeText(text=words["not_stated"], lang=lang)])]
    address = _address(who.street_address, who.postal_code, who.city)

    def own(text: str) -> list[NoticeBlock]:
        return [NoticeBlock(kind="paragraph", texts=[NoticeText(text=text, lang=lang)])]

    def subsection(title: str, value: LocalText | None) -> NoticeBlock:
        return NoticeBlock(kind="subsection", title=title, blocks=_paragraphs([value], lang))

    sections: dict[str, list[NoticeBlock]] = {}
    if body.introduction:
        sections["introduction"] = _paragraphs(list(body.introduction), lang)
    sections["controller"] = [
        _lines(
            [
                who.name,
                _labelled(words, "business_id", who.business_id),
                _labelled(words, "address", address),
                _labelled(words, "phone", _phone(who.phone)),
                _labelled(words, "email", who.email),
                _labelled(words, "website", who.website),
            ],
            lang,
        )
    ]
    if contact is not None and (contact.name or contact.phone or contact.email):
        title = _translated(contact.title, contact.title_sv, contact.title_en, lang).text if contact.title else None
        name = ", ".join(p for p in (contact.name, title) if p) or None
        lines = [name, _labelled(words, "phone", _phone(contact.phone)), _labelled(words, "email", contact.email)]
        sections["contact_person"] = [_lines(lines, lang)]
    register_name = _translated(register.name, register.name_sv, register.name_en, lang)
    sections["register"] = [NoticeBlock(kind="lines", texts=[register_name])]
    sections["purposes"] = [_list(_texts(body.purposes, lang))] if body.purposes else not_stated
    sections["legal_basis"] = _paragraphs([body.legal_basis], lang) or not_stated
    optional = {
        "provision_requirement": body.provision_requirement,
        "legitimate_interest": body.legitimate_interest,
        "consent": body.consent,
    }
    sections |= {key: _paragraphs([value], lang) for key, value in optional.items() if value is not None}
    if body.data_groups:
        sections["data_groups"] = [_list(_texts(body.data_groups, lang))]
    sections["data_categories"] = [_list(_texts(body.data_categories, lang))] if body.data_categories else not_stated
    if body.sources:
        sections["sources"] = [_list(_texts(body.sources, lang))]
    recipients = _texts(body.recipients, lang) + _texts(body.recipient_categories, lang)
    sections["recipients"] = [_list(recipients)] if recipients else not_stated
    if body.disclosures:
        sections["disclosures"] = [_list(_texts(body.disclosures, lang))]
    sections["transfers"] = _paragraphs([body.transfers], lang) or own(words["no_transfers"])
    if body.transfer_safeguards is not None:
        sections["transfers"].append(subsection(words["safeguards"], body.transfer_safeguards))
    sections["retention"] = [subsection(r.category.get(lang.value), r.period) for r in body.retention] or not_stated
    if body.security is not None:
        parts = [("security_manual", body.security.manual), ("security_electronic", body.security.electronic)]
        sections["security"] = [subsection(words[label], value) for label, value in parts if value is not None]
    if body.cookies:
        sections["cookies"] = _paragraphs(list(body.cookies), lang)
    sections["automated_decisions"] = _paragraphs([body.automated_decisions], lang) or not_stated
    rights: dict[str, Any] = words["rights"]
    how = own(rights["how"][1]) + _paragraphs([body.exercising_rights], lang)
    # Where to turn: the contact person's details, the controller's where the contact person gives none.
    how.append(
        _lines(
            [
                (contact.name if contact else None) or who.name,
                _labelled(words, "email", (contact.email if contact else None) or who.email),
                _labelled(words, "phone", _phone((contact.phone if contact else None) or who.phone)),
                _labelled(words, "address", address),
            ],
            lang,
        )
    )
    sections["rights"] = [
        NoticeBlock(kind="subsection", title=rights[right][0], blocks=own(rights[right][1])) for right in RIGHTS
    ] + [NoticeBlock(kind="subsection", title=rights["how"][0], blocks=how)]
    sections["complaint"] = [
        *own(rights["complaint"]),
        _lines(_authority_lines(lang), lang),
        *own(words["authorities_link"].format(edpb=EDPB_MEMBERS, url=AUTHORITIES_PATH)),
    ]
    order = list(titles)
    return NoticeDocument(
        schema=SCHEMA,
        controller=slug,
        language=lang,
        title=words["title"],
        controller_name=who.name,
        business_id=who.business_id,
        register_name=register_name.text,
        version=notice.version,
        notice_date=notice.notice_date,
        published_at=notice.created_at,
        sections=[
            NoticeSection(id=key, title=titles[key], blocks=sections[key]) for key in sorted(sections, key=order.index)
        ],
        versions=[],
    )


async def controller_of(*, session: AsyncSession, actor: Actor) -> Controller:
    """The actor's controller."""
    controller = await session.get(Controller, actor.controller_id)
    assert controller is not None
    return controller


# --- pages ---------------------------------------------------------------------------------------------


def autolink(value: str) -> Markup:
    """Escape a text, making its web addresses (and the service's own paths) links."""
    parts = _LINK.split(value)
    html = [
        Markup('<a href="{0}">{0}</a>').format(part) if index % 2 else escape(part) for index, part in enumerate(parts)
    ]
    return Markup("").join(html)


@jinja2.pass_context
def _date(context: jinja2.runtime.Context, value: dt.date) -> str:
    return letters.format_date(value, context["notice"].language.value)


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("app", "data/notice"),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters |= {
        "md": letters.md_block,
        "md_inline": letters.md_inline,
        "md_lines": letters.md_lines,
        "autolink": autolink,
        "date": _date,
    }
    return env


def render(notice: NoticeDocument, fmt: str, *, version_asked: bool = False) -> str:
    """The notice as an HTML page or as Markdown."""
    variables = {
        "notice": notice,
        "words": texts(notice.language.value),
        "languages": LANGUAGES,
        "version_asked": version_asked,
    }
    if fmt == "html":
        return _environment().get_template("notice.html.j2").render(variables)
    markdown = _environment().get_template("notice.md.j2").render(variables)
    return re.sub(r"\n{3,}", "\n\n", markdown).strip() + "\n"
