"""Request middleware (pure ASGI): request id, access log, metrics, media type of request bodies."""

from __future__ import annotations

import logging
import re
import time
import uuid

import structlog
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import problem_response

log = logging.getLogger("rekisteri.access")

REQUESTS = Counter("rekisteri_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("rekisteri_http_request_seconds", "HTTP request duration", ["method", "route"])

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_JSON_TYPES = ("application/json", "application/merge-patch+json", "application/x-ndjson")


class RequestMiddleware:
    """Tag each request with an id, refuse bodies that are not JSON, and log the outcome."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

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
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            if _refused_media_type(scope["method"], headers):
                response = problem_response(
                    415, slug="unsupported-media-type", detail="Send the body as application/json."
                )
                await response(scope, receive, send_with_id)
            else:
                await self.app(scope, receive, send_with_id)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            elapsed = time.perf_counter() - started
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
            structlog.contextvars.clear_contextvars()


def _refused_media_type(method: str, headers: dict[bytes, bytes]) -> bool:
    if method not in ("POST", "PUT", "PATCH"):
        return False
    length = headers.get(b"content-length")
    if length == b"0" or (length is None and b"transfer-encoding" not in headers):
        return False
    media_type = headers.get(b"content-type", b"").decode("latin-1").split(";")[0].strip().lower()
    return media_type not in _JSON_TYPES
