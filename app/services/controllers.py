"""Controllers: created from a profile file by the operator."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from app.config import ControllerProfile
from app.errors import Conflict, NotFound
from app.models.controllers import Controller


async def create_controller(
    *, session: AsyncSession, profile: ControllerProfile, controller_id: uuid.UUID | None = None
) -> Controller:
    """Create a controller from its profile; its slug must be new."""
    existing = await session.scalar(select(Controller.id).where(Controller.slug == profile.slug))
    if existing is not None:
        raise Conflict(f"A controller with the slug {profile.slug!r} exists already.")
    who, contact = profile.controller, profile.contact_person
    controller = Controller(
        id=controller_id or uuid.uuid4(),
        slug=profile.slug,
        name=who.name,
        business_id=who.business_id,
        street_address=who.street_address,
        postal_code=who.postal_code,
        city=who.city,
        country=who.country,
        phone=who.phone,
        email=who.email,
        website=who.website,
        contact_name=contact.name if contact else None,
        contact_title=contact.title if contact else None,
        contact_phone=contact.phone if contact else None,
        contact_email=contact.email if contact else None,
        register_name=profile.register_.name,
        notice_date=profile.register_.notice_date,
        default_language=profile.default_language,
        profile=profile.model_dump(mode="json", by_alias=True),
    )
    session.add(controller)
    await session.flush()
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
