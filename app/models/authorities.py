"""The EU/EEA supervisory authorities as the API shows them (GDPR Art. 77)."""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.services import authorities

_FINLAND: dict[str, Any] = dataclasses.asdict(authorities.finland())  # the example is the data


class RegionPublic(BaseModel):
    """A regional authority of a federal state (Germany's Länder), by ISO 3166-2 code."""

    code: str = Field(description="ISO 3166-2, e.g. DE-BY.")
    name_en: str
    name_native: str
    website: str
    verified: dict[str, bool]


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
    regional_note: str | None = Field(
        default=None, description="Where regional authorities supervise private companies (Germany): where to turn."
    )
    regions: list[RegionPublic] = Field(default_factory=list, description="The regional authorities, if any.")


class AuthorityList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"checked_on": "2026-11-22", "items": [_FINLAND]}]})

    checked_on: str = Field(description="When the data set was last checked.")
    items: list[AuthorityPublic] = Field(description="All 30: the 27 EU member states, Iceland, Liechtenstein, Norway.")
