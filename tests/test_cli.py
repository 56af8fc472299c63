"""The `rekisteri` command, and the service booting on the embedded PostgreSQL default."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from app.models.profile import ControllerProfile
from app.validators import business_id_is_valid
from tests.ports import free_port
from tests.test_webhooks import Receiver
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.toml"))


def rekisteri(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture
def env(database_url: str) -> dict[str, str]:
    return {**os.environ, "REKISTERI_DATABASE_URL": database_url}


def test_every_seed_has_a_valid_profile() -> None:
    assert {p.stem for p in EXAMPLES} == {"sonmark", "solintech", "sesoma", "mastermark", "asiakasrekisteri"}
    for path in EXAMPLES:
        profile = ControllerProfile.load(path)
        assert profile.slug == path.stem
        if profile.controller.business_id:
            assert business_id_is_valid(profile.controller.business_id)


@pytest.mark.slow
def test_controllers_and_keys(env: dict[str, str], tmp_path: Path) -> None:
    slug = f"cli-{uuid.uuid4().hex[:8]}"
    profile = tmp_path / "p.toml"
    profile.write_text((ROOT / "examples" / "sonmark.toml").read_text().replace('slug = "sonmark"', f'slug = "{slug}"'))
    created = rekisteri("controllers", "create", "--profile", str(profile), env=env)
    controller_id = uuid.UUID(created.stdout.strip())
    again = rekisteri("controllers", "create", "--profile", str(profile), env=env, check=False)
    assert again.returncode == 1
    assert "exists already" in again.stderr
    same = rekisteri("controllers", "create", "--profile", str(profile), "--if-missing", env=env)
    assert uuid.UUID(same.stdout.strip()) == controller_id

    key = rekisteri(
        "keys", "create", "--controller", str(controller_id), "--name", "Ülar M", "--role", "admin", env=env
    )
    secret = key.stdout.strip().splitlines()[-1]
    assert secret.startswith("rk_")
    by_slug = rekisteri("keys", "create", "--controller", slug, "--name", "Kassa", "--role", "integration", env=env)
    assert by_slug.stdout.strip().splitlines()[-1] != secret

    bad_role = rekisteri("keys", "create", "--controller", slug, "--name", "X", "--role", "root", env=env, check=False)
    assert bad_role.returncode != 0
    unknown = rekisteri(
        "keys", "create", "--controller", "nope", "--name", "X", "--role", "admin", env=env, check=False
    )
    assert unknown.returncode == 1
    assert "No such controller" in unknown.stderr


@pytest.mark.slow
def test_invalid_profile_is_explained(env: dict[str, str], tmp_path: Path) -> None:
    profile = tmp_path / "bad.toml"
    profile.write_text('slug = "x"\n[controller]\nname = "X"\nbusiness_id = "2477816-8"\n[register]\nname = "R"\n')
    result = rekisteri("controllers", "create", "--profile", str(profile), env=env, check=False)
    assert result.returncode == 1
    assert "controller.business_id" in result.stderr
    assert "Traceback" not in result.stderr


def ready(server: subprocess.Popen[str], port: int) -> bool:
    """Whether the server process answers ready; fails at once if the process has died."""
    try:
        if httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=2).status_code == 200:
            return True
    except httpx.TransportError:
        pass
    assert server.poll() is None, server.stdout.read() if server.stdout else ""
    return False


@pytest.mark.slow
def test_serves_on_the_embedded_default(tmp_path: Path) -> None:
    """With no database URL, `rekisteri serve` starts the embedded server and the API answers: a developer's
    machine, as `make run` sets it up (development rules: a generated master key, a receiver on loopback)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REKISTERI_")}
    env |= {
        "REKISTERI_DATA_DIR": str(tmp_path / "data"),
        "REKISTERI_MIGRATE_ON_START": "true",
        "REKISTERI_ENVIRONMENT": "development",
    }
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--with-worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(lambda: ready(server, port), timeout=90, message="the service did not become ready", interval=0.5)
        assert httpx.get(f"http://127.0.0.1:{port}/docs").status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/v1/customers").status_code == 401
        created = rekisteri(
            "controllers", "create", "--profile", str(ROOT / "examples" / "sonmark.toml"), env=env
        ).stdout.strip()
        key = rekisteri("keys", "create", "--controller", created, "--name", "T", "--role", "admin", env=env)
        auth = {"Authorization": f"Bearer {key.stdout.strip().splitlines()[-1]}"}
        base = f"http://127.0.0.1:{port}"
        receiver = Receiver()
        try:
            # The subscriber is a recipient of the register (GDPR Art. 30(1)(d)): named there first.
            profile = httpx.get(f"{base}/v1/controller", headers=auth).json()["profile"]
            shop = {
                "id": "shop",
                "name": "Shop",
                "category": "processor",
                "data": ["Asiakastiedot"],
                "purpose": "Myynti",
            }
            profile["recipients"] = [*profile.get("recipients", []), shop]
            assert httpx.put(f"{base}/v1/controller", json=profile, headers=auth).status_code == 200
            hook = httpx.post(f"{base}/v1/webhooks", json={"url": receiver.url, "recipient": "shop"}, headers=auth)
            assert hook.status_code == 201, hook.text
            response = httpx.post(f"{base}/v1/customers", json={"last_name": "Embedded"}, headers=auth)
            assert response.status_code == 201, response.text
            change = {"channels": {"telemarketing": {"prohibited": True}}}
            url = f"{base}/v1/customers/{response.json()['id']}/marketing"
            assert httpx.put(url, json=change, headers=auth).status_code == 200
            # The worker inside the server (as `make run` starts it) delivers the event.
            wait_for(lambda: receiver.received, timeout=30, message="the in-process worker delivered nothing")
            assert len(receiver.received) == 1
        finally:
            receiver.server.shutdown()
        assert (tmp_path / "data" / "pg" / "PG_VERSION").exists()
    finally:
        server.terminate()
        server.wait(timeout=30)
    # The embedded server stops with the service.
    assert not (tmp_path / "data" / "pg" / "postmaster.pid").exists()


