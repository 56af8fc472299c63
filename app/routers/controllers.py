"""The controller's profile: what its privacy notice says, kept current by its admins, drafted before it is."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from app.db import Session
from app.errors import problem_responses
from app.models.controllers import (
    EXAMPLE_PROFILE,
    Controller,
    ControllerDraft,
    ControllerProfilePublic,
    ProfileProblem,
)
from app.models.notices import PrivacyNotice
from app.models.profile import ProfileContent
from app.routers._http import IfMatch, expected_versions, tagged
from app.security import Admin, Auditor
from app.services import controllers as service

router = APIRouter(prefix="/v1/controller", tags=["controller"])

_CHECKED = (
    "A profile is published only when it is complete: every item GDPR Art. 13-14 require is stated (the "
    "controller's address and contact, the data protection officer or that none is appointed, each purpose with "
    "its Art. 6(1) basis, the recipients, a transfer mechanism for each recipient outside the EU/EEA, retention, "
    "whether the data must be given, automated decision-making, the data and its sources) and no text repeats "
    "what the law has overtaken (consent to cookies by using the site, the Personal Data Act, a signed request, "
    "...). Otherwise the answer is 422 and `errors` lists every problem: `loc` (where in the body), `msg`, `type` "
    "(`missing` or `outdated`) and `article`; nothing is published. docs/privacy-notice.md has the whole list."
)


def _public(
    controller: Controller, notice: PrivacyNotice, problems: list[ProfileProblem], response: Response
) -> ControllerProfilePublic:
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
            problems=problems,
            draft=controller.draft_profile is not None,
        ),
    )


def _draft(profile: dict[str, Any], problems: list[ProfileProblem]) -> ControllerDraft:
    return ControllerDraft(profile=profile, complete=not problems, problems=problems)


@router.get(
    "",
    summary="The controller's profile",
    description="Admins and auditors only. Who the controller is and what its privacy notice says "
    "(`GET /v1/privacy-notice` renders it, for every key). "
    "The `ETag` is the notice's version. `problems` lists what the version in force lacks: empty for every "
    "version published since notices are checked; a version published before may be incomplete, and stays "
    "public until a complete profile replaces it. `draft` says whether a draft is saved.",
    responses=problem_responses(401, 403),
)
async def get_controller(session: Session, actor: Auditor, response: Response) -> ControllerProfilePublic:
    controller, notice, problems = await service.get_profile(session=session, actor=actor)
    return _public(controller, notice, problems, response)


@router.put(
    "",
    summary="Replace the controller's profile",
    description="The whole profile, as `rekisteri controllers create --profile` reads it from TOML (the same "
    "fields, as JSON), but for the `slug`: it names the controller in public links and never changes. A change "
    "publishes a new version of the privacy notice, drawn up today unless `register.notice_date` gives a later "
    "date than the version in force; earlier versions stay readable. Sending what is in force changes nothing "
    "(200, same version). Publishing clears the saved draft. Audited. Send the `ETag` you read in `If-Match` so "
    "as not to overwrite another admin's change (412).\n\n" + _CHECKED,
    responses=problem_responses(400, 401, 403, 409, 412, 415, 422),
    openapi_extra={"requestBody": {"content": {"application/json": {"example": EXAMPLE_PROFILE}}}},
)
async def put_controller(
    profile: ProfileContent, session: Session, actor: Admin, response: Response, if_match: IfMatch = None
) -> ControllerProfilePublic:
    controller, notice, _ = await service.update_profile(
        session=session, actor=actor, content=profile, expected=expected_versions(if_match)
    )
    return _public(controller, notice, [], response)


@router.get(
    "/draft",
    summary="The draft of the profile",
    description="The profile saved with `PUT /v1/controller/draft`, not published, and the problems that keep it "
    "from being published. 404 when no draft is saved (none was, or it has been published since).",
    responses=problem_responses(401, 403, 404),
)
async def get_draft(session: Session, actor: Auditor) -> ControllerDraft:
    profile, problems = await service.get_draft(session=session, actor=actor)
    return _draft(profile, problems)


@router.put(
    "/draft",
    summary="Save a draft of the profile",
    description="Keep a profile without publishing it: the same body as `PUT /v1/controller`, checked for its "
    "form (422 as there for a value that is not valid) but not for completeness. The answer lists the problems "
    "that keep it from being published (`complete` is true when there are none); the public notice stays as it "
    "is. Publish it with `PUT /v1/controller`, which clears the draft. One draft per controller: saving again "
    "replaces it. Audited.",
    responses=problem_responses(400, 401, 403, 415, 422),
    openapi_extra={"requestBody": {"content": {"application/json": {"example": EXAMPLE_PROFILE}}}},
)
async def put_draft(profile: ProfileContent, session: Session, actor: Admin) -> ControllerDraft:
    saved, problems = await service.save_draft(session=session, actor=actor, content=profile)
    return _draft(saved, problems)
