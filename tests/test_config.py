"""Settings refuse what would be unsafe to run with."""

from __future__ import annotations

import base64

import pytest
from pydantic import ValidationError

from app.config import Settings

GOOD_KEY = base64.urlsafe_b64encode(b"k" * 32).decode()


def test_production_needs_a_master_key() -> None:
    with pytest.raises(ValidationError, match="MASTER_KEY must be set"):
        Settings(environment="production", master_key=None)
    assert Settings(environment="production", master_key=GOOD_KEY).master_key_bytes() == b"k" * 32


@pytest.mark.parametrize("key", ["changeme", "secret", base64.urlsafe_b64encode(b"short").decode(), "***"])
def test_placeholder_or_malformed_keys_are_refused(key: str) -> None:
    with pytest.raises(ValidationError):
        Settings(master_key=key)


def test_development_keeps_a_generated_key(tmp_path: object) -> None:
    settings = Settings(environment="development", master_key=None, data_dir=tmp_path)
    first = settings.master_key_bytes()
    assert len(first) == 32
    assert settings.master_key_bytes() == first
