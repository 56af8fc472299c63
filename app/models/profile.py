"""The controller's profile: who the controller is and everything its privacy notice says (the TOML files
of examples/, docs/privacy-notice.md); validated strictly, as admins and operators write it."""

from __future__ import annotations

import calendar
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BeforeValidator,
    Field,
    GetJsonSchemaHandler,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from app.models.base import IsoDate
from app.models.customers import BUSINESS_ID_FORM, CountryCode
from app.models.profile_base import NON_BLANK, TEXT_SCHEMA, Local, LocalText, Strict, Text200
from app.models.recipients import ProfileRecipient
from app.validators import Email, InvalidValue, normalise_business_id, normalise_country, normalise_phone


class ProfileController(Strict):
    name: Text200
    # No maxLength: the profile strips surrounding space before it measures, so the pattern bounds it instead.
    business_id: str | None = Field(
        default=None, pattern=BUSINESS_ID_FORM, description="Y-tunnus, 1234567-8; check digit validated."
    )
    street_address: Text200 | None = None
    postal_code: Annotated[str, Field(max_length=20, pattern=NON_BLANK)] | None = None
    city: Text200 | None = None
    country: CountryCode = "FI"
    phone: str | None = Field(default=None, max_length=40)
    email: Email | None = None
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
            raise InvalidValue("not a day that every year has")
        return value

    def financial_year_first_day(self) -> tuple[int, int]:
        """(month, day) of the financial year's first day."""
        month, day = (int(part) for part in self.financial_year_start.split("-"))
        return month, day

    _country = field_validator("country")(normalise_country)
    _phone = field_validator("phone")(normalise_phone)


class ProfileContactPerson(Strict):
    """Who handles matters concerning the register; a notice may give only an address to write to."""

    name: Text200 | None = None
    title: Text200 | None = None
    title_sv: Text200 | None = Field(default=None, description="The title in Swedish.")
    title_en: Text200 | None = Field(default=None, description="The title in English.")
    phone: str | None = Field(default=None, max_length=40)
    email: Email | None = None

    _phone = field_validator("phone")(normalise_phone)


class ProfileRegister(Strict):
    name: Text200
    name_sv: Text200 | None = Field(default=None, description="The register's name in Swedish.")
    name_en: Text200 | None = Field(default=None, description="The register's name in English.")
    notice_date: IsoDate | None = Field(
        default=None, description="Laatimispäivä: the date the notice was drawn up; not in the future."
    )


# Accounting Act 1336/1997 2:10(2): vouchers are kept at least six years from the end of the financial year.
MIN_VOUCHER_YEARS = 6


class CustomerRetention(Strict):
    """Anonymise a person `years` after the end of their customer relationship."""

    applies_to: Literal["customer"]
    years: int = Field(ge=1, le=100)


class OrderRetention(Strict):
    """Keep orders, as accounting vouchers, `years` from the end of the order's financial year."""

    applies_to: Literal["orders"]
    years: int = Field(
        ge=MIN_VOUCHER_YEARS, le=100, description="At least six: the Accounting Act's minimum (1336/1997 2:10)."
    )


class ProfileRetention(Strict):
    """One retention rule: the text the notice shows, and what `rekisteri retention sweep` enforces."""

    category: Local = Field(description="Record category, e.g. asiakastiedot (customer data).")
    period: Local = Field(description="How long, and from when, as the notice says it.")
    enforce: Annotated[CustomerRetention | OrderRetention, Field(discriminator="applies_to")] | None = Field(
        default=None,
        description="What the sweep does by this rule: `customer` anonymises the person's data, counted from the "
        "end of the customer relationship; `orders` keeps an erased person's orders (vouchers), counted from the "
        "end of the order's financial year. Unset: the rule is stated only.",
    )


class ProfileSecurity(Strict):
    """The principles by which the register is protected (the seeds' "Rekisterin suojauksen periaatteet")."""

    manual: Local | None = Field(default=None, description="A: manual (paper) material.")
    electronic: Local | None = Field(default=None, description="B: data processed electronically.")


# GDPR Art. 6(1): the six lawful bases, by point.
LegalBasis = Literal[
    "consent", "contract", "legal_obligation", "vital_interests", "public_task", "legitimate_interests"
]
BASIS_POINT: dict[str, str] = {
    "consent": "a",
    "contract": "b",
    "legal_obligation": "c",
    "vital_interests": "d",
    "public_task": "e",
    "legitimate_interests": "f",
}


class ProfilePurpose(LocalText):
    """A purpose of the processing, with its legal basis (Art. 13(1)(c)-(d)): the text in Finnish (and
    optionally Swedish and English), the Art. 6(1) point it rests on, and for (f) the legitimate interest in
    words, for (c) the law that obliges."""

    basis: LegalBasis | None = Field(
        default=None,
        description="The Art. 6(1) basis: `consent` (a), `contract` (b), `legal_obligation` (c), "
        "`vital_interests` (d), `public_task` (e), `legitimate_interests` (f). A notice is not published while a "
        "purpose has none.",
    )
    legitimate_interest: Local | None = Field(
        default=None, description="For `legitimate_interests`: the interest pursued, in words (Art. 13(1)(d))."
    )
    law: Local | None = Field(
        default=None, description="For `legal_obligation` or `public_task`: the law, e.g. Kirjanpitolaki 1336/1997."
    )

    @model_validator(mode="after")
    def _basis_details_fit(self) -> ProfilePurpose:
        if self.legitimate_interest is not None and self.basis != "legitimate_interests":
            raise ValueError("a legitimate interest is stated only for the basis `legitimate_interests`")
        if self.law is not None and self.basis not in ("legal_obligation", "public_task"):
            raise ValueError("a law is stated only for the bases `legal_obligation` and `public_task`")
        return self


