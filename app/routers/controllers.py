"""The controller's profile: what its privacy notice says, kept current by its admins."""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.db import Session
from app.errors import problem_responses
from app.models.controllers import EXAMPLE_PROFILE, Controller, ControllerProfilePublic
from app.models.notices import PrivacyNotice
from app.models.profile import ProfileContent
from app.routers._http import IfMatch, expected_versions, tagged
from app.security import Admin, Officer
from app.services import controllers as service

router = APIRouter(prefix="/v1/controller", tags=["controller"])


def _public(controller: Controller, notice: PrivacyNotice, response: Response) -> ControllerProfilePublic:
    return tagged(
        response,
        notice.version,
        ControllerProfilePublic(
            id=controller.id,
            slug=controller.slug,
            notice_version=notice.version,
            notice_date=notice.notice_date,
            updated_at=controller.updated_at,
            profile={k: v for k, v in notice.profile.items() if k != "slug"},
        ),
    )


@router.get(
    "",
    summary="The controller's profile",
    description="Who the controller is and what its privacy notice says (`GET /v1/privacy-notice` renders it). "
    "The `ETag` is the notice's version.",
    responses=problem_responses(401, 403),
)
async def get_controller(session: Session, actor: Officer, response: Response) -> ControllerProfilePublic:
    controller, notice = await service.get_profile(session=session, actor=actor)
    return _public(controller, notice, response)


@router.put(
    "",
    summary="Replace the controller's profile",
    description="The whole profile, as `rekisteri controllers create --profile` reads it from TOML (the same "
    "fields, as JSON), but for the `slug`: it names the controller in public links and never changes. A change "
    "publishes a new version of the privacy notice, drawn up today unless `register.notice_date` gives a later "
    "date than the version in force; earlier versions stay readable. Sending what is in force changes nothing "
    "(200, same version). Audited. Send the `ETag` you read in `If-Match` so as not to overwrite another "
    "admin's change (412).",
    responses=problem_responses(400, 401, 403, 409, 412, 415, 422),
    openapi_extra={"requestBody": {"content": {"application/json": {"example": EXAMPLE_PROFILE}}}},
)
async def put_controller(
    profile: ProfileContent, session: Session, actor: Admin, response: Response, if_match: IfMatch = None
) -> ControllerProfilePublic:
    controller, notice, _ = await service.update_profile(
        session=session, actor=actor, content=profile, expected=expected_versions(if_match)
    )
    return _public(controller, notice, response)
