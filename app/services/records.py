"""The record of processing activities (GDPR Art. 30(1)), drawn from a published version of the profile.

A controller must keep the record and make it available to the supervisory authority on request (Art. 30(4)).
Everything it holds is already in the profile that the privacy notice is published from, so the record is that
profile read point by point, (a) to (g), from the version the notice published (the one in force, or an earlier
one as it was then). Where the profile does not state an item, the record says so and lists it in `missing`:
a gap is shown, never filled in or left silent. The words are the record's own (app/data/record/texts.toml) and,
for the legal bases, recipient categories and transfer mechanisms, the notice's (app/data/notice/texts.toml).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import re
import tomllib
from collections.abc import Sequence
from importlib.resources import files
from typing import Any

import jinja2
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.errors import Conflict
from app.models import records as model
from app.models.notices import NoticeLanguage, NoticeText, PrivacyNotice
from app.models.profile import BASIS_POINT, ProfileContent, ProfileNotice
from app.models.profile_base import LocalText
from app.models.records import SCHEMA, Point, RecordMissing, RecordOfProcessing
from app.services import letters, notice_text, notices

# The sections of the page: the point of Art. 30(1) each answers, and its anchor.
SECTIONS: dict[Point, str] = {
    "a": "controller", "b": "purposes", "c": "data", "d": "recipients", "e": "transfers", "f": "retention",
    "g": "security",
}  # fmt: skip
_MAX_DROPPED = 50
_SHORT = 80


# --- the version --------------------------------------------------------------------------------------


async def published(*, session: AsyncSession, actor: Actor, version: int | None) -> PrivacyNotice:
    """The published version `version` of the actor's notice, by default the one in force."""
    return await notices.version_of(session=session, controller_id=actor.controller_id, version=version)


def default_language(notice: PrivacyNotice) -> str:
    """The language the version's profile names as its own."""
    value = notice.profile.get("default_language")
    return value if isinstance(value, str) and value in NoticeLanguage.__members__ else NoticeLanguage.fi.value


def _drop(data: dict[str, Any], loc: Sequence[int | str]) -> str | None:
    """Remove the deepest part of `data` that `loc` reaches; its path, or None if nothing below the root is."""
    parents: list[tuple[Any, int | str]] = []
    node: Any = data
    for key in loc:
        listed = isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node)
        if not (listed or (isinstance(node, dict) and key in node)):
            break  # a union's tag, or a key that is missing: the part that holds it goes
        parents.append((node, key))
        node = node[key]
    if not parents:
        return None
    container, key = parents[-1]
    del container[key]
    return "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for _, k in parents).lstrip(".")


def readable(stored: dict[str, Any]) -> tuple[ProfileContent, list[str]]:
    """The profile of a version, and the paths of what the present schema can no longer read in it.

    A version is never changed once published; if the rules have since been tightened, what they refuse is
    left out of the record, and said to be, rather than the whole record refused.
    """
    data = {key: value for key, value in copy.deepcopy(stored).items() if key != "slug"}
    dropped: list[str] = []
    for _ in range(_MAX_DROPPED):
        try:
            return ProfileContent.model_validate(data), dropped
        except ValidationError as exc:
            path = _drop(data, exc.errors()[0]["loc"])
            if path is None:
                break
            dropped.append(path)
    raise Conflict("This version's profile can no longer be read as a record of processing activities.")


async def record(
    *, session: AsyncSession, actor: Actor, notice: PrivacyNotice, lang: NoticeLanguage
) -> RecordOfProcessing:
    """The record of processing activities of a published version, in `lang`, with the list of versions."""
    controller = await notices.controller_of(session=session, actor=actor)
    history = await notices.versions(session=session, controller_id=actor.controller_id)
    return build(controller.slug, notice, lang).model_copy(update={"versions": history})


# --- the record ---------------------------------------------------------------------------------------


@functools.cache
def texts(lang: str) -> dict[str, Any]:
    """The record's own words in `lang` (app/data/record/texts.toml)."""
    document = tomllib.loads((files("app") / "data" / "record" / "texts.toml").read_text(encoding="utf-8"))
    return document[lang]  # type: ignore[no-any-return]


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _SHORT else flat[: _SHORT - 1].rstrip() + "\N{HORIZONTAL ELLIPSIS}"


@dataclasses.dataclass
class _Draft:
    """A record being drawn up in one language: its words, and the gaps found so far."""

    lang: NoticeLanguage
    words: dict[str, Any]
    law: dict[str, Any]  # the notice's words for bases, recipient categories and mechanisms
    gaps: list[RecordMissing] = dataclasses.field(default_factory=list)

    def own(self, value: LocalText) -> NoticeText:
        """The text in the record's language, else the Finnish one (marked so)."""
        own = getattr(value, self.lang.value, None)
        return NoticeText(text=own, lang=self.lang) if own else NoticeText(text=value.fi, lang=NoticeLanguage.fi)

    def text(self, value: LocalText | None) -> NoticeText | None:
        return None if value is None else self.own(value)

    def texts(self, values: Sequence[LocalText]) -> list[NoticeText]:
        return [self.own(v) for v in values]

    def gap(self, point: Point, item: str, path: str, article: str, **fill: str) -> None:
        text = self.words["missing"][item].format(**fill)
        self.gaps.append(RecordMissing(point=point, item=item, path=path, article=article, text=text))


