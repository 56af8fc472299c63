"""Settings from the environment (prefix REKISTERI_); the controller profile is in app/models/profile.py."""

from __future__ import annotations

import base64
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import (
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

_PLACEHOLDERS = {"changeme", "change-me", "secret", "placeholder", "xxx", ""}


class Settings(BaseSettings):
    """Everything an operator can set; see docs/operator.md."""

    model_config = SettingsConfigDict(env_prefix="REKISTERI_", extra="ignore")

    # Production rules unless told otherwise: `make run` and the tests opt into development.
    environment: Literal["development", "production"] = "production"
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
    worker_concurrency: int = Field(
        default=32, ge=2, description="Jobs a worker runs at once; webhook deliveries mostly wait on the network."
    )
    webhook_controller_concurrency: int = Field(
        default=8, ge=1, description="Job slots of a worker one controller's deliveries may hold at once."
    )
    webhook_subscriber_concurrency: int = Field(
        default=2, ge=1, description="Deliveries under way to one subscriber at once, per worker."
    )
    worker_heartbeat_seconds: float = Field(
        default=10.0, gt=0, description="How often each worker tells the database it is alive."
    )
    worker_stalled_seconds: float = Field(
        default=60.0,
        gt=0,
        description="A worker silent this long is dead: the jobs it had are run again, and readiness says so.",
    )
    worker_give_up_seconds: float = Field(
        default=300.0,
        gt=0,
        description="A worker that cannot get going again for this long (the database away) exits non-zero.",
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
    auth_failure_limit: int = Field(
        default=20,
        ge=0,
        description="Failed authentications (an unknown or revoked key) one client address may make in "
        "`auth_failure_window` seconds; past that each is answered 429. Shared by every API process; 0 turns it off.",
    )
    auth_failure_window: float = Field(
        default=60.0, gt=0, description="Seconds over which an address's failed authentications are counted."
    )
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
    metrics_key: SecretStr | None = Field(
        default=None,
        description="The bearer key GET /metrics requires; unset: /metrics is open in development, closed in "
        "production.",
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

    @field_validator("metrics_key")
    @classmethod
    def _real_metrics_key(cls, value: SecretStr | None) -> SecretStr | None:
        # Blank is unset (compose passes an unset variable as ""); anything else must be a real secret.
        if value is None or not value.get_secret_value().strip():
            return None
        raw = value.get_secret_value()
        if raw.strip().lower() in _PLACEHOLDERS or len(raw) < 16:
            raise ValueError("REKISTERI_METRICS_KEY must be a random secret of 16 characters or more")
        return value

    @model_validator(mode="after")
    def _private_webhooks_in_development(self) -> Settings:
        if self.webhook_private_addresses is None:
            self.webhook_private_addresses = self.environment == "development"
        return self

    @model_validator(mode="after")
    def _no_controller_takes_every_slot(self) -> Settings:
        if self.webhook_controller_concurrency >= self.worker_concurrency:
            raise ValueError(
                "REKISTERI_WEBHOOK_CONTROLLER_CONCURRENCY must be below REKISTERI_WORKER_CONCURRENCY, "
                "or one controller's slow receivers can hold up every other's webhooks"
            )
        return self

    @model_validator(mode="after")
    def _heartbeats_before_stalling(self) -> Settings:
        # A live worker must beat at least twice before it could be taken for dead.
        if self.worker_stalled_seconds < 2 * self.worker_heartbeat_seconds:
            raise ValueError("REKISTERI_WORKER_STALLED_SECONDS must be at least twice the heartbeat")
        return self

    @model_validator(mode="after")
    def _master_key_outside_development(self) -> Settings:
        if self.environment != "development" and self.master_key is None:
            raise ValueError(
                "REKISTERI_MASTER_KEY must be set outside development "
                "(on a developer's machine, set REKISTERI_ENVIRONMENT=development)"
            )
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
