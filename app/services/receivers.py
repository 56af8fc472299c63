"""Where webhooks may go: public addresses only (no probing inside), checked on the very address connected to."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]
Permits = Callable[[IPAddress], bool]

# IPv6 addresses that carry an IPv4 address and reach it: the IPv4 address inside is the one judged.
_IPV4_MAPPED_OR_TRANSLATED = (ipaddress.IPv6Network("::ffff:0:0/96"), ipaddress.IPv6Network("::ffff:0:0:0/96"))
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated (RFC 4291 2.5.5.1), still routed by some stacks
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # the well-known prefix (RFC 6052): the last 32 bits
# Tunnels and translators whose far end cannot be judged from the address: refused whatever they hold.
_OPAQUE = (
    ipaddress.IPv6Network("64:ff9b:1::/48"),  # local-use NAT64 (RFC 8215): a translator inside the network
    ipaddress.IPv6Network("2001::/32"),  # Teredo
)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address reaches through mapping, translation or 6to4; none for a plain one."""
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if any(address in net for net in _IPV4_MAPPED_OR_TRANSLATED) or address in _IPV4_COMPATIBLE:
        return [low32]
    if address in _NAT64:
        return [low32]
    if address.sixtofour is not None:
        return [address.sixtofour]
    return []


def public(address: IPAddress) -> bool:
    """Whether a receiver may be at this address: globally reachable unicast, and so is any IPv4 inside it."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id or any(address in net for net in _OPAQUE):
            return False
        inner = _embedded_ipv4(address)
        if inner:
            # [::ffff:127.0.0.1], [64:ff9b::7f00:1], [2002:7f00:1::1] reach 127.0.0.1: judge that.
            return all(public(v4) for v4 in inner)
    return address.is_global and not address.is_multicast


class AddressNotAllowed(httpx.ConnectError):
    """The receiver's host is, or resolves to, an address deliveries may not go to."""


class HttpsRequired(httpx.ConnectError):
    """The receiver's URL is plain http where only https is allowed."""


class NameNotResolved(httpx.ConnectError):
    """The receiver's host name has no address."""


class SystemResolver:
    """getaddrinfo on threads of its own, so that slow name servers of one receiver hold up no other work that
    needs a thread; the delivery's deadline bounds how long a delivery waits for it."""

    def __init__(self, threads: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="webhook-resolve")

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        loop = asyncio.get_running_loop()
        lookup = partial(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
        try:
            infos = await loop.run_in_executor(self._pool, lookup)
        except OSError as exc:  # socket.gaierror
            raise NameNotResolved(type(exc).__name__) from exc
        return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class ReceiverTransport(httpx.AsyncBaseTransport):
    """Resolves the receiver's host once, checks every address it resolves to, and connects to the first of
    them by number; the Host header, the TLS server name and the certificate check keep the URL's host. A name
    that resolves to something else a moment later (DNS rebinding) is never asked again: the address checked
    is the address connected to.

    Connections are not kept alive: a connection opened for one host name is never reused for another that
    shares its address. Proxies from the environment are not used, as a proxy would resolve the name again.
    """

    def __init__(
        self, *, permits: Permits, plain_http: bool, resolve: Resolver, verify: ssl.SSLContext | bool = True
    ) -> None:
        self._permits = permits
        self._plain_http = plain_http
        self._resolve = resolve
        self._inner = httpx.AsyncHTTPTransport(
            verify=verify, limits=httpx.Limits(max_connections=None, max_keepalive_connections=0), trust_env=False
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme != "https" and not self._plain_http:
            raise HttpsRequired("the receiver must use https", request=request)
        host = request.url.raw_host.decode("ascii")
        try:
            literal: IPAddress | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            addresses = [literal]
        else:
            port = request.url.port or (443 if request.url.scheme == "https" else 80)
            addresses = await self._resolve(host.rstrip("."), port)
        if not addresses:
            raise NameNotResolved("no address", request=request)
        if not all(self._permits(address) for address in addresses):
            raise AddressNotAllowed("the receiver's address is not allowed", request=request)
        if literal is not None:
            return await self._inner.handle_async_request(request)
        request.extensions = {**request.extensions, "sni_hostname": host.rstrip(".")}
        for address in addresses[:-1]:
            # Another address of the name is tried when one cannot be reached (an IPv6 route missing, say).
            try:
                return await self._inner.handle_async_request(_to(request, address))
            except (httpx.ConnectError, httpx.ConnectTimeout):
                continue
        return await self._inner.handle_async_request(_to(request, addresses[-1]))

    async def aclose(self) -> None:
        await self._inner.aclose()
        close = getattr(self._resolve, "close", None)
        if close is not None:
            close()


def _to(request: httpx.Request, address: IPAddress) -> httpx.Request:
    """The request, sent to `address`; its Host header and TLS server name stay the URL's host."""
    request.url = request.url.copy_with(host=str(address))
    return request


def literal_refused(host: str | None, *, private_addresses: bool) -> bool:
    """A URL host refused on sight, without asking DNS: an address that is not public, or a localhost name
    (RFC 6761); other names are checked on every delivery, on the address connected to."""
    if private_addresses or not host:
        return False
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return not public(ipaddress.ip_address(name))
    except ValueError:
        return False
