"""Settings refuse what would be unsafe to run with."""

from __future__ import annotations

import base64
import os

import pytest
from pydantic import ValidationError

from app.config import Settings, get_settings

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


def test_service_refuses_another_master_key(database_url: str, client: object, tenant: object) -> None:
    """Audit keys wrapped with one master key make a start with another fail loudly, not 500 later."""
    from fastapi.testclient import TestClient

    from app.main import create_app

    other = Settings(master_key=base64.urlsafe_b64encode(b"x" * 32).decode())
    from app import subject_keys

    subject_keys.default_keyring.cache_clear()
    original = os.environ["REKISTERI_MASTER_KEY"]
    os.environ["REKISTERI_MASTER_KEY"] = other.master_key.get_secret_value()  # type: ignore[union-attr]
    get_settings.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="not the key"), TestClient(create_app(other, database_url=database_url)):
            pass
    finally:
        os.environ["REKISTERI_MASTER_KEY"] = original
        get_settings.cache_clear()
        subject_keys.default_keyring.cache_clear()


def test_a_worker_beats_at_least_twice_before_it_counts_as_dead() -> None:
    # Otherwise a live worker between two heartbeats would have its jobs run a second time.
    with pytest.raises(ValidationError, match="at least twice the heartbeat"):
        Settings(worker_heartbeat_seconds=10, worker_stalled_seconds=15)
    assert Settings(worker_heartbeat_seconds=10, worker_stalled_seconds=20).worker_stalled_seconds == 20
