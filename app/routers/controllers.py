"""The controller's profile: what its privacy notice says, kept current by its admins."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from app.config import ProfileContent
from app.db import Session
from app.errors import problem_responses
from app.routers._http import IfMatch, etag, expected_versions
from app.security import Admin, Officer
from app.services import controllers as service

router = APIRouter(prefix="/v1/controller", tags=["controller"])

_EXAMPLE_PROFILE: dict[str, Any] = {
    "default_language": "fi",
    "controller": {"name": "SonMark Oy", "business_id": "2477816-7", "city": "Espoo", "country": "FI"},
    "contact_person": {"name": "Ülar Mihkelson", "title": "toimitusjohtaja", "email": "ular.mihkelson@sonmark.fi"},
    "register": {"name": "Asiakasrekisteri", "notice_date": "2026-12-01"},
    "notice": {
        "purposes": [{"fi": "Asiakassuhteen hoitaminen", "en": "Managing the customer relationship"}],
        "retention": [
            {
                "category": {"fi": "Asiakastiedot", "en": "Customer data"},
                "period": {"fi": "10 vuotta asiakkuuden päättymisestä.", "en": "10 years from the end."},
                "enforce": {"applies_to": "customer", "years": 10},
            }
        ],
    },
}


class ControllerProfilePublic(BaseModel):
    """The controller, its profile, and the version of the privacy notice it is published as."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "8f0e7a52-5b7e-4d53-9a54-2b1d0d1f3c11",
                    "slug": "sonmark",
                    "notice_version": 3,
                    "notice_date": "2026-12-01",
                    "updated_at": "2026-12-01T09:00:00Z",
                    "profile": _EXAMPLE_PROFILE,
                }
            ]
        }
    )

    id: uuid.UUID
    slug: str
    notice_version: int = Field(description="The version of the privacy notice in force; the ETag is its number.")
    notice_date: dt.date = Field(description="Laatimispäivä of that version.")
    updated_at: dt.datetime | None
    profile: dict[str, Any] = Field(
        description="The profile, as in the TOML files of examples/ (docs/privacy-notice.md)."
    )


def _public(controller: Any, notice: Any, response: Response) -> ControllerProfilePublic:
    response.headers["ETag"] = etag(notice.version)
    return ControllerProfilePublic(
        id=controller.id,
        slug=controller.slug,
        notice_version=notice.version,
        notice_date=notice.notice_date,
        updated_at=controller.updated_at,
        profile={k: v for k, v in notice.profile.items() if k != "slug"},
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
    responses=problem_responses(400, 401, 403, 412, 415, 422),
    openapi_extra={"requestBody": {"content": {"application/json": {"example": _EXAMPLE_PROFILE}}}},
)
async def put_controller(
    profile: ProfileContent, session: Session, actor: Admin, response: Response, if_match: IfMatch = None
) -> ControllerProfilePublic:
    controller, notice, _ = await service.update_profile(
        session=session, actor=actor, content=profile, expected=expected_versions(if_match)
    )
    return _public(controller, notice, response)
