"""Domain errors with their HTTP status, rendered once as RFC 9457 problem+json."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import compile_path

from app.json import dumps
from app.validators import InvalidValue

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = Field(description="A URI reference naming the kind of problem; see docs/errors.md.")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="For validation problems: where and what, one entry per error."
    )


class DomainError(Exception):
    """An error a caller can act on; its class fixes the status and the problem type."""

    status: int = 400
    slug: str = "bad-request"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}


class BadRequest(DomainError):
    status, slug = 400, "bad-request"


class Unauthorized(DomainError):
    status, slug = 401, "unauthorized"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(DomainError):
    status, slug = 403, "forbidden"


class NotFound(DomainError):
    status, slug = 404, "not-found"


class NotAcceptable(DomainError):
    status, slug = 406, "not-acceptable"


class Conflict(DomainError):
    status, slug = 409, "conflict"


class PreconditionFailed(DomainError):
    status, slug = 412, "precondition-failed"


class TooManyRequests(DomainError):
    status, slug = 429, "too-many-requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


class PayloadTooLarge(DomainError):
    status, slug = 413, "payload-too-large"


class UnsupportedMediaType(DomainError):
    status, slug = 415, "unsupported-media-type"


class Unprocessable(DomainError):
    """A rule across fields that the request breaks; `loc` names the fields."""

    status, slug = 422, "validation-error"

    def __init__(self, detail: str, *, loc: tuple[str, ...] = ("body",)) -> None:
        super().__init__(detail)
        self.errors = [{"loc": list(loc), "msg": detail, "type": "value_error"}]


def problem_response(
    status: int,
    *,
    slug: str,
    detail: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """Build a problem+json response."""
    body: dict[str, Any] = {"type": f"/problems/{slug}", "title": HTTPStatus(status).phrase, "status": status}
    if detail is not None:
        body["detail"] = detail
    if errors is not None:
        body["errors"] = errors
    return Response(dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=headers)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entry documenting a route's problem statuses in the OpenAPI."""
    return {
        status: {
            "model": Problem,
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


def redact(message: str, given: object) -> str:
    """The message without the input or any piece of it.

    The input may be personal data, and validators quote it, in whole or in part (email-validator names
    the domain it could not resolve): every word of the message that is a piece of the input goes.
    """
    if not isinstance(given, str) or not given.strip():
        return message
    message = message.replace(given, "…")
    haystack = given.casefold()
    words = []
    for word in message.split(" "):
        core = word.strip(".,:;!?'\"()[]")
        if len(core) >= 3 and core.casefold() in haystack:
            word = word.replace(core, "…")
        words.append(word)
    return " ".join(words)


def message_of(error: Mapping[str, Any]) -> str:
    """A validation error's message for the one who sent the value: as written when it is the service's own
    (InvalidValue, which quotes nothing), else redacted (a library's may quote the value)."""
    if isinstance((error.get("ctx") or {}).get("error"), InvalidValue):
        return str(error["msg"])
    return redact(str(error.get("msg", "")), error.get("input"))


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Never echo the input back: it may be personal data, and some validators quote it in their message.
    return [
        {
            "loc": [str(part) for part in err.get("loc", ())],
            "msg": message_of(err),
            "type": err.get("type"),
        }
        for err in exc.errors()
    ]


async def _domain_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    errors = exc.errors if isinstance(exc, Unprocessable) else None
    return problem_response(exc.status, slug=exc.slug, detail=exc.detail, errors=errors, headers=exc.headers)


async def _validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return problem_response(
        422, slug="validation-error", detail="The request is not valid.", errors=_validation_errors(exc)
    )


_HTTP_SLUGS = {404: "not-found", 405: "method-not-allowed", 401: "unauthorized", 403: "forbidden"}


def _allowed_methods(request: Request) -> str:
    """Every method served on the request's path (Starlette names only those of the first route that matched)."""
    table: list[tuple[re.Pattern[str], set[str]]] | None = getattr(request.app.state, "allow_table", None)
    if table is None:
        table = [
            (compile_path(context.path)[0], set(context.methods or ()))
            for context in iter_route_contexts(request.app.routes)
            if context.path is not None
        ]
        request.app.state.allow_table = table
    methods = set().union(*(methods for regex, methods in table if regex.match(request.url.path)))
    return ", ".join(sorted(methods))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    slug = _HTTP_SLUGS.get(exc.status_code, HTTPStatus(exc.status_code).phrase.lower().replace(" ", "-"))
    detail = exc.detail if exc.status_code != 404 else "No such resource."
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request)
    return problem_response(exc.status_code, slug=slug, detail=str(detail), headers=headers)


async def _unexpected(_: Request, exc: Exception) -> Response:
    # The exception's message may hold data from the database; log its type only.
    log.error("unhandled_error", extra={"error_type": type(exc).__name__})
    return problem_response(500, slug="internal-error", detail="An unexpected error; it has been logged.")


async def _database_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, DBAPIError)
    sqlstate = getattr(exc.orig, "sqlstate", None) or ""
    if sqlstate in ("23505", "23503", "40001", "40P01"):
        # Lost a race with another request (same unique value, a deleted parent, a deadlock).
        return problem_response(409, slug="conflict", detail="The change conflicts with another; try again.")
    if isinstance(exc, DataError) or sqlstate.startswith("22"):
        # Values PostgreSQL cannot take as given: a NUL character in text, a number out of range.
        return problem_response(
            422, slug="validation-error", detail="A value cannot be stored as given (NUL characters are not allowed)."
        )
    if isinstance(exc, OperationalError | InterfaceError) or sqlstate.startswith("08") or sqlstate == "57P01":
        return problem_response(
            503,
            slug="unavailable",
            detail="The database is not reachable; try again.",
            headers={"Retry-After": "2"},
        )
    log.error("database_error", extra={"error_type": type(exc).__name__, "sqlstate": sqlstate})
    return problem_response(500, slug="internal-error", detail="An unexpected error; it has been logged.")


def install(app: FastAPI) -> None:
    """Register the problem+json handlers on the app."""
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
