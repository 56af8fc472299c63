"""The controller's profile: who the controller is and everything its privacy notice says (the TOML files
of examples/, docs/privacy-notice.md); validated strictly, as admins and operators write it."""

from __future__ import annotations

import calendar
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    WithJsonSchema,
    field_validator,
)

from app.models.base import IsoDate
from app.models.customers import CountryCode
from app.validators import normalise_business_id, normalise_country, normalise_phone

_NON_BLANK = r"^[^\x00]*[^\s\x00][^\x00]*$"
_NO_NUL = r"^[^\x00]*$"
Text200 = Annotated[str, Field(min_length=1, max_length=200, pattern=_NON_BLANK)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ProfileController(_Strict):
    name: Text200
    business_id: str | None = Field(default=None, max_length=20)
    street_address: Text200 | None = None
    postal_code: Annotated[str, Field(max_length=20, pattern=_NON_BLANK)] | None = None
    city: Text200 | None = None
    country: CountryCode = "FI"
    phone: str | None = Field(default=None, max_length=40)
    email: EmailStr | None = None
    website: Text200 | None = None
    region: str | None = Field(
        default=None,
        pattern=r"^[A-Z]{2}-[A-Z0-9]{1,3}$",
        description="ISO 3166-2 code of the region the controller is established in, where regional authorities "
        "supervise companies (Germany's Länder, e.g. DE-BY): letters and exports then name that authority.",
    )
    financial_year_start: str = Field(
        default="01-01",
        pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$",
        description="The first day of the financial year, MM-DD (tilikausi; e.g. 07-01 for 1.7.-30.6.): the "
        "Accounting Act counts how long vouchers are kept from the end of the year in which it ends.",
    )

    _business_id = field_validator("business_id")(normalise_business_id)

    @field_validator("financial_year_start")
    @classmethod
    def _a_real_day(cls, value: str) -> str:
        month, day = (int(part) for part in value.split("-"))
        if value == "02-29" or day > calendar.monthrange(2001, month)[1]:
            raise ValueError("not a day that every year has")
        return value

    def financial_year_first_day(self) -> tuple[int, int]:
        """(month, day) of the financial year's first day."""
        month, day = (int(part) for part in self.financial_year_start.split("-"))
        return month, day

    _country = field_validator("country")(normalise_country)
    _phone = field_validator("phone")(normalise_phone)


class ProfileContactPerson(_Strict):
    """Who handles matters concerning the register; a notice may give only an address to write to."""

    name: Text200 | None = None
    title: Text200 | None = None
    title_sv: Text200 | None = Field(default=None, description="The title in Swedish.")
    title_en: Text200 | None = Field(default=None, description="The title in English.")
    phone: str | None = Field(default=None, max_length=40)
    email: EmailStr | None = None

    _phone = field_validator("phone")(normalise_phone)


class ProfileRegister(_Strict):
    name: Text200
    name_sv: Text200 | None = Field(default=None, description="The register's name in Swedish.")
    name_en: Text200 | None = Field(default=None, description="The register's name in English.")
    notice_date: IsoDate | None = Field(
        default=None, description="Laatimispäivä: the date the notice was drawn up; not in the future."
    )


class LocalText(_Strict):
    """A text in Finnish, with optional Swedish and English versions."""

    fi: str = Field(min_length=1, max_length=5000, pattern=_NON_BLANK)
    sv: str | None = Field(default=None, max_length=5000, pattern=_NO_NUL)
    en: str | None = Field(default=None, max_length=5000, pattern=_NO_NUL)

    def get(self, lang: str) -> str:
        """The text in `lang`, falling back to Finnish."""
        value = getattr(self, lang, None)
        return value if isinstance(value, str) and value else self.fi


def _local(value: object) -> object:
    # A plain string in the file is the Finnish text.
    return {"fi": value} if isinstance(value, str) else value


_TEXT_SCHEMA = {"type": "string", "minLength": 1, "maxLength": 5000, "pattern": _NON_BLANK}
_OPTIONAL_TEXT_SCHEMA = {"anyOf": [{"type": "string", "maxLength": 5000, "pattern": _NO_NUL}, {"type": "null"}]}
# As JSON: a string (the Finnish text) or {"fi": ..., "sv": ..., "en": ...}.
Local = Annotated[
    LocalText,
    BeforeValidator(_local),
    WithJsonSchema(
        {
            "anyOf": [
                _TEXT_SCHEMA,
                {
                    "type": "object",
                    "properties": {"fi": _TEXT_SCHEMA, "sv": _OPTIONAL_TEXT_SCHEMA, "en": _OPTIONAL_TEXT_SCHEMA},
                    "required": ["fi"],
                    "additionalProperties": False,
                },
            ],
            "description": "A text in Finnish (a string), or in Finnish with optional Swedish and English.",
        }
    ),
]


# Accounting Act 1336/1997 2:10(2): vouchers are kept at least six years from the end of the financial year.
MIN_VOUCHER_YEARS = 6


class CustomerRetention(_Strict):
    """Anonymise a person `years` after the end of their customer relationship."""

    applies_to: Literal["customer"]
    years: int = Field(ge=1, le=100)


class OrderRetention(_Strict):
    """Keep orders, as accounting vouchers, `years` from the end of the order's financial year."""

    applies_to: Literal["orders"]
    years: int = Field(
        ge=MIN_VOUCHER_YEARS, le=100, description="At least six: the Accounting Act's minimum (1336/1997 2:10)."
    )


class ProfileRetention(_Strict):
    """One retention rule: the text the notice shows, and what `rekisteri retention sweep` enforces."""

    category: Local = Field(description="Record category, e.g. asiakastiedot (customer data).")
    period: Local = Field(description="How long, and from when, as the notice says it.")
    enforce: Annotated[CustomerRetention | OrderRetention, Field(discriminator="applies_to")] | None = Field(
        default=None,
        description="What the sweep does by this rule: `customer` anonymises the person's data, counted from the "
        "end of the customer relationship; `orders` keeps an erased person's orders (vouchers), counted from the "
        "end of the order's financial year. Unset: the rule is stated only.",
    )


class ProfileSecurity(_Strict):
    """The principles by which the register is protected (the seeds' "Rekisterin suojauksen periaatteet")."""

    manual: Local | None = Field(default=None, description="A: manual (paper) material.")
    electronic: Local | None = Field(default=None, description="B: data processed electronically.")


class ProfileNotice(_Strict):
    """What the privacy notice says: the Art. 13-15 information, section by section."""

    introduction: list[Local] = Field(default_factory=list, description="Paragraphs before the sections.")
    purposes: list[Local] = Field(default_factory=list)
    legal_basis: Local | None = None
    provision_requirement: Local | None = Field(
        default=None,
        description="Whether giving the data is a statutory or contractual requirement or needed to enter a "
        "contract, whether the person must give it, and what follows if they do not (Art. 13(2)(e)).",
    )
    legitimate_interest: Local | None = None
    consent: Local | None = Field(default=None, description="What the notice says of consent and withdrawing it.")
    data_groups: list[Local] = Field(
        default_factory=list, description="Categories of personal data concerned (henkilötietoryhmät, Art. 14(1)(d))."
    )
    data_categories: list[Local] = Field(
        default_factory=list, description="The data the register holds (rekisterin tietosisältö)."
    )
    sources: list[Local] = Field(default_factory=list)
    recipients: list[Local] = Field(default_factory=list)
    recipient_categories: list[Local] = Field(default_factory=list, description="Categories of recipients.")
    disclosures: list[Local] = Field(default_factory=list, description="Regular disclosures.")
    transfers: Local | None = Field(default=None, description="Transfers outside the EU/EEA.")
    transfer_safeguards: Local | None = Field(
        default=None, description="The safeguards of those transfers (GDPR Chapter V, e.g. Art. 46 clauses)."
    )
    retention: list[ProfileRetention] = Field(default_factory=list)
    security: ProfileSecurity | None = None
    cookies: list[Local] = Field(default_factory=list, description="Paragraphs on cookies.")
    automated_decisions: Local | None = Field(default=None, description="Automated decision-making, profiling.")
    exercising_rights: Local | None = Field(
        default=None, description="Where and how to use the rights with this controller (any form is valid)."
    )

    @field_validator("retention")
    @classmethod
    def _one_rule_to_enforce_each(cls, rules: list[ProfileRetention]) -> list[ProfileRetention]:
        kinds = [r.enforce.applies_to for r in rules if r.enforce is not None]
        if len(kinds) != len(set(kinds)):
            raise ValueError("enforce one rule for customer data and one for orders at most: which would apply?")
        return rules

    def enforced(self, applies_to: Literal["customer", "orders"]) -> int | None:
        """The years of the rule the sweep enforces for `applies_to`, if the profile has one."""
        years = [r.enforce.years for r in self.retention if r.enforce and r.enforce.applies_to == applies_to]
        return years[0] if years else None


# Act 917/2014 § 200(2) sets no period; a sale two years back is the default reading of a recent one
# (docs/marketing.md), and a window past five years would no longer be an existing customer relationship.
DEFAULT_SALE_WINDOW_MONTHS = 24
MAX_SALE_WINDOW_MONTHS = 60


class ProfileMarketing(_Strict):
    """How the marketing check applies the law's choices to this controller (docs/marketing.md)."""

    existing_customer_months: int = Field(
        default=DEFAULT_SALE_WINDOW_MONTHS,
        ge=1,
        le=MAX_SALE_WINDOW_MONTHS,
        description="How recent a sale must be for the existing-customer exception to e-mail marketing "
        "(Act 917/2014 § 200(2)): the person bought within this many months, their e-mail was collected at "
        "the sale and they were offered an opt-out. Default 24, at most 60.",
    )


class ProfileContent(_Strict):
    """What a profile says: everything but the slug, which names the controller and never changes."""

    default_language: Literal["fi", "sv", "en"] = "fi"
    controller: ProfileController
    contact_person: ProfileContactPerson | None = None
    register_: ProfileRegister = Field(alias="register")
    notice: ProfileNotice = Field(default_factory=ProfileNotice)
    marketing: ProfileMarketing = Field(default_factory=ProfileMarketing)


class ControllerProfile(ProfileContent):
    """A controller's profile as kept in a TOML file (see examples/)."""

    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")

    @classmethod
    def load(cls, path: Path) -> ControllerProfile:
        """Read and validate a profile file."""
        with path.open("rb") as fh:
            return cls.model_validate(tomllib.load(fh))
