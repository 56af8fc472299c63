"""Settings from the environment (prefix REKISTERI_) and the controller profile schema."""

from __future__ import annotations

import base64
import secrets
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    SecretStr,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.models.base import IsoDate
from app.models.customers import CountryCode
from app.validators import normalise_business_id, normalise_country, normalise_phone

_PLACEHOLDERS = {"changeme", "change-me", "secret", "placeholder", "xxx", ""}


class Settings(BaseSettings):
    """Everything an operator can set; see docs/operator.md."""

    model_config = SettingsConfigDict(env_prefix="REKISTERI_", extra="ignore")

    environment: Literal["development", "production"] = "development"
    database_url: str | None = Field(
        default=None, description="postgresql+psycopg:// URL; unset starts the embedded server."
    )
    data_dir: Path = Path(".data")
    master_key: SecretStr | None = None
    migrate_on_start: bool = False
    webhook_private_addresses: bool | None = Field(
        default=None,
        description="Allow webhook receivers on private or loopback addresses; default: only in development.",
    )
    worker_in_process: bool = Field(
        default=False, description="Run the background worker inside the API process (one-machine set-ups)."
    )
    identity_pauses_clock: bool = Field(
        default=True,
        description="While a request awaits proof of identity, its deadline stands still (Art. 12(6)).",
    )
    rate_limit_per_second: float = Field(
        default=100.0,
        ge=0,
        description="Requests a second each API key may make, shared by every API process; 0 turns it off.",
    )
    rate_limit_burst: int = Field(default=200, ge=1, description="Requests a key may make at once above the rate.")
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Web origins whose pages may call the API from a browser (CORS); none by default.",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="The largest JSON body taken; a larger one is refused with 413."
    )
    max_stream_bytes: int = Field(
        default=1024**3,
        ge=1024,
        description="The largest streamed body (an import, a campaign list); a larger one is refused with 413.",
    )
    log_level: str = "INFO"
    app_db_role: str = Field(default="rekisteri_app", pattern=r"^[a-z_][a-z0-9_]{0,62}$")

    @field_validator("master_key")
    @classmethod
    def _real_master_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        raw = value.get_secret_value()
        if raw.strip().lower() in _PLACEHOLDERS:
            raise ValueError("REKISTERI_MASTER_KEY is a placeholder; generate 32 random bytes")
        try:
            decoded = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        except ValueError as exc:
            raise ValueError("REKISTERI_MASTER_KEY must be base64url") from exc
        if len(decoded) != 32:
            raise ValueError("REKISTERI_MASTER_KEY must decode to 32 bytes")
        return value

    @model_validator(mode="after")
    def _private_webhooks_in_development(self) -> Settings:
        if self.webhook_private_addresses is None:
            self.webhook_private_addresses = self.environment == "development"
        return self

    @model_validator(mode="after")
    def _master_key_outside_development(self) -> Settings:
        if self.environment != "development" and self.master_key is None:
            raise ValueError("REKISTERI_MASTER_KEY must be set outside development")
        return self

    def master_key_bytes(self) -> bytes:
        """Return the master key; in development, one kept in the data directory."""
        if self.master_key is not None:
            raw = self.master_key.get_secret_value()
            return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        path = self.data_dir / "master.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
            path.chmod(0o600)
        raw = path.read_text().strip()
        return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings."""
    return Settings()


# Text a person reads: not blank, and no NUL (PostgreSQL cannot store it); stated in the schema too.
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

    _business_id = field_validator("business_id")(normalise_business_id)
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


class ProfileContent(_Strict):
    """What a profile says: everything but the slug, which names the controller and never changes."""

    default_language: Literal["fi", "sv", "en"] = "fi"
    controller: ProfileController
    contact_person: ProfileContactPerson | None = None
    register_: ProfileRegister = Field(alias="register")
    notice: ProfileNotice = Field(default_factory=ProfileNotice)


class ControllerProfile(ProfileContent):
    """A controller's profile as kept in a TOML file (see examples/)."""

    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")

    @classmethod
    def load(cls, path: Path) -> ControllerProfile:
        """Read and validate a profile file."""
        with path.open("rb") as fh:
            return cls.model_validate(tomllib.load(fh))