def _purpose(value: object) -> object:
    # A plain string is the Finnish text of a purpose whose basis is not stated.
    return {"fi": value} if isinstance(value, str) else value


class _OrText:
    """Declares, in the JSON schema, that a plain string is taken too (as its Finnish text)."""

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {"anyOf": [TEXT_SCHEMA, handler(schema)]}


# As JSON: the purpose's object, or a string (its Finnish text, the basis not yet stated).
Purpose = Annotated[ProfilePurpose, BeforeValidator(_purpose), _OrText()]


class ProfileDpo(Strict):
    """The data protection officer (Art. 37-39): whether one is appointed and, if so, how to reach them
    (Art. 13(1)(b), 37(7))."""

    appointed: bool
    name: Text200 | None = None
    email: Email | None = None
    phone: str | None = Field(default=None, max_length=40)
    address: Text200 | None = None

    _phone = field_validator("phone")(normalise_phone)

    @model_validator(mode="after")
    def _contact_if_appointed(self) -> ProfileDpo:
        reachable = self.email or self.phone or self.address
        if self.appointed and not reachable:
            raise ValueError("give the data protection officer's e-mail, phone or address (Art. 13(1)(b), 37(7))")
        if not self.appointed and (reachable or self.name):
            raise ValueError("no officer is appointed: leave out the contact details")
        return self


class ProfileNotice(Strict):
    """What the privacy notice says: the Art. 13-15 information, section by section."""

    introduction: list[Local] = Field(default_factory=list, description="Paragraphs before the sections.")
    purposes: list[Purpose] = Field(
        default_factory=list,
        description='Each purpose with its Art. 6(1) basis: `{ fi = "...", basis = "contract" }`; a plain text '
        "is a purpose whose basis is not yet stated.",
    )
    legal_basis: Local | None = Field(
        default=None,
        description='Anything to add to the bases stated per purpose (the notice lists those itself). "Processed '
        'within the limits of the law" is not a basis.',
    )
    provision_requirement: Local | None = Field(
        default=None,
        description="Whether giving the data is a statutory or contractual requirement or needed to enter a "
        "contract, whether the person must give it, and what follows if they do not (Art. 13(2)(e)).",
    )
    legitimate_interest: Local | None = None
    consent: Local | None = Field(default=None, description="What the notice says of consent and withdrawing it.")
    data_subjects: list[Local] = Field(
        default_factory=list,
        description="Categories of data subjects (rekisteröityjen ryhmät), e.g. customers, business customers' "
        "contact persons (Art. 30(1)(c)).",
    )
    data_groups: list[Local] = Field(
        default_factory=list, description="Categories of personal data concerned (henkilötietoryhmät, Art. 14(1)(d))."
    )
    data_categories: list[Local] = Field(
        default_factory=list, description="The data the register holds (rekisterin tietosisältö)."
    )
    sources: list[Local] = Field(default_factory=list)
    recipients: list[Local] = Field(
        default_factory=list,
        description="Recipients in words, as older notices name them; name each recipient in the profile's "
        "`recipients` register instead, where the notice, the letters and the record of processing find it.",
    )
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


class ProfileMarketing(Strict):
    """How the marketing check applies the law's choices to this controller (docs/marketing.md)."""

    existing_customer_months: int = Field(
        default=DEFAULT_SALE_WINDOW_MONTHS,
        ge=1,
        le=MAX_SALE_WINDOW_MONTHS,
        description="How recent a sale must be for the existing-customer exception to e-mail marketing "
        "(Act 917/2014 § 200(2)): the person bought within this many months, their e-mail was collected at "
        "the sale and they were offered an opt-out. Default 24, at most 60.",
    )


class ProfileContent(Strict):
    """What a profile says: everything but the slug, which names the controller and never changes."""

    default_language: Literal["fi", "sv", "en"] = "fi"
    controller: ProfileController
    contact_person: ProfileContactPerson | None = None
    dpo: ProfileDpo | None = Field(
        default=None,
        description="The data protection officer, or `{ appointed = false }`: a notice says which (Art. 13(1)(b)).",
    )
    register_: ProfileRegister = Field(alias="register")
    notice: ProfileNotice = Field(default_factory=ProfileNotice)
    recipients: list[ProfileRecipient] = Field(
        default_factory=list,
        description="The register of recipients (Art. 13(1)(e)-(f), 30(1)(d)-(e)): each with its name, category, "
        "the data it receives and why, its country and, outside the EU/EEA, the transfer mechanism.",
    )
    marketing: ProfileMarketing = Field(default_factory=ProfileMarketing)

    @field_validator("recipients")
    @classmethod
    def _recipient_ids_unique(cls, recipients: list[ProfileRecipient]) -> list[ProfileRecipient]:
        ids = [r.id for r in recipients]
        if len(ids) != len(set(ids)):
            raise ValueError("each recipient needs its own `id`")
        return recipients

    def recipient(self, recipient_id: str) -> ProfileRecipient | None:
        """The recipient of the register with this id, if any."""
        return next((r for r in self.recipients if r.id == recipient_id), None)


class ControllerProfile(ProfileContent):
    """A controller's profile as kept in a TOML file (see examples/)."""

    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")

    @classmethod
    def load(cls, path: Path) -> ControllerProfile:
        """Read and validate a profile file."""
        with path.open("rb") as fh:
            return cls.model_validate(tomllib.load(fh))
