"""Request middleware (pure ASGI): request id, access log, metrics, media type of request bodies."""

from __future__ import annotations

import logging
import re
import time
import uuid

import structlog
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts
from prometheus_client import Counter, Histogram
from sqlalchemy.exc import DBAPIError
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import PayloadTooLarge, problem_response
from app.security import MISSING_KEY, authenticate, bearer_key, client_address, failed_authentication, key_known
from app.validators import has_nul

log = logging.getLogger("rekisteri.access")

REQUESTS = Counter("rekisteri_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("rekisteri_http_request_seconds", "HTTP request duration", ["method", "route"])

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_JSON_TYPES = ("application/json", "application/merge-patch+json", "application/x-ndjson")


# Routes that stream their body: the larger limit applies to them. A suppression list's entries may be CSV.
STREAMED = re.compile(r"^/v1/(customers/import|marketing/check|suppression-lists/[^/]+/entries)$")
_CSV_TAKEN = re.compile(r"^/v1/suppression-lists/[^/]+/entries$")
_CSV_TYPES = (*_JSON_TYPES, "text/csv")


def _observe(scope: Scope, status: int, elapsed: float) -> None:
    """Count and log one request by its route template, never by its path (ids in paths are personal)."""
    matched = scope.get("route")
    # The template without its convertors: /v1/customers/{customer_id}, not {customer_id:uuid}.
    route = getattr(matched, "path_format", None) or getattr(matched, "path", "unmatched")
    REQUESTS.labels(scope["method"], route, str(status)).inc()
    LATENCY.labels(scope["method"], route).observe(elapsed)
    log.info(
        "request",
        extra={
            "method": scope["method"],
            "route": route,
            "status": status,
            "duration_ms": round(elapsed * 1000, 2),
            "key_id": scope["state"].get("key_id"),
        },
    )


class RequestMiddleware:
    """Tag each request with an id, refuse bodies that are not JSON or too large, and log the outcome."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int = 1024 * 1024, max_stream_bytes: int = 1024**3) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_stream_bytes = max_stream_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = _secured([*message["headers"], (b"x-request-id", request_id.encode())])
            await send(message)

        try:
            # Nothing of a body is read or scanned before its key is known: a missing or unknown key is answered
            # at once. Without a body there is nothing to wait for; the route's dependency checks the key.
            keyed = _route_keyed(scope) if _has_body(headers) else False
            refusal = await _refused_key(scope, headers) if keyed else None
            if refusal is not None:
                await refusal(scope, receive, send_with_id)
            else:
                await self._checked(scope, receive, send_with_id, headers, routed=keyed is not None)
        finally:
            _observe(scope, status, time.perf_counter() - started)
            structlog.contextvars.clear_contextvars()

    async def _checked(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[bytes, bytes], *, routed: bool
    ) -> None:
        """Refuse a wrong media type, an oversized body or a NUL character; else hand the request on."""
        streamed = STREAMED.match(scope["path"]) is not None
        limit = self.max_stream_bytes if streamed else self.max_body_bytes
        accepted = _CSV_TYPES if _CSV_TAKEN.match(scope["path"]) else _JSON_TYPES
        if _refused_media_type(scope["method"], headers, accepted):
            response = problem_response(415, slug="unsupported-media-type", detail="Send the body as application/json.")
            await response(scope, receive, send)
        elif _declared_length(headers) > limit:
            await _too_large(limit)(scope, receive, send)
        elif _NUL_IN_QUERY.search(scope.get("query_string", b"")) or "\x00" in scope["path"]:
            await _nul()(scope, receive, send)
        elif streamed or not routed:
            # An NDJSON body answers for its lines one by one, as they come: only its size is watched here. A
            # request no route takes is answered (404, 405) without its body being read.
            await self.app(scope, _counted(receive, limit), send)
        else:
            body = await _read_body(receive, limit)
            if body is None:
                await _too_large(limit)(scope, receive, send)
            elif has_nul(body):
                await _nul()(scope, receive, send)
            else:
                await self.app(scope, _replayed(body, receive), send)


def _has_body(headers: dict[bytes, bytes]) -> bool:
    length = headers.get(b"content-length")
    return length.strip() not in (b"", b"0") if length is not None else b"transfer-encoding" in headers


def _route_keyed(scope: Scope) -> bool | None:
    """Whether the route the request is for takes an API key; None when no route takes its path and method."""
    app = scope["app"]
    table: list[tuple[re.Pattern[str], set[str], bool]] | None = getattr(app.state, "keyed_table", None)
    if table is None:
        table = [
            (compile_path(context.path)[0], set(context.methods or ()), _takes_key(context.dependant))
            for context in iter_route_contexts(app.routes)
            if context.path is not None and getattr(context, "dependant", None) is not None
        ]
        app.state.keyed_table = table
    return next(
        (keyed for path, methods, keyed in table if scope["method"] in methods and path.match(scope["path"])), None
    )


def _takes_key(dependant: Dependant) -> bool:
    return any(sub.call is authenticate or _takes_key(sub) for sub in dependant.dependencies)


async def _refused_key(scope: Scope, headers: dict[bytes, bytes]) -> Response | None:
    """The answer when the key is missing or not valid, or None to go on (a body waits for this)."""
    key = bearer_key(headers.get(b"authorization", b"").decode("latin-1"))
    if key is None:
        return problem_response(401, slug="unauthorized", detail=MISSING_KEY, headers={"WWW-Authenticate": "Bearer"})
    state = scope["app"].state
    try:
        if await key_known(state, key):
            return None
        refused = await failed_authentication(state, client_address(scope))
    except DBAPIError:
        return problem_response(
            503, slug="unavailable", detail="The database is not reachable; try again.", headers={"Retry-After": "2"}
        )
    return problem_response(refused.status, slug=refused.slug, detail=refused.detail, headers=refused.headers)


def _refused_media_type(method: str, headers: dict[bytes, bytes], accepted: tuple[str, ...]) -> bool:
    if method not in ("POST", "PUT", "PATCH"):
        return False
    length = headers.get(b"content-length")
    if length == b"0" or (length is None and b"transfer-encoding" not in headers):
        return False
    media_type = headers.get(b"content-type", b"").decode("latin-1").split(";")[0].strip().lower()
    return media_type not in accepted


def _declared_length(headers: dict[bytes, bytes]) -> int:
    try:
        return int(headers.get(b"content-length", b"0"))
    except ValueError:
        return 0


def _too_large(limit: int) -> Response:
    return problem_response(413, slug="payload-too-large", detail=f"The body is larger than {limit} bytes.")


# PostgreSQL cannot store NUL in text: a request that carries one is refused at once (422), never half-done.
_NUL_IN_QUERY = re.compile(rb"%00|\x00")
NUL_DETAIL = "A NUL character (\\u0000) cannot be stored; remove it."


def _nul() -> Response:
    return problem_response(422, slug="validation-error", detail=NUL_DETAIL)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body of a JSON request (at most `limit` bytes, else None), read before the handler runs."""
    parts, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        part = message.get("body", b"")
        size += len(part)
        if size > limit:
            return None
        parts.append(part)
        if not message.get("more_body", False):
            break
    return b"".join(parts)


def _replayed(body: bytes, receive: Receive) -> Receive:
    """Hand the app the body read already, then the connection's own messages (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _counted(receive: Receive, limit: int) -> Receive:
    """Receive a streamed body, refusing it with 413 once it passes `limit` bytes (a chunked one declares none)."""
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise PayloadTooLarge(f"The body is larger than {limit} bytes.")
        return message

    return counted


# An HTML page of the service's own (a letter, the privacy notice): nothing from elsewhere, no scripts, never
# framed. A page that needs more says so itself (the API documentation: app/routers/docs.py).
PAGE_POLICY = (
    b"default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def _secured(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Headers every answer gets (no content sniffing), and a Content-Security-Policy on HTML pages."""
    names = {name.lower() for name, _ in headers}
    added = [(b"x-content-type-options", b"nosniff")] if b"x-content-type-options" not in names else []
    media = next((value for name, value in headers if name.lower() == b"content-type"), b"")
    if media.startswith(b"text/html"):
        if b"content-security-policy" not in names:
            added.append((b"content-security-policy", PAGE_POLICY))
        if b"referrer-policy" not in names:
            added.append((b"referrer-policy", b"no-referrer"))
    return headers + added
