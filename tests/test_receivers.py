"""Where webhooks may go (SSRF): receivers only on public addresses, IPv6 forms that carry an internal IPv4
address included, connected to on the very address that was checked (no DNS rebinding between the check and the
connection), with the host's name kept in the Host header and in TLS; and production rules unless development
is asked for."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import os
import ssl
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient

from app.services import receivers
from tests.conftest import Tenant, new_customer
from tests.endpoints import Hanging
from tests.ports import free_port
from tests.test_cli import ROOT
from tests.test_limits import wait_ready
from tests.test_processes import stop
from tests.test_webhooks import Receiver, add_recipient, prohibit, subscribe
from tests.waiting import wait_for

Db = psycopg.Connection[tuple[Any, ...]]


def anywhere(resolve: receivers.Resolver, **extra: Any) -> receivers.ReceiverTransport:
    """A transport that lets every address through (the tests' receivers are on loopback)."""
    return receivers.ReceiverTransport(permits=lambda _: True, plain_http=True, resolve=resolve, **extra)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.0.10",
        "169.254.169.254",  # a cloud's metadata service
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",  # noqa: S104
        "224.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fc00::1",
        "fe80::1",
        # IPv6 forms that carry an IPv4 loopback or private address and reach it:
        "::127.0.0.1",  # IPv4-compatible
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:7f00:1",
        "::ffff:0:127.0.0.1",  # IPv4-translated (SIIT)
        "::10.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::7f00:1",  # NAT64, well-known prefix
        "64:ff9b::10.0.0.1",
        "64:ff9b::a9fe:a9fe",
        "64:ff9b:1::a00:1",  # NAT64, local use
        "64:ff9b:1::808:808",
        "2002:7f00:1::1",  # 6to4
        "2002:a00:1::1",
        "2002:c0a8:1::1",
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    ],
)
def test_internal_addresses_are_refused(address: str) -> None:
    assert not receivers.public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address",
    ["93.184.216.34", "2606:4700:4700::1111", "::ffff:93.184.216.34", "64:ff9b::5db8:d822", "2002:5db8:d822::1"],
)
def test_public_addresses_are_allowed(address: str) -> None:
    """Public IPv4 addresses reached through mapping, NAT64 (an IPv6-only network's DNS64) or 6to4 are public."""
    assert receivers.public(ipaddress.ip_address(address))


def production_client(resolve: receivers.Resolver | None = None, **extra: Any) -> httpx.AsyncClient:
    transport = receivers.ReceiverTransport(
        permits=receivers.public,
        plain_http=False,
        resolve=resolve or receivers.SystemResolver(threads=2),
        **extra,
    )
    return httpx.AsyncClient(transport=transport, timeout=5)


@pytest.mark.parametrize(
    "url",
    [
        "https://[::127.0.0.1]:{port}/hook",
        "https://[::ffff:127.0.0.1]:{port}/hook",
        "https://[64:ff9b::7f00:1]:{port}/hook",
        "https://[2002:7f00:1::1]:{port}/hook",
        "https://127.0.0.1:{port}/hook",
        "https://2130706433:{port}/hook",  # 127.0.0.1 as one number
        "https://0x7f.1:{port}/hook",
        "https://localhost:{port}/hook",
    ],
)
def test_production_rules_refuse_internal_receivers_before_connecting(url: str, hanging: Hanging) -> None:
    async def go() -> None:
        async with production_client() as client:
            with pytest.raises(receivers.AddressNotAllowed):
                await client.post(url.format(port=hanging.port), content=b"{}")

    asyncio.run(go())
    assert hanging.most == 0


def test_production_rules_refuse_plain_http() -> None:
    async def go() -> None:
        async with production_client() as client:
            with pytest.raises(receivers.HttpsRequired):
                await client.post("http://shop.example.fi/hook", content=b"{}")

    asyncio.run(go())