def _who(
    draft: _Draft, profile: ProfileContent
) -> tuple[model.RecordController, model.RecordContact | None, model.RecordDpo]:
    """Art. 30(1)(a): the controller's name and contact details, the contact person, the DPO."""
    who, contact = profile.controller, profile.contact_person
    place = " ".join(p for p in (who.postal_code, who.city) if p)
    address = ", ".join(p for p in (who.street_address, place) if p) or None
    same = who.model_dump(include={"name", "business_id", "country", "email", "website"})
    country = notice_text.country_name(who.country, draft.lang.value)
    controller = model.RecordController(
        **same, country_name=country, address=address, phone=notice_text.phone_text(who.phone)
    )
    if not (address or who.phone or who.email):
        draft.gap("a", "controller_contact", "controller", "GDPR Art. 30(1)(a)")
    person = None
    if contact is not None and (contact.name or contact.phone or contact.email):
        own_title = {NoticeLanguage.sv: contact.title_sv, NoticeLanguage.en: contact.title_en}.get(draft.lang)
        title = own_title or contact.title
        person = model.RecordContact(
            name=contact.name, title=title, phone=notice_text.phone_text(contact.phone), email=contact.email
        )
    dpo = profile.dpo
    if dpo is None:
        draft.gap("a", "dpo", "dpo", "GDPR Art. 30(1)(a), 37(1)")
        return controller, person, model.RecordDpo(appointed=None)
    return (
        controller,
        person,
        model.RecordDpo(**dpo.model_dump(exclude={"phone"}), phone=notice_text.phone_text(dpo.phone)),
    )


def _purposes(draft: _Draft, body: ProfileNotice) -> list[model.RecordPurpose]:
    """Art. 30(1)(b): each purpose, with its Art. 6(1) basis (Art. 5(2): the controller shows it is lawful)."""
    if not body.purposes:
        draft.gap("b", "purposes", "notice.purposes", "GDPR Art. 30(1)(b)")
    listed = []
    for index, purpose in enumerate(body.purposes):
        path, name = f"notice.purposes[{index}]", _short(purpose.get(draft.lang.value))
        # A legitimate interest stated for the whole notice counts for each purpose resting on (f).
        interest = purpose.legitimate_interest or body.legitimate_interest
        if purpose.basis is None:
            draft.gap("b", "purpose_basis", f"{path}.basis", "GDPR Art. 6(1), 13(1)(c)", purpose=name)
        elif purpose.basis == "legitimate_interests" and interest is None:
            draft.gap("b", "legitimate_interest", f"{path}.legitimate_interest", "GDPR Art. 13(1)(d)", purpose=name)
        elif purpose.basis in ("legal_obligation", "public_task") and purpose.law is None:
            draft.gap("b", "law", f"{path}.law", "GDPR Art. 6(3)", purpose=name)
        listed.append(
            model.RecordPurpose(
                purpose=draft.own(purpose),
                basis=purpose.basis,
                article=f"6(1)({BASIS_POINT[purpose.basis]})" if purpose.basis else None,
                basis_text=draft.law["bases"][purpose.basis] if purpose.basis else None,
                legitimate_interest=draft.text(interest) if purpose.basis == "legitimate_interests" else None,
                law=draft.text(purpose.law),
            )
        )
    return listed


def _recipients(
    draft: _Draft, profile: ProfileContent
) -> tuple[list[model.RecordRecipient], list[model.RecordTransfer]]:
    """Art. 30(1)(d)-(e): the recipients, and those in a third country with the safeguard of the transfer."""
    body, lang = profile.notice, draft.lang.value
    if not (profile.recipients or body.recipient_categories or body.recipients or body.disclosures):
        draft.gap("d", "recipients", "recipients", "GDPR Art. 30(1)(d)")
    recipients, transfers = [], []
    for index, r in enumerate(profile.recipients):
        country = notice_text.country_name(r.country, lang)
        recipients.append(
            model.RecordRecipient(
                id=r.id,
                name=r.name,
                category=r.category,
                category_text=draft.law["recipient_categories"][r.category],
                data=draft.texts(r.data),
                purpose=draft.text(r.purpose),
                country=r.country,
                country_name=country,
                outside_eea=r.outside_eea,
            )
        )
        if not r.outside_eea:
            continue
        path, safeguard = f"recipients[{index}].transfer", r.transfer
        if safeguard is None:
            draft.gap("e", "transfer_safeguard", path, "GDPR Art. 30(1)(e), 44-46", recipient=r.name, country=country)
        elif safeguard.mechanism == "derogation" and safeguard.details is None:
            # Art. 49(1): which derogation, and for its second subparagraph the safeguards, must be documented.
            draft.gap("e", "derogation", f"{path}.details", "GDPR Art. 30(1)(e), 49", recipient=r.name, country=country)
        transfers.append(
            model.RecordTransfer(
                recipient=r.id,
                name=r.name,
                country=r.country,
                country_name=country,
                mechanism=safeguard.mechanism if safeguard else None,
                mechanism_text=draft.law["mechanisms"][safeguard.mechanism] if safeguard else None,
                link=safeguard.link if safeguard else None,
                details=draft.text(safeguard.details) if safeguard else None,
            )
        )
    return recipients, transfers


