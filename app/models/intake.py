"""What a data subject request carries when it arrives: who it is from, and each right's own fields."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from app.models.base import IsoDateTime
from app.models.customers import CountryCode, CustomerFields, CustomerUpdate
from app.models.marketing import Channel
from app.models.requests import (
    AnswerLanguage,
    ErasureGround,
    ObjectionKind,
    RequestChannel,
    RequestType,
    RestrictionGround,
)
from app.validators import Email, normalise_country, normalise_phone


class PersonDetails(BaseModel):
    """Who the request is from, when they are not known by id: used to find them in the register."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)
    email: Email | None = None
    phone: str | None = Field(default=None, max_length=32)
    external_id: str | None = Field(default=None, min_length=1, max_length=200)
    street_address: str | None = Field(default=None, max_length=300)
    postal_code: str | None = Field(default=None, max_length=20)
    city: str | None = Field(default=None, max_length=200)
    country: CountryCode | None = Field(
        default=None, max_length=2, description="Where the person lives or works: names their own authority."
    )

    _phone = field_validator("phone")(normalise_phone)
    _country = field_validator("country")(normalise_country)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return None if value is None else value.lower()


RECTIFIABLE = tuple(name for name in CustomerFields.model_fields if name not in {"kind", "external_id"})


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            return _inline(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
        return {k: _inline(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


def _corrections_schema() -> dict[str, Any]:
    """The corrections object: a customer's fields, each with its own schema."""
    schema = CustomerUpdate.model_json_schema()
    defs = schema.get("$defs", {})
    return {
        "type": "object",
        "description": "Field name → correct value (null: remove the value); the fields are a customer's.",
        "properties": {name: _inline(schema["properties"][name], defs) for name in RECTIFIABLE},
        "additionalProperties": False,
        "minProperties": 1,
    }


class Rectification(BaseModel):
    """Art. 16: the fields the person says are wrong, with their correct values (null: remove the value)."""

    model_config = ConfigDict(extra="forbid")

    corrections: Annotated[dict[str, Any], WithJsonSchema(_corrections_schema())] = Field(
        min_length=1, max_length=len(RECTIFIABLE)
    )

    @field_validator("corrections")
    @classmethod
    def _known_fields(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(value) - set(RECTIFIABLE))
        if unknown:
            raise ValueError("not a customer field: " + ", ".join(unknown))
        return value


class Restriction(BaseModel):
    """Art. 18(1): why processing is to be restricted."""

    model_config = ConfigDict(extra="forbid")

    ground: RestrictionGround
    contested_fields: list[str] = Field(
        default_factory=list,
        max_length=len(RECTIFIABLE),
        description="For accuracy_contested: the fields in dispute; only these may be corrected meanwhile.",
        json_schema_extra={"items": {"enum": list(RECTIFIABLE)}},
    )

    @field_validator("contested_fields")
    @classmethod
    def _known_fields(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(RECTIFIABLE))
        if unknown:
            raise ValueError("not a customer field: " + ", ".join(unknown))
        return sorted(set(value))


class Objection(BaseModel):
    """Art. 21: to direct marketing (absolute), or on grounds of the person's particular situation."""

    model_config = ConfigDict(extra="forbid")

    kind: ObjectionKind


class Erasure(BaseModel):
    """Art. 17(1): the ground the person relies on."""

    model_config = ConfigDict(extra="forbid")

    ground: ErasureGround


class Prohibition(BaseModel):
    """The channels the person forbids; empty means every channel."""

    model_config = ConfigDict(extra="forbid")

    channels: list[Channel] = Field(default_factory=list, max_length=len(Channel))


_TYPE_FIELDS = {
    RequestType.rectification: "rectification",
    RequestType.restriction: "restriction",
    RequestType.objection: "objection",
    RequestType.erasure: "erasure",
    RequestType.marketing_prohibition: "prohibition",
}


def _variants() -> list[JsonValue]:
    """One schema per request type: its own fields required (or optional), the others' absent."""
    variants: list[JsonValue] = []
    for rtype in RequestType:
        own = _TYPE_FIELDS.get(rtype)
        properties: dict[str, Any] = {"type": {"const": rtype.value}}
        for name in _TYPE_FIELDS.values():
            if name != own:
                properties[name] = {"type": "null"}
        variant: dict[str, Any] = {"properties": properties}
        if own is not None and own != "prohibition":
            properties[own] = {"type": "object"}
            variant["required"] = [own]
        variants.append(variant)
    return variants


class RequestCreate(BaseModel):
    """A request as it arrived. Any channel and language will do; no signature is needed."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": _variants(),
            "examples": [
                {
                    "type": "access",
                    "customer_id": "0b7e4c1e-3f0a-4d5e-9a7b-2f6c1d8e9a01",
                    "channel": "letter",
                    "language": "fi",
                    "received_at": "2026-11-20T09:00:00+02:00",
                    "details": "Pyytää kaikki tietonsa.",
                },
                {
                    "type": "erasure",
                    "person": {"email": "maija.meikalainen@example.fi"},
                    "channel": "email",
                    "erasure": {"ground": "no_longer_necessary"},
                },
            ],
        },
    )

    type: RequestType
    customer_id: uuid.UUID | None = Field(default=None, description="The customer, when known.")
    person: PersonDetails | None = Field(
        default=None,
        description="Identifying details as the person gave them; matched against the register when "
        "customer_id is not given (one exact match on e-mail, phone or external id links the request).",
    )
    channel: RequestChannel
    language: str | None = Field(
        default=None, max_length=35, description="The language the person wrote in (any; BCP 47 tag or name)."
    )
    answer_language: AnswerLanguage | None = Field(
        default=None, description="Language of the answer letter; default: the customer's, else the controller's."
    )
    received_at: IsoDateTime | None = Field(
        default=None, description="When it reached the controller (default: now); a letter may be older."
    )
    details: str | None = Field(default=None, max_length=20000, description="Free text: what the person asked.")
    rectification: Rectification | None = None
    restriction: Restriction | None = None
    objection: Objection | None = None
    erasure: Erasure | None = None
    prohibition: Prohibition | None = None

    @model_validator(mode="after")
    def _type_fields(self) -> RequestCreate:
        wanted = _TYPE_FIELDS.get(self.type)
        for rtype, name in _TYPE_FIELDS.items():
            given = getattr(self, name) is not None
            if rtype is self.type and not given and name != "prohibition":
                raise ValueError(f"a {self.type.value} request needs `{name}`")
            if given and name != wanted:
                raise ValueError(f"`{name}` belongs to a {rtype.value} request, not {self.type.value}")
        return self
