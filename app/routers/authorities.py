"""The EU/EEA supervisory authorities a person may complain to (GDPR Art. 77); public, no key."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from app.errors import NotFound, problem_responses
from app.services import authorities

router = APIRouter(prefix="/v1/complaint-authorities", tags=["complaint authorities"])

_FINLAND: dict[str, Any] = dataclasses.asdict(authorities.finland())  # the example is the data


class AuthorityPublic(BaseModel):
    """One supervisory authority; `verified` says, per field, whether it was checked at the source."""

    model_config = ConfigDict(json_schema_extra={"examples": [_FINLAND]})

    country: str = Field(description="ISO 3166-1 alpha-2.")
    name_en: str
    name_native: str
    website: str
    email: str | None
    phone: str | None
    street_address: str | None
    postal_address: str | None
    source: str = Field(description="Where the details were checked.")
    verified: dict[str, bool] = Field(
        description="Per field: true when seen on the authority's own site or the EDPB members list; false is best "
        "knowledge, to be checked before relying on it."
    )
    note: str | None = None


class AuthorityList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"checked_on": "2026-11-22", "items": [_FINLAND]}]})

    checked_on: str = Field(description="When the data set was last checked.")
    items: list[AuthorityPublic] = Field(description="All 30: the 27 EU member states, Iceland, Liechtenstein, Norway.")


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