@pytest.mark.slow
def test_controllers_update_publishes_a_new_version_only_when_changed(env: dict[str, str], tmp_path: Path) -> None:
    slug = f"cli-{uuid.uuid4().hex[:8]}"
    text = (ROOT / "examples" / "solintech.toml").read_text().replace('slug = "solintech"', f'slug = "{slug}"')
    profile = tmp_path / "p.toml"
    profile.write_text(text)
    rekisteri("controllers", "create", "--profile", str(profile), env=env)
    same = rekisteri("controllers", "update", "--profile", str(profile), env=env)
    assert same.stdout.strip() == f"{slug}: unchanged: privacy notice version 1, drawn up 2018-01-04"
    profile.write_text(text.replace('name = "Asiakasrekisteri"', 'name = "Asiakas- ja markkinointirekisteri"'))
    changed = rekisteri("controllers", "update", "--profile", str(profile), env=env)
    assert changed.stdout.startswith(f"{slug}: published privacy notice version 2, drawn up ")
    missing = tmp_path / "none.toml"
    missing.write_text(text.replace(f'slug = "{slug}"', 'slug = "no-such-controller"'))
    unknown = rekisteri("controllers", "update", "--profile", str(missing), env=env, check=False)
    assert unknown.returncode == 1
    assert "No such controller" in unknown.stderr


COMPLETE_TOML = """
slug = "{slug}"
[controller]
name = "Esimerkki Oy"
street_address = "Lintukuja 1"
postal_code = "00100"
city = "Helsinki"
email = "tietosuoja@example.fi"
[register]
name = "Asiakasrekisteri"
[notice]
purposes = [{{ fi = "Asiakassuhteen hoitaminen", basis = "contract" }}]
provision_requirement = "Tiedot tarvitaan tilauksen toimittamiseen."
data_categories = ["Nimi"]
sources = ["Asiakas itse"]
recipient_categories = ["Tilitoimisto"]
automated_decisions = "Automaattista päätöksentekoa ei ole."
{extra}
[[notice.retention]]
category = "Asiakastiedot"
period = "10 vuotta asiakkuuden päättymisestä."
"""


@pytest.mark.slow
def test_an_incomplete_profile_is_refused_with_every_problem_and_can_be_a_draft(
    env: dict[str, str], tmp_path: Path
) -> None:
    slug = f"cli-{uuid.uuid4().hex[:8]}"
    profile = tmp_path / "p.toml"
    # No [dpo] (Art. 13(1)(b)) and an outdated Ombudsman's address: refused, every problem on stderr.
    incomplete = COMPLETE_TOML.format(slug=slug, extra='exercising_rights = "Kirjeet: Ratapihantie 9, Helsinki."')
    profile.write_text(incomplete)
    refused = rekisteri("controllers", "create", "--profile", str(profile), env=env, check=False)
    assert refused.returncode == 1
    assert "cannot be published" in refused.stderr
    assert "  dpo: missing:" in refused.stderr
    assert "(GDPR Art. 13(1)(b), 37(7))" in refused.stderr
    assert "  notice.exercising_rights.fi: outdated: Outdated: the Ombudsman's old address." in refused.stderr
    assert "Traceback" not in refused.stderr

    complete = COMPLETE_TOML.format(slug=slug, extra="") + "[dpo]\nappointed = false\n"
    profile.write_text(complete)
    rekisteri("controllers", "create", "--profile", str(profile), env=env)
    profile.write_text(incomplete.replace('name = "Asiakasrekisteri"', 'name = "Uusi nimi"'))
    update = rekisteri("controllers", "update", "--profile", str(profile), env=env, check=False)
    assert update.returncode == 1
    assert "  dpo: missing:" in update.stderr
    draft = rekisteri("controllers", "update", "--profile", str(profile), "--draft", env=env)
    assert draft.stdout.startswith(f"{slug}: draft saved, not published; 2 item(s) keep it from being published:")
    assert "  dpo: missing:" in draft.stdout
    profile.write_text(complete)
    same = rekisteri("controllers", "update", "--profile", str(profile), "--draft", env=env)
    assert same.stdout.strip() == f"{slug}: draft saved; it is complete, publish it with `rekisteri controllers update`"
    unchanged = rekisteri("controllers", "update", "--profile", str(profile), env=env)
    assert unchanged.stdout.startswith(f"{slug}: unchanged: privacy notice version 1")
