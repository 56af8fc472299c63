"""The EU/EEA supervisory authorities as the API shows them (GDPR Art. 77)."""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.services import authorities

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
