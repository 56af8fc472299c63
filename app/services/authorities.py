"""The EU/EEA data protection supervisory authorities a person may complain to (GDPR Art. 77).

A refusal must name the supervisory authority and how to reach it. The register's own authority is Finland's
Office of the Data Protection Ombudsman; a person may also complain in the EU/EEA country where they live or work.
The data set (`app/data/authorities.json`) holds all 30 authorities (27 EU member states, Iceland, Liechtenstein and
Norway); each contact detail says whether it was checked against the authority's own site (`verified`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from typing import Any

FINLAND = "FI"
VERIFIED_FIELDS = ("name_en", "name_native", "website", "email", "phone", "street_address", "postal_address")
_DATA_PACKAGE = "app"


@dataclass(frozen=True, slots=True)
class Region:
    """A regional authority of a federal state (Germany's Länder), by ISO 3166-2 code; details unverified."""

    code: str
    name_en: str
    name_native: str
    website: str
    verified: dict[str, bool]


@dataclass(frozen=True, slots=True)
class Authority:
    """One supervisory authority and its contact details.

    `verified` maps each contact field to whether its value was seen on the authority's own site (or the EDPB
    members list); unverified values are best knowledge and should be presented as such.
    """

    country: str
    name_en: str
    name_native: str
    website: str
    email: str | None
    phone: str | None
    street_address: str | None
    postal_address: str | None
    source: str
    verified: dict[str, bool]
    note: str | None = None
    # Where regional authorities supervise private companies (Germany): what a person must know, and who they are.
    regional_note: str | None = None
    regions: tuple[Region, ...] = ()

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Authority:
        """Build an authority from one entry of the data set, checking its shape."""
        verified = raw["verified"]
        missing = set(VERIFIED_FIELDS) - set(verified)
        if missing:
            raise ValueError(f"authority {raw.get('country')!r}: verified lacks {sorted(missing)}")
        return cls(
            country=str(raw["country"]).upper(),
            name_en=str(raw["name_en"]),
            name_native=str(raw["name_native"]),
            website=str(raw["website"]),
            email=_optional(raw.get("email")),
            phone=_optional(raw.get("phone")),
            street_address=_optional(raw.get("street_address")),
            postal_address=_optional(raw.get("postal_address")),
            source=str(raw["source"]),
            verified={field: bool(verified[field]) for field in VERIFIED_FIELDS},
            note=_optional(raw.get("note")),
            regional_note=_optional(raw.get("regional_note")),
            regions=tuple(Region(**region) for region in raw.get("regions", ())),
        )

    def is_verified(self, field: str) -> bool:
        """Whether the value of `field` was checked against the authority's own site."""
        return self.verified.get(field, False)


def _optional(value: object) -> str | None:
    return None if value is None else str(value)


@lru_cache(maxsize=1)
def _document() -> dict[str, Any]:
    resource = files(_DATA_PACKAGE) / "data" / "authorities.json"
    return json.loads(resource.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@lru_cache(maxsize=1)
def _load() -> tuple[Authority, ...]:
    authorities = sorted((Authority.from_dict(entry) for entry in _document()["authorities"]), key=lambda a: a.country)
    return tuple(authorities)


def checked_on() -> str:
    """When the data set was last checked against its sources (ISO date)."""
    return str(_document()["checked_on"])


@lru_cache(maxsize=1)
def _by_country() -> dict[str, Authority]:
    return {a.country: a for a in _load()}


def all_authorities() -> list[Authority]:
    """All 30 EU/EEA supervisory authorities, sorted by ISO 3166-1 alpha-2 country code."""
    return list(_load())


def authority(country: str | None) -> Authority | None:
    """The authority of `country` (ISO 3166-1 alpha-2, any case), or None when unknown or not given."""
    if not country:
        return None
    return _by_country().get(country.strip().upper())


def finland() -> Authority:
    """Finland's Office of the Data Protection Ombudsman, the register's own supervisory authority."""
    found = authority(FINLAND)
    if found is None:  # pragma: no cover - the data set always holds Finland
        raise LookupError("the authority data set has no entry for Finland")
    return found


def for_person(country: str | None, controller_region: str | None = None) -> list[Authority]:
    """The authorities to name to a person: Finland first, then their own country's when known and different.

    In a federal state whose regions supervise private companies (Germany), the region's authority stands in for
    the federal one where the controller's profile names its region (ISO 3166-2, e.g. DE-BY); else the federal
    authority is named with its `regional_note`, which says where to turn.
    """
    result = [finland()]
    own = authority(country)
    if own is not None and own.country != FINLAND:
        result.append(regional(own, controller_region) or own)
    return result


def regional(national: Authority, code: str | None) -> Authority | None:
    """The region `code`'s authority in the country of `national`, as an Authority; None when not one of its regions."""
    region = next((r for r in national.regions if code and r.code == code.strip().upper()), None)
    if region is None:
        return None
    unverified = dict.fromkeys(VERIFIED_FIELDS, False)
    return Authority(
        country=national.country,
        name_en=region.name_en,
        name_native=region.name_native,
        website=region.website,
        email=None,
        phone=None,
        street_address=None,
        postal_address=None,
        source=region.website,
        verified=unverified,
        note=f"The supervisory authority of the controller's region ({region.code}); details unverified.",
    )
