"""The key before the body, and a limit on failed authentications per client address.

A request with a body to a route that takes a key is answered 401 before any of its body is read, so a body
that never ends costs nothing. Unknown keys from one address are answered 429 with `Retry-After` past a limit
shared by every API process; a valid key is never refused for its address's failures, and another address is
not affected. The address is the one the server gives: behind a proxy it trusts, the client's from
X-Forwarded-For, else the peer's (a header from anyone else changes nothing).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from app import security
from app.config import Settings
from app.main import create_app
from tests.conftest import Tenant
from tests.ports import free_port
from tests.test_cli import ROOT
from tests.test_limits import wait_ready

LIMIT = 5


def random_ipv4() -> str:
    return f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{1 + secrets.randbelow(254)}"


def unknown_key() -> dict[str, str]:
    return {"Authorization": f"Bearer {security.generate_key()}"}


class Endless:
    """A body whose first chunk comes at once and whose rest never does; counts the chunks taken from it."""

    def __init__(self) -> None:
        self.taken = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self.taken += 1
        yield b'{"last_name": "' + b"x" * 65536
        self.taken += 1
        await asyncio.Event().wait()  # the rest of the body never comes
        yield b'"}'


Call = tuple[str, str, str, dict[str, str], Endless | None]


def in_process(database_url: str, calls: list[Call], patience: float = 20) -> list[object]:
    """Run the service (a failure limit of LIMIT a minute) in this loop; make each call from its client address:
    (address, method, path, headers, body). Each answer, or the TimeoutError of one not given in `patience`."""
    settings = Settings(auth_failure_limit=LIMIT, auth_failure_window=60)
    app = create_app(settings, database_url=database_url)

    async def call(address: str, method: str, path: str, headers: dict[str, str], body: Endless | None) -> object:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://rekisteri") as client:
            try:
                # A generous timeout: an answer that waits for a body that never comes does not come either.
                return await asyncio.wait_for(client.request(method, path, headers=headers, content=body), patience)
            except TimeoutError as exc:
                return exc

    async def run() -> list[object]:
        async with app.router.lifespan_context(app):
            return [await call(*c) for c in calls]

    return asyncio.run(run())


JSON = {"Content-Type": "application/json"}
NDJSON = {"Content-Type": "application/x-ndjson"}


@pytest.mark.parametrize(
    ("path", "media"), [("/v1/customers", JSON), ("/v1/customers/import", NDJSON), ("/v1/marketing/check", NDJSON)]
)
def test_a_body_that_never_ends_gets_its_401_unread(database_url: str, path: str, media: dict[str, str]) -> None:
    bodies = [Endless(), Endless()]
    address = random_ipv4()
    answers = in_process(
        database_url,
        [
            (address, "POST", path, media, bodies[0]),  # no key
            (address, "POST", path, {**media, **unknown_key()}, bodies[1]),
        ],
    )
    for answer in answers:
        assert isinstance(answer, httpx.Response), answer
        assert answer.status_code == 401
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["www-authenticate"] == "Bearer"
    assert [body.taken for body in bodies] == [0, 0]


def test_a_valid_key_reads_the_body(database_url: str, tenant: Tenant) -> None:
    body = Endless()
    (answer,) = in_process(
        database_url, [(random_ipv4(), "POST", "/v1/customers", {**JSON, **tenant.headers()}, body)], patience=2
    )
    assert isinstance(answer, TimeoutError)  # it waited for the body, as it should for a key it knows
    assert body.taken == 2


def test_unknown_keys_from_one_address_get_429(database_url: str, tenant: Tenant) -> None:
    attacker, other = random_ipv4(), random_ipv4()
    guesses = [
        (attacker, "GET", "/v1/customers", unknown_key(), None)
        if n % 2
        else (attacker, "POST", "/v1/customers", {**JSON, **unknown_key()}, None)
        for n in range(LIMIT + 3)
    ]
    answers = in_process(
        database_url,
        [
            *guesses,
            (attacker, "GET", "/v1/customers", {}, None),  # no key: refused, not counted
            (other, "GET", "/v1/customers", tenant.headers(), None),
            (other, "GET", "/v1/customers", unknown_key(), None),
            (attacker, "GET", "/v1/customers", tenant.headers(), None),  # a valid key still works
        ],
    )
    codes = [a.status_code for a in answers if isinstance(a, httpx.Response)]
    assert codes == [401] * LIMIT + [429] * 3 + [401, 200, 401, 200]
    refused = answers[LIMIT]
    assert isinstance(refused, httpx.Response)
    assert refused.headers["content-type"] == "application/problem+json"
    assert 1 <= int(refused.headers["retry-after"]) <= 60


def test_an_ipv6_client_counts_as_its_64(database_url: str) -> None:
    prefix = f"2001:db8:{secrets.randbelow(1 << 16):x}:{secrets.randbelow(1 << 16):x}"
    guesses = [(f"{prefix}::{n + 1:x}", "GET", "/v1/customers", unknown_key(), None) for n in range(LIMIT + 1)]
    neighbour = (f"2001:db8:ffff:{secrets.randbelow(1 << 16):x}::1", "GET", "/v1/customers", unknown_key(), None)
    answers = in_process(database_url, [*guesses, neighbour])
    assert [a.status_code for a in answers if isinstance(a, httpx.Response)] == [401] * LIMIT + [429, 401]


@pytest.mark.parametrize(
    ("host", "counted"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("testclient", "testclient"),
    ],
)
def test_the_address_counted(host: str, counted: str) -> None:
    assert security.client_address({"client": (host, 1)}) == counted


# --- a real server behind a proxy --------------------------------------------------------------------------


def serve(database_url: str, port: int, **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "REKISTERI_DATABASE_URL": database_url, "REKISTERI_AUTH_FAILURE_LIMIT": str(LIMIT), **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.fixture
def server(database_url: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A server; `request.param` is its FORWARDED_ALLOW_IPS, the proxies whose X-Forwarded-For it believes."""
    port = free_port()
    process = serve(database_url, port, FORWARDED_ALLOW_IPS=request.param)
    try:
        wait_ready(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.slow
@pytest.mark.parametrize("server", ["127.0.0.1"], indirect=True)
def test_behind_a_trusted_proxy_each_client_is_counted_apart(server: str, tenant: Tenant) -> None:
    attacker, other = random_ipv4(), random_ipv4()
    with httpx.Client(base_url=server) as client:
        codes = [
            client.get("/v1/customers", headers={**unknown_key(), "X-Forwarded-For": attacker}).status_code
            for _ in range(LIMIT + 2)
        ]
        assert codes == [401] * LIMIT + [429] * 2
        assert client.get("/v1/customers", headers={**tenant.headers(), "X-Forwarded-For": other}).status_code == 200
        assert client.get("/v1/customers", headers={**unknown_key(), "X-Forwarded-For": other}).status_code == 401


@pytest.mark.slow
@pytest.mark.parametrize("server", ["192.0.2.1"], indirect=True)
def test_a_forwarded_for_from_an_untrusted_peer_changes_nothing(server: str) -> None:
    with httpx.Client(base_url=server) as client:
        codes = [
            client.get("/v1/customers", headers={**unknown_key(), "X-Forwarded-For": random_ipv4()}).status_code
            for _ in range(LIMIT + 2)
        ]
    assert codes == [401] * LIMIT + [429] * 2  # every guess counted against the peer, whatever it claimed


@pytest.mark.slow
@pytest.mark.parametrize("server", ["127.0.0.1"], indirect=True)
def test_a_real_server_answers_401_before_the_body_comes(server: str) -> None:
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=20) as conn:
        conn.sendall(
            b"POST /v1/customers HTTP/1.1\r\nHost: rekisteri\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1048576\r\n\r\n" + b'{"last_name": "' + b"x" * 1000
        )
        answer = conn.recv(4096)  # the other 1,047,000 bytes are never sent
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:100]
