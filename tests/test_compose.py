"""compose.yaml and the Dockerfile, read as Docker Compose reads them (no Docker engine here to run them).

What must hold: one image, built once and run by every container of the service; a one-shot `init` that
migrates and creates the controller before the service and the worker start; health checked where the database
is (/health/ready); and /metrics not open to anyone who reaches the published port.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.config import Settings

ROOT = Path(__file__).resolve().parent.parent
SERVICE = ("init", "app", "worker")  # the containers that run the service's image


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())  # merge keys (<<:) resolved
    return document


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]  # type: ignore[no-any-return]


def command_line(service: dict[str, Any]) -> str:
    """What the container runs: its entrypoint and command as one line (the image's ENTRYPOINT is `rekisteri`)."""
    parts = service.get("entrypoint", ["rekisteri"]) + service.get("command", [])
    return " ".join(parts)


def test_the_image_is_built_once_and_run_by_every_container_of_the_service(
    services: dict[str, dict[str, Any]],
) -> None:
    built = [name for name, service in services.items() if "build" in service]
    assert built == ["init"]
    image = services["init"]["image"]
    assert {services[name].get("image") for name in SERVICE} == {image}
    # Every other container waits for `init`, so starting any of them builds the image first.
    for name in ("app", "worker"):
        assert services[name]["depends_on"] == {"init": {"condition": "service_completed_successfully"}}


def test_init_migrates_and_creates_the_controller_once(services: dict[str, dict[str, Any]]) -> None:
    init = services["init"]
    line = command_line(init)
    upgrade, create = line.index("rekisteri db upgrade"), line.index("rekisteri controllers create")
    assert upgrade < create
    assert "&&" in line[upgrade:create]  # no controller on a schema that failed to migrate
    assert re.search(r"--profile \"\$\$REKISTERI_PROFILE\" --if-missing", line)
    assert init["environment"]["REKISTERI_PROFILE"] == "${REKISTERI_PROFILE:-examples/sonmark.toml}"
    assert (ROOT / "examples" / "sonmark.toml").exists()
    assert init["restart"] == "no"
    assert init["depends_on"] == {"db": {"condition": "service_healthy"}}
    # Only `init` migrates: the image would otherwise migrate from every container at once.
    assert "REKISTERI_MIGRATE_ON_START=true" in (ROOT / "Dockerfile").read_text()
    assert {services[name]["environment"]["REKISTERI_MIGRATE_ON_START"] for name in SERVICE} == {"false"}


def test_health_is_checked_where_the_database_is(services: dict[str, dict[str, Any]]) -> None:
    probe = " ".join(services["app"]["healthcheck"]["test"])
    assert "http://127.0.0.1:8000/health/ready" in probe
    assert services["worker"]["healthcheck"] == {"disable": True}  # no HTTP in the worker
    dockerfile = (ROOT / "Dockerfile").read_text()
    (healthcheck,) = re.findall(r"^HEALTHCHECK .*\n.*$", dockerfile, re.MULTILINE)
    assert "/health/ready" in healthcheck
    assert "/health/live" not in healthcheck


def test_metrics_are_not_open_on_the_published_port(services: dict[str, dict[str, Any]]) -> None:
    assert [name for name, service in services.items() if "ports" in service] == ["app"]
    assert services["app"]["ports"] == ["8000:8000"]
    environment = services["app"]["environment"]
    # The image runs in production, and compose does not change that: /metrics is closed until a key is set.
    assert "REKISTERI_ENVIRONMENT=production" in (ROOT / "Dockerfile").read_text()
    assert "REKISTERI_ENVIRONMENT" not in environment
    assert environment["REKISTERI_METRICS_KEY"] == "${REKISTERI_METRICS_KEY:-}"
    unset = Settings(environment="production", master_key="a" * 43, metrics_key="")  # what an unset variable gives
    assert unset.metrics_key is None


def test_secrets_come_from_the_environment(services: dict[str, dict[str, Any]]) -> None:
    for name in SERVICE:
        key = services[name]["environment"]["REKISTERI_MASTER_KEY"]
        assert key.startswith("${REKISTERI_MASTER_KEY:?")  # compose refuses to start without one