def _retention(draft: _Draft, body: ProfileNotice) -> list[model.RecordRetention]:
    """Art. 30(1)(f): the time limits for erasure, and which of them the daily sweep enforces."""
    if not body.retention:
        draft.gap("f", "retention", "notice.retention", "GDPR Art. 30(1)(f)")
    rules = []
    for rule in body.retention:
        enforce = rule.enforce
        said = draft.words[f"enforced_{enforce.applies_to}"].format(years=enforce.years) if enforce else None
        rules.append(
            model.RecordRetention(
                category=draft.own(rule.category),
                period=draft.own(rule.period),
                enforced=enforce.applies_to if enforce else None,
                years=enforce.years if enforce else None,
                enforced_text=said or draft.words["not_enforced"],
            )
        )
    return rules


def _security(draft: _Draft, body: ProfileNotice) -> model.RecordSecurity:
    """Art. 30(1)(g), 32(1): the controller's measures, and those the service applies wherever it runs."""
    stated = body.security
    if stated is None or (stated.manual is None and stated.electronic is None):
        draft.gap("g", "security", "notice.security", "GDPR Art. 30(1)(g), 32(1)")
    return model.RecordSecurity(
        manual=draft.text(stated.manual) if stated else None,
        electronic=draft.text(stated.electronic) if stated else None,
        service=list(draft.words["measures"]["service"]),
    )


def _data(draft: _Draft, body: ProfileNotice) -> dict[str, list[NoticeText]]:
    """Art. 30(1)(c): the categories of data subjects and of personal data."""
    if not body.data_subjects:
        draft.gap("c", "data_subjects", "notice.data_subjects", "GDPR Art. 30(1)(c)")
    if not (body.data_groups or body.data_categories):
        draft.gap("c", "data_categories", "notice.data_groups", "GDPR Art. 30(1)(c)")
    return {
        "data_subjects": draft.texts(body.data_subjects),
        "data_groups": draft.texts(body.data_groups),
        "data_categories": draft.texts(body.data_categories),
    }


def build(slug: str, notice: PrivacyNotice, lang: NoticeLanguage) -> RecordOfProcessing:
    """The record of one published version in one language (its list of versions is added when it is read)."""
    profile, unreadable = readable(notice.profile)
    draft = _Draft(lang=lang, words=texts(lang.value), law=notice_text.texts(lang.value))
    body, register = profile.notice, profile.register_
    controller, contact, dpo = _who(draft, profile)
    purposes = _purposes(draft, body)
    data = _data(draft, body)
    recipients, transfers = _recipients(draft, profile)
    own_name = {NoticeLanguage.sv: register.name_sv, NoticeLanguage.en: register.name_en}.get(lang)
    return RecordOfProcessing(
        schema=SCHEMA,
        controller=slug,
        language=lang,
        title=draft.words["title"],
        register_name=own_name or register.name,
        version=notice.version,
        notice_date=notice.notice_date,
        published_at=notice.created_at,
        controller_details=controller,
        contact_person=contact,
        dpo=dpo,
        purposes=purposes,
        legal_basis_note=draft.text(body.legal_basis),
        **data,
        recipients=recipients,
        recipient_categories=draft.texts(body.recipient_categories),
        recipients_described=draft.texts([*body.recipients, *body.disclosures]),
        transfers=transfers,
        transfers_described=draft.texts([t for t in (body.transfers, body.transfer_safeguards) if t is not None]),
        retention=_retention(draft, body),
        security=_security(draft, body),
        missing=sorted(draft.gaps, key=lambda gap: gap.point),
        unreadable=unreadable,
        versions=[],
    )


# --- pages --------------------------------------------------------------------------------------------


@jinja2.pass_context
def _date(context: jinja2.runtime.Context, value: Any) -> str:
    return letters.format_date(value, context["record"].language.value)


@functools.cache
def _environment() -> jinja2.Environment:
    return letters.environment("record", {"autolink": notices.autolink, "date": _date})


def render(record: RecordOfProcessing, fmt: str, *, version_asked: bool = False) -> str:
    """The record as a printable HTML page or as Markdown."""
    variables = {
        "record": record,
        "words": texts(record.language.value),
        "sections": SECTIONS,
        "languages": notices.LANGUAGES,
        "version_asked": version_asked,
    }
    if fmt == "html":
        return _environment().get_template("record.html.j2").render(variables)
    markdown = _environment().get_template("record.md.j2").render(variables)
    return re.sub(r"\n{3,}", "\n\n", markdown).strip() + "\n"
