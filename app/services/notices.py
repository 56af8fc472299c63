"""The privacy notice (tietosuojaseloste): published versions of the profile, and the notice built from one.

Every change of the controller's profile publishes a new version; a version is never changed afterwards, so
the notice a person read on a given day can be shown again. The notice has the sections the Finnish notices
have (the seeds in examples/), filled from the profile in the asked language (Finnish where a text has no
translation, and marked so), and two the service writes itself because they must state current law: the
rights and the complaint authority.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import re
import uuid
from typing import Any

import jinja2
from markupsafe import Markup, escape
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.actor import Actor
from app.errors import NotFound, Unprocessable
from app.models.controllers import Controller
from app.models.notices import (
    NoticeDocument,
    NoticeLanguage,
    NoticeVersion,
    PrivacyNotice,
)
from app.models.profile import ControllerProfile
from app.services import deadlines, letters, notice_text, profile_check
from app.tenancy import TENANT_SQL, scoped, set_tenant

LANGUAGES = (("fi", "Suomeksi"), ("sv", "På svenska"), ("en", "In English"))
_LINK = re.compile(r"(https?://[^\s<>\"'`]+[^\s<>\"'`.,;:!?)]|/v1/[a-z/-]+)")


# --- versions ------------------------------------------------------------------------------------------


def _content(profile: dict[str, Any]) -> dict[str, Any]:
    """The profile without its date, settings added since it was published at their defaults: what decides
    whether anything changed."""
    # A version published under rules since tightened is compared as it was kept.
    with contextlib.suppress(ValidationError):
        profile = ControllerProfile.model_validate(profile).model_dump(mode="json", by_alias=True)
    register = {k: v for k, v in profile.get("register", {}).items() if k != "notice_date"}
    return {**profile, "register": register}


async def latest(*, session: AsyncSession, controller_id: uuid.UUID) -> PrivacyNotice | None:
    """The version in force, if any was published."""
    query = scoped(PrivacyNotice, controller_id)
    return await session.scalar(query.order_by(col(PrivacyNotice.version).desc()).limit(1))


async def publish(
    *, session: AsyncSession, actor: Actor, profile: ControllerProfile, today: dt.date | None = None
) -> PrivacyNotice | None:
    """Publish the profile as a new version, unless it says what the version in force says.

    An incomplete profile is refused, every problem listed (app/services/profile_check.py), before anything
    else, the same profile as the version in force included. The date drawn up (laatimispäivä) is the
    profile's `register.notice_date` when it is later than the version in force's, else the day of publishing:
    a changed notice is a notice drawn up anew. The notice is rendered now, in every language, and kept so: an
    earlier version reads as it read then, whatever later releases of the service say in their own sections.
    """
    # GDPR Art. 13-14: every path that publishes comes through here, and none publishes an incomplete notice.
    profile_check.require_complete(profile)
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
        lang.value: notice_text.build(profile.slug, notice, lang).model_dump(
            mode="json", by_alias=True, exclude={"versions"}
        )
        for lang in NoticeLanguage
    }
    session.add(notice)
    await session.flush()
    return notice


async def version_of(*, session: AsyncSession, controller_id: uuid.UUID, version: int | None) -> PrivacyNotice:
    """The published version `version` of the controller's notice, by default the one in force; 404 if none."""
    query = scoped(PrivacyNotice, controller_id)
    if version is not None:
        query = query.where(PrivacyNotice.version == version)
    chosen = await session.scalar(query.order_by(col(PrivacyNotice.version).desc()).limit(1))
    if chosen is None:
        raise NotFound("No such version of the privacy notice." if version else "No privacy notice is published.")
    return chosen


async def versions(*, session: AsyncSession, controller_id: uuid.UUID) -> list[NoticeVersion]:
    """Every published version, newest first (their numbers and dates: not their texts)."""
    query = scoped(
        PrivacyNotice,
        controller_id,
        col(PrivacyNotice.version),
        col(PrivacyNotice.notice_date),
        col(PrivacyNotice.created_at),
    )
    rows = await session.execute(query.order_by(col(PrivacyNotice.version).desc()))
    return [NoticeVersion(version=v, notice_date=d, published_at=t) for v, d, t in rows]


async def public_controller(*, session: AsyncSession, slug_or_id: str) -> Controller:
    """The controller a public URL names, by its slug or its id (`controllers create` prints the id); scopes the
    transaction to it (no key: row-level security needs it)."""
    found = await session.scalar(
        text(f"SELECT {TENANT_SQL.format('id')} FROM rekisteri_public_controller(:s) id"),  # noqa: S608
        {"s": slug_or_id},
    )
    if not found:
        try:
            found = str(uuid.UUID(slug_or_id))
        except ValueError:
            raise NotFound("No such controller.") from None
        # Row-level security shows the controller's row only to its own tenant: none, if there is no such id.
        await set_tenant(session, uuid.UUID(found))
    controller = await session.get(Controller, uuid.UUID(found))
    if controller is None:
        raise NotFound("No such controller.")
    return controller


async def document(
    *, session: AsyncSession, controller: Controller, lang: NoticeLanguage, version: int | None
) -> NoticeDocument:
    """The notice of `version` (default: the one in force) in `lang`, as it was published."""
    chosen = await version_of(session=session, controller_id=controller.id, version=version)
    history = await versions(session=session, controller_id=controller.id)
    kept = (chosen.documents or {}).get(lang.value)
    if kept is None:  # a version the migration copied from before notices were kept rendered
        return notice_text.build(controller.slug, chosen, lang).model_copy(update={"versions": history})
    return NoticeDocument.model_validate({**kept, "versions": history})


# --- the document -------------------------------------------------------------------------------------


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
    return letters.environment("notice", {"autolink": autolink, "date": _date})


def render(notice: NoticeDocument, fmt: str, *, version_asked: bool = False) -> str:
    """The notice as an HTML page or as Markdown."""
    variables = {
        "notice": notice,
        "words": notice_text.texts(notice.language.value),
        "languages": LANGUAGES,
        "version_asked": version_asked,
    }
    if fmt == "html":
        return _environment().get_template("notice.html.j2").render(variables)
    markdown = _environment().get_template("notice.md.j2").render(variables)
    return re.sub(r"\n{3,}", "\n\n", markdown).strip() + "\n"
