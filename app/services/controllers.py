"""Controllers: created from a profile file by the operator, their profile kept current by admins."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from app.actor import Actor, attached
from app.errors import Conflict, NotFound, PreconditionFailed
from app.models.base import utcnow
from app.models.controllers import Controller, ProfileProblem
from app.models.notices import PrivacyNotice
from app.models.profile import ControllerProfile, ProfileContent
from app.services import deadlines, disclosures, notices, profile_check


def _apply(controller: Controller, profile: ControllerProfile) -> None:
    """Copy what the profile says of the controller onto its row; the whole profile is kept too."""
    who, contact = profile.controller, profile.contact_person
    controller.name = who.name
    controller.business_id = who.business_id
    controller.street_address = who.street_address
    controller.postal_code = who.postal_code
    controller.city = who.city
    controller.country = who.country
    controller.phone = who.phone
    controller.email = who.email
    controller.website = who.website
    controller.contact_name = contact.name if contact else None
    controller.contact_title = contact.title if contact else None
    controller.contact_phone = contact.phone if contact else None
    controller.contact_email = contact.email if contact else None
    controller.register_name = profile.register_.name
    controller.default_language = profile.default_language
    controller.profile = profile.model_dump(mode="json", by_alias=True)


def contact(controller: Controller) -> dict[str, Any]:
    """The controller as letters and exports name it: who it is and how to reach it (Art. 13(1)(a), 15)."""
    return {
        "name": controller.name,
        "business_id": controller.business_id,
        "street_address": controller.street_address,
        "postal_code": controller.postal_code,
        "city": controller.city,
        "country": controller.country,
        "phone": controller.phone,
        "email": controller.email,
        "website": controller.website,
        "contact_person": {
            "name": controller.contact_name,
            "title": controller.contact_title,
            "phone": controller.contact_phone,
            "email": controller.contact_email,
        },
        "register": controller.register_name,
    }


def region(controller: Controller) -> str | None:
    """The ISO 3166-2 region the controller's profile says it is established in, if any."""
    value = (controller.profile.get("controller") or {}).get("region")
    return str(value) if value else None


async def create_controller(
    *, session: AsyncSession, profile: ControllerProfile, controller_id: uuid.UUID | None = None
) -> Controller:
    """Create a controller from its profile, and publish its privacy notice; the slug must be new."""
    existing = await session.scalar(select(Controller.id).where(Controller.slug == profile.slug))
    if existing is not None:
        raise Conflict(f"A controller with the slug {profile.slug!r} exists already.")
    controller = Controller(id=controller_id or uuid.uuid4(), slug=profile.slug, name="", register_name="")
    _apply(controller, profile)
    today = deadlines.today()
    controller.notice_date = profile.register_.notice_date or today  # as the first version's, below
    session.add(controller)
    await session.flush()
    actor = attached(session)
    assert actor is not None, "attach the operator's actor to the session first"
    notice = await notices.publish(session=session, actor=actor, profile=profile, today=today)
    assert notice is not None
    assert notice.notice_date == controller.notice_date
    return controller


async def find_controller(*, session: AsyncSession, slug_or_id: str) -> Controller:
    """Find a controller by its slug or id."""
    try:
        condition = Controller.id == uuid.UUID(slug_or_id)
    except ValueError:
        condition = Controller.slug == slug_or_id
    controller = await session.scalar(select(Controller).where(condition))
    if controller is None:
        raise NotFound("No such controller.")
    return controller


async def get_profile(*, session: AsyncSession, actor: Actor) -> tuple[Controller, PrivacyNotice, list[ProfileProblem]]:
    """The actor's controller, the version of its notice in force, and what that version lacks (a version
    published before notices were checked may be incomplete; it stays in force until a complete one replaces it)."""
    controller = await session.get(Controller, actor.controller_id)
    notice = await notices.latest(session=session, controller_id=actor.controller_id)
    assert controller is not None
    assert notice is not None
    return controller, notice, profile_check.of_stored(notice.profile)


async def update_profile(
    *, session: AsyncSession, actor: Actor, content: ProfileContent, expected: set[int] | None
) -> tuple[Controller, PrivacyNotice, bool]:
    """Replace the profile; a change publishes a new version of the notice. Returns whether it changed.

    The slug stays: published notices are linked by it (/public/{slug}/privacy-notice).
    """
    controller = await session.get(Controller, actor.controller_id, with_for_update=True)
    current = await notices.latest(session=session, controller_id=actor.controller_id)
    assert controller is not None
    assert current is not None
    if expected is not None and current.version not in expected:
        raise PreconditionFailed("The profile has changed since you read it; read it again (ETag).")
    profile = ControllerProfile.model_validate({**content.model_dump(by_alias=True), "slug": controller.slug})
    gone = await disclosures.recipients_in_use(session=session, actor=actor) - {r.id for r in profile.recipients}
    if gone:  # GDPR Art. 30(1)(d): a subscriber or key that takes data out is a recipient the register names
        raise Conflict(f"Live webhooks or API keys name the recipients {sorted(gone)}: they stay in the register.")
    published = await notices.publish(session=session, actor=actor, profile=profile)
    if published is None:
        return controller, current, False
    _apply(controller, ControllerProfile.model_validate(published.profile))
    controller.notice_date = published.notice_date
    controller.draft_profile = None  # what was being drafted is now published, or set aside by what was
    controller.updated_at = utcnow()
    await session.flush()
    return controller, published, True


async def save_draft(
    *, session: AsyncSession, actor: Actor, content: ProfileContent
) -> tuple[dict[str, Any], list[ProfileProblem]]:
    """Keep a profile without publishing it (audited); the notice in force stays. Returns it and its problems."""
    controller = await session.get(Controller, actor.controller_id, with_for_update=True)
    assert controller is not None
    controller.draft_profile = content.model_dump(mode="json", by_alias=True, exclude={"slug"})  # the slug stays
    await session.flush()
    return controller.draft_profile, profile_check.problems(content)


async def get_draft(*, session: AsyncSession, actor: Actor) -> tuple[dict[str, Any], list[ProfileProblem]]:
    """The draft saved, and what keeps it from being published."""
    controller = await session.get(Controller, actor.controller_id)
    assert controller is not None
    if controller.draft_profile is None:
        raise NotFound("No draft is saved.")
    return controller.draft_profile, profile_check.of_stored(controller.draft_profile)
