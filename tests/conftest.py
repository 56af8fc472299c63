"""Test set-up: a fresh database through the real migrations, the app on it, and one controller per test.

Every test gets its own controller (tenant) with a key per role, so tests never see each other's rows
and need no clean-up: the tenancy that isolates customers of different businesses isolates tests too.
"""

from __future__ import annotations

import base64
import os
import secrets
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

_DATA_DIR = Path(tempfile.mkdtemp(prefix="rekisteri-test-"))
os.environ["REKISTERI_DATA_DIR"] = str(_DATA_DIR)
os.environ["REKISTERI_MASTER_KEY"] = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
# The service defaults to production rules; the tests opt into development (receivers on loopback over http).
os.environ["REKISTERI_ENVIRONMENT"] = "development"
# One key makes thousands of calls in a test run; tests/test_limits.py sets a rate limit of its own.
os.environ["REKISTERI_RATE_LIMIT_PER_SECOND"] = "0"
# Tests send unknown keys from one address all the time; tests/test_limits.py sets a failure limit of its own.
os.environ["REKISTERI_AUTH_FAILURE_LIMIT"] = "0"
# The contract run sends bodies of megabytes; tests/test_limits.py sets a small limit of its own.
os.environ["REKISTERI_MAX_BODY_BYTES"] = str(64 * 1024 * 1024)
os.environ.pop("REKISTERI_DATABASE_URL", None)

from fastapi import FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from app.actor import attach, system_actor  # noqa: E402
from app.cli import upgrade_database  # noqa: E402
from app.config import get_settings  # noqa: E402
from app.db import ensure_database, libpq_url, make_engine, make_sessionmaker, normalise_url, start_embedded  # noqa: E402
from app.main import create_app  # noqa: E402
from app.models.api_keys import ApiKeyCreate, Role  # noqa: E402
from app.models.profile import ControllerProfile  # noqa: E402
from app.services.api_keys import create_key  # noqa: E402
from app.services.controllers import create_controller  # noqa: E402
from tests.endpoints import Hanging, Receiver  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Under `-m "not slow"` the contract module is not even collected: schemathesis builds its cases then."""
    if collection_path.name != "test_contract.py" or not config.option.markexpr:
        return None
    from _pytest.mark.expression import Expression

    slow_selected = Expression.compile(config.option.markexpr).evaluate(lambda name, **_: name == "slow")
    return True if not slow_selected else None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test has an id of its own: pytest-xdist's schedulers that group tests key them by id, and would
    run one test of several that share it.

    Under pytest 9 schemathesis' tests all get the id of their function, without the operation that is in
    their name; the operation is put back, so that a failure also names its operation.
    """
    for item in items:
        _, bracket, params = item.name.partition("[")
        node_id = getattr(item, "_id", None)
        if bracket and node_id is not None and node_id.params is None:
            item._id = node_id.with_params(params.removesuffix("]"))
    shared = sorted(nodeid for nodeid, count in Counter(item.nodeid for item in items).items() if count > 1)
    if shared:
        raise pytest.UsageError(f"tests share an id: {shared}")


def _server_url() -> str:
    given = os.environ.get("REKISTERI_TEST_DATABASE_URL")
    if given:
        return normalise_url(given)
    return start_embedded(_DATA_DIR / "pg", "postgres", cleanup="delete")


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A new database, migrated to head, dropped at the end."""
    server = _server_url()
    name = f"rekisteri_test_{uuid.uuid4().hex[:12]}"
    ensure_database(server, name)
    url = normalise_url(server.replace("/postgres?", f"/{name}?", 1)) if "/postgres?" in server else None
    if url is None:
        from sqlalchemy.engine import make_url

        url = make_url(server).set(database=name).render_as_string(hide_password=False)
    upgrade_database(url)
    yield url
    with psycopg.connect(libpq_url(server), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def app(database_url: str) -> FastAPI:
    app = create_app(get_settings(), database_url=database_url)
    # Set-up and white-box tests work as the database owner, as the CLI does (no row-level security).
    app.state.owner_sessionmaker = make_sessionmaker(make_engine(database_url, pool_size=2, max_overflow=2))
    return app


@pytest.fixture(scope="session")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def owner_db(database_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A direct connection as the database owner, outside the app (row-level security does not apply)."""
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        yield conn


@dataclass
class Tenant:
    """A controller made for one test, with one key per role."""

    id: uuid.UUID
    slug: str
    keys: dict[Role, str] = field(default_factory=dict)
    key_ids: dict[Role, uuid.UUID] = field(default_factory=dict)

    def headers(self, role: Role = Role.admin, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}", **extra}


def make_tenant(client: TestClient, app: FastAPI, example: str = "sonmark") -> Tenant:
    """A controller from one of the example profiles (a seed notice), under a slug of its own."""
    profile = ControllerProfile.load(EXAMPLES / f"{example}.toml").model_copy(
        update={"slug": f"t-{uuid.uuid4().hex[:12]}"}
    )
    controller_id = uuid.uuid4()
    tenant = Tenant(id=controller_id, slug=profile.slug)

    async def work() -> None:
        async with app.state.owner_sessionmaker() as session, session.begin():
            actor = system_actor(controller_id, "test set-up")
            attach(session, actor)
            await create_controller(session=session, profile=profile, controller_id=controller_id)
            for role in Role:
                key, secret = await create_key(
                    session=session,
                    actor=actor,
                    controller_id=controller_id,
                    data=ApiKeyCreate(name=f"{role.value} tester", role=role),
                )
                tenant.keys[role], tenant.key_ids[role] = secret, key.id

    assert client.portal is not None
    client.portal.call(work)
    return tenant


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on 127.0.0.1 that takes every event (or answers with the statuses it is given)."""
    found = Receiver()
    yield found
    found.server.shutdown()


@pytest.fixture
def hanging() -> Iterator[Hanging]:
    """A webhook receiver that accepts every connection and never answers."""
    server = Hanging()
    yield server
    server.close()


@pytest.fixture
def tenant(client: TestClient, app: FastAPI) -> Tenant:
    return make_tenant(client, app)


@pytest.fixture
def other_tenant(client: TestClient, app: FastAPI) -> Tenant:
    return make_tenant(client, app)


def new_customer(client: TestClient, tenant: Tenant, **fields: object) -> dict[str, object]:
    body = {"first_name": "Maija", "last_name": "Meikäläinen", "email": f"{uuid.uuid4().hex[:8]}@example.fi"}
    body.update(fields)
    response = client.post("/v1/customers", json=body, headers=tenant.headers())
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]
