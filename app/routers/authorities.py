"""The EU/EEA supervisory authorities a person may complain to (GDPR Art. 77); public, no key."""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Path

from app.errors import NotFound, problem_responses
from app.models.authorities import AuthorityList, AuthorityPublic
from app.services import authorities

router = APIRouter(prefix="/v1/complaint-authorities", tags=["complaint authorities"])


def _public(authority: authorities.Authority) -> AuthorityPublic:
    return AuthorityPublic.model_validate(dataclasses.asdict(authority))


@router.get(
    "",
    summary="Every EU/EEA supervisory authority",
    description="A person may complain to the supervisory authority of the EU/EEA country where they live or "
    "work, or where the infringement took place (GDPR Art. 77); this register's own is Finland's Office of the "
    "Data Protection Ombudsman. Public: no key. The data set ships with the service (`app/data/authorities.json`, "
    "with its sources); each field says whether it was verified.",
)
async def list_authorities() -> AuthorityList:
    return AuthorityList(checked_on=authorities.checked_on(), items=[_public(a) for a in authorities.all_authorities()])


@router.get(
    "/{country}",
    summary="One country's supervisory authority",
    description="By ISO 3166-1 alpha-2 code, any case (`fi`, `SE`). Public: no key. 404 outside the EU/EEA.",
    responses=problem_responses(404, 422),
)
async def get_authority(
    country: Annotated[str, Path(min_length=2, max_length=2, pattern="^[A-Za-z]{2}$", description="e.g. FI")],
) -> AuthorityPublic:
    found = authorities.authority(country)
    if found is None:
        raise NotFound("No EU/EEA supervisory authority for that country code.")
    return _public(found)
