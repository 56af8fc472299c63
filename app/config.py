"""Settings from the environment (prefix REKISTERI_) and the controller profile schema."""

from __future__ import annotations

import base64
import datetime as dt
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
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

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


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ProfileController(_Strict):
    name: str = Field(min_length=1, max_length=200)
    business_id: str | None = None
    street_address: str | None = None
    postal_code: str | None = None
    city: str | None = None
    country: str = "FI"
    phone: str | None = None
    email: EmailStr | None = None
    website: str | None = None

    _business_id = field_validator("business_id")(normalise_business_id)
    _country = field_validator("country")(normalise_country)
    _phone = field_validator("phone")(normalise_phone)


class ProfileContactPerson(_Strict):
    name: str = Field(min_length=1, max_length=200)
    title: str | None = None
    phone: str | None = None
    email: EmailStr | None = None

    _phone = field_validator("phone")(normalise_phone)


class ProfileRegister(_Strict):
    name: str = Field(min_length=1, max_length=200)
    notice_date: dt.date | None = None


class LocalText(_Strict):
    """A text in Finnish, with optional Swedish and English versions."""

    fi: str = Field(min_length=1, max_length=5000)
    sv: str | None = Field(default=None, max_length=5000)
    en: str | None = Field(default=None, max_length=5000)

    def get(self, lang: str) -> str:
        """The text in `lang`, falling back to Finnish."""
        value = getattr(self, lang, None)
        return value if isinstance(value, str) else self.fi


def _local(value: object) -> object:
    # A plain string in the file is the Finnish text.
    return {"fi": value} if isinstance(value, str) else value


Local = Annotated[LocalText, BeforeValidator(_local)]


class ProfileRetention(_Strict):
    category: str = Field(min_length=1, max_length=200, description="Record category, e.g. customer data.")
    period: Local = Field(description="How long, and from when.")


class ProfileNotice(_Strict):
    """What the privacy notice says: the Art. 13-15 information an access answer repeats, tailored."""

    purposes: list[Local] = Field(default_factory=list)
    legal_basis: Local | None = None
    legitimate_interest: Local | None = None
    data_categories: list[Local] = Field(default_factory=list)
    sources: list[Local] = Field(default_factory=list)
    recipients: list[Local] = Field(default_factory=list)
    disclosures: list[Local] = Field(default_factory=list)
    transfers: Local | None = Field(default=None, description="Transfers outside the EU/EEA and their safeguards.")
    retention: list[ProfileRetention] = Field(default_factory=list)
    automated_decisions: Local | None = Field(default=None, description="Automated decision-making, profiling.")


class ControllerProfile(_Strict):
    """A controller's profile as kept in a TOML file (see examples/)."""

    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    default_language: Literal["fi", "sv", "en"] = "fi"
    controller: ProfileController
    contact_person: ProfileContactPerson | None = None
    register_: ProfileRegister = Field(alias="register")
    notice: ProfileNotice = Field(default_factory=ProfileNotice)

    @classmethod
    def load(cls, path: Path) -> ControllerProfile:
        """Read and validate a profile file."""
        with path.open("rb") as fh:
            return cls.model_validate(tomllib.load(fh))