class Recorded:
    """A receiver on a loopback address of its choice and a given port, recording each request's Host header."""

    def __init__(self, host: str, port: int) -> None:
        self.hosts: list[str] = []
        hosts = self.hosts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["content-length"]))
                hosts.append(self.headers["host"])
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = HTTPServer((host, port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class Rebinding:
    """A name server that answers the check with one address and every later question with another."""

    def __init__(self, first: str, then: str) -> None:
        self.answers = [ipaddress.ip_address(first), ipaddress.ip_address(then)]
        self.asked = 0

    async def __call__(self, host: str, port: int) -> list[receivers.IPAddress]:
        self.asked += 1
        return [self.answers[0] if self.asked == 1 else self.answers[1]]


def test_the_address_checked_is_the_address_connected_to() -> None:
    """DNS rebinding: the name resolves to an allowed address when checked and to a refused one a moment later.
    The delivery goes to the checked address, with the URL's host in the Host header, and the refused address
    never sees a connection; asked again, the name's new address is refused."""
    port = free_port()
    allowed, refused = Recorded("127.0.0.2", port), Recorded("127.0.0.1", port)
    resolver = Rebinding(first="127.0.0.2", then="127.0.0.1")
    transport = receivers.ReceiverTransport(
        permits=lambda address: address != ipaddress.ip_address("127.0.0.1"), plain_http=True, resolve=resolver
    )

    async def go() -> None:
        async with httpx.AsyncClient(transport=transport, timeout=5) as client:
            response = await client.post(f"http://receiver.test:{port}/hook", content=b"{}")
            assert response.status_code == 204
            with pytest.raises(receivers.AddressNotAllowed):
                await client.post(f"http://receiver.test:{port}/hook", content=b"{}")

    try:
        asyncio.run(go())
    finally:
        allowed.server.shutdown()
        refused.server.shutdown()
    assert allowed.hosts == [f"receiver.test:{port}"]
    assert refused.hosts == []
    assert resolver.asked == 2  # once a request: the check and the connection share one answer


def certificate_for(name: str, directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for `name` and its key, as files."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


def test_tls_to_the_checked_address_still_names_and_verifies_the_host(tmp_path: Path) -> None:
    """Connected to by number, the receiver still gets the host's name in TLS (SNI) and must show a certificate
    for that name, not for the number."""
    cert_file, key_file = certificate_for("receiver.test", tmp_path)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_file, key_file)
    names: list[str | None] = []
    server_context.sni_callback = lambda _sock, name, _ctx: names.append(name)
    receiver = Recorded("127.0.0.2", 0)
    receiver.server.socket = server_context.wrap_socket(receiver.server.socket, server_side=True)
    port = receiver.server.server_address[1]
    trusted = ssl.create_default_context(cafile=str(cert_file))

    async def post(url: str) -> int:
        resolver = Rebinding(first="127.0.0.2", then="127.0.0.2")
        async with httpx.AsyncClient(transport=anywhere(resolver, verify=trusted), timeout=5) as client:
            return (await client.post(url, content=b"{}")).status_code

    try:
        assert asyncio.run(post(f"https://receiver.test:{port}/hook")) == 204
        # A certificate for another name is refused, though the address is the same.
        with pytest.raises(httpx.ConnectError, match="certificate"):
            asyncio.run(post(f"https://other.test:{port}/hook"))
    finally:
        receiver.server.shutdown()
    assert names[0] == "receiver.test"
    assert receiver.hosts == [f"receiver.test:{port}"]


def test_a_name_that_resolves_to_loopback_is_delivered_to_only_where_private_addresses_are_allowed(
    receiver: Receiver,
) -> None:
    port = receiver.server.server_address[1]
    url = f"http://localhost:{port}/hook"

    public_only = receivers.ReceiverTransport(
        permits=receivers.public, plain_http=True, resolve=receivers.SystemResolver(threads=2)
    )

    async def go() -> None:
        async with httpx.AsyncClient(transport=public_only) as client:
            with pytest.raises(receivers.AddressNotAllowed):
                await client.post(url, content=b"{}")
        async with httpx.AsyncClient(transport=anywhere(receivers.SystemResolver(threads=2))) as client:
            assert (await client.post(url, content=b"{}")).status_code == 204

    asyncio.run(go())
    assert len(receiver.received) == 1
    assert receiver.received[0][0]["host"] == f"localhost:{port}"


# --- the default is production ------------------------------------------------------------------------------------


@pytest.mark.slow  # an API process and a worker process
def test_a_deployment_that_sets_only_the_database_and_the_master_key_runs_by_production_rules(
    client: TestClient, tenant: Tenant, receiver: Receiver, database_url: str, owner_db: Db
) -> None:
    """No REKISTERI_ENVIRONMENT: webhooks go only to https receivers on public addresses, both when subscribed
    and when delivered (a subscription made earlier under development rules included)."""
    env = {k: v for k, v in os.environ.items() if k != "REKISTERI_ENVIRONMENT"}
    env["REKISTERI_DATABASE_URL"] = database_url
    # Made under the development rules of the test app: a receiver on loopback.
    subscribe(client, tenant, receiver.url.replace("http://", "https://"), description="Sisainen")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(port)
        recipient = add_recipient(client, tenant, "Kauppa")
        refused = {
            url: httpx.post(
                f"http://127.0.0.1:{port}/v1/webhooks",
                json={"url": url, "recipient": recipient},
                headers=tenant.headers(),
                timeout=10,
            )
            for url in (
                "http://shop.example.fi/hook",
                "https://127.0.0.1/hook",
                "https://localhost/hook",
                "https://[::ffff:127.0.0.1]/hook",
                "https://[::127.0.0.1]/hook",
                "https://[64:ff9b::7f00:1]/hook",
                "https://[2002:7f00:1::1]/hook",
                "https://[fd00::1]/hook",
            )
        }
        assert {url: r.status_code for url, r in refused.items()} == dict.fromkeys(refused, 422)
        assert all(r.json()["errors"][0]["loc"] == ["body", "url"] for r in refused.values())
        public = httpx.post(
            f"http://127.0.0.1:{port}/v1/webhooks",
            json={"url": "https://shop.example.fi/hook", "recipient": recipient},
            headers=tenant.headers(),
            timeout=10,
        )
        assert public.status_code == 201, public.text
        httpx.delete(f"http://127.0.0.1:{port}{public.headers['location']}", headers=tenant.headers(), timeout=10)
        # The loopback subscription made before is refused when delivered, and its receiver sees nothing.
        prohibit(client, tenant, new_customer(client, tenant)["id"])

        def attempted() -> list[Any]:
            row = owner_db.execute(
                "SELECT attempts FROM webhook_delivery WHERE controller_id = %s", (tenant.id,)
            ).fetchone()
            return row[0] if row else []

        attempts = wait_for(attempted, timeout=30, message="the worker made no attempt")
        assert attempts[0]["error"] == "AddressNotAllowed"
        assert receiver.received == []
    finally:
        stop(server)
        stop(worker)
