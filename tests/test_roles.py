"""Authorisation of every route: each /v1 route names its roles, and the running app enforces exactly them.

The roles of a route are read from the dependency `app.security.require(...)` made for it (its `.roles`), so
these tests follow the code: a route added without a role dependency fails, and the running app must refuse
every role outside that set. Whether the set itself is right is for review of the `require(...)` calls.

Since FastAPI 0.137 `app.routes` keeps included routers as nodes of a tree; `iter_route_contexts` flattens
them into one context per route, with the dependencies the request really runs (include-time ones too).
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from fastapi.testclient import TestClient

from app.config import get_settings
from app.errors import PROBLEM_JSON
from app.main import create_app
from app.models.api_keys import Role
from tests.conftest import Tenant

PUBLIC_PATHS = frozenset(
    {
        "/health/live",
        "/health/ready",
        "/metrics",
        "/docs",
        "/openapi.json",
        "/redoc",
        "/docs/oauth2-redirect",
        # What anyone may read: the notice a web shop links to, and where to complain (GDPR Art. 13, 77).
        "/public/{controller}/privacy-notice",
        "/v1/complaint-authorities",
        "/v1/complaint-authorities/{country}",
    }
)
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_PARAM = re.compile(r"{(\w+)(?::\w+)?}")


@dataclass(frozen=True)
class Endpoint:
    """One method of one route, as the app serves it."""

    method: str
    path: str

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _contexts(app: FastAPI) -> Iterator[tuple[Endpoint, RouteContext]]:
    for context in iter_route_contexts(app.routes):
        assert context.path is not None, f"a route without a path: {context.original_route!r}"
        for method in sorted(context.methods or {"*"}):
            yield Endpoint(method, context.path), context


def _role_sets(dependant: Dependant) -> Iterator[frozenset[Role]]:
    """Every role set required anywhere in the dependency tree, sub-dependencies included."""
    for sub in dependant.dependencies:
        roles = getattr(sub.call, "roles", None)
        if roles is not None:
            yield frozenset(Role(role) for role in roles)
        yield from _role_sets(sub)


def allowed_roles(context: RouteContext) -> frozenset[Role] | None:
    """The roles that pass every role dependency of the route; None when it has none."""
    dependant: Dependant | None = getattr(context, "dependant", None)
    sets = list(_role_sets(dependant)) if dependant is not None else []
    return frozenset.intersection(*sets) if sets else None


# The routes must be known when pytest collects, to name one test per route and role. They come from the
# app's factory with the session's settings (building an app connects nothing); every request goes to the
# session `app`, and `test_collected_routes_are_the_served_ones` proves the two have the same routes.
ROUTES: dict[Endpoint, RouteContext] = dict(_contexts(create_app(get_settings())))
V1 = sorted((e for e in ROUTES if e.path.startswith("/v1") and e.path not in PUBLIC_PATHS), key=str)
PUBLIC_V1 = sorted((e for e in ROUTES if e.path.startswith("/v1") and e.path in PUBLIC_PATHS), key=str)
V1_ROLES = [
    pytest.param(endpoint, role, id=f"{endpoint}-{role.value}")
    for endpoint in V1
    for role in Role
    if allowed_roles(ROUTES[endpoint]) is not None
]


def _served(app: FastAPI, endpoint: Endpoint) -> RouteContext:
    served = dict(_contexts(app))
    assert endpoint in served, f"{endpoint} is not served by the session app"
    return served[endpoint]


def _url(context: RouteContext, path: str) -> str:
    """The path with each parameter filled: a random UUID where the route takes one, else "x"."""
    dependant: Dependant | None = getattr(context, "dependant", None)
    kinds = {p.name: p.field_info.annotation for p in (dependant.path_params if dependant else [])}
    return _PARAM.sub(lambda m: str(uuid.uuid4()) if kinds.get(m.group(1)) is uuid.UUID else "x", path)


def _call(client: TestClient, app: FastAPI, endpoint: Endpoint, headers: dict[str, str]) -> httpx.Response:
    url = _url(_served(app, endpoint), endpoint.path)
    body: dict[str, object] | None = {} if endpoint.method in BODY_METHODS else None
    response: httpx.Response = client.request(endpoint.method, url, headers=headers, json=body)
    return response


def _assert_problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    problem = response.json()
    assert problem["status"] == status
    assert problem["type"].startswith("/problems/")


def test_collected_routes_are_the_served_ones(app: FastAPI) -> None:
    """The session app serves exactly the routes these tests were generated for."""
    assert {e: type(c.original_route) for e, c in _contexts(app)} == {
        e: type(c.original_route) for e, c in ROUTES.items()
    }


def test_only_known_routes_are_outside_v1() -> None:
    """Anything outside /v1 is unauthenticated, so it must be one of the known public routes."""
    outside = {endpoint.path for endpoint in ROUTES if not endpoint.path.startswith("/v1")}
    assert outside <= PUBLIC_PATHS, f"unexpected routes outside /v1: {sorted(outside - PUBLIC_PATHS)}"


def test_the_public_v1_routes_are_the_complaint_authorities(client: TestClient) -> None:
    """The only /v1 routes without a key: where a person may complain (GDPR Art. 77), for anyone to read."""
    assert [str(e) for e in PUBLIC_V1] == [
        "GET /v1/complaint-authorities",
        "GET /v1/complaint-authorities/{country}",
    ]
    assert client.get("/v1/complaint-authorities").status_code == 200
    assert client.get("/v1/complaint-authorities/fi").status_code == 200


def test_v1_routes_are_found() -> None:
    """Guards the parametrisation: if route discovery broke, the tests below would silently be none."""
    assert len(V1) >= 10, V1


@pytest.mark.parametrize("endpoint", V1, ids=str)
def test_route_has_a_role_dependency(endpoint: Endpoint) -> None:
    """Every /v1 route is a FastAPI route that requires at least one role through `require(...)`."""
    context = ROUTES[endpoint]
    assert isinstance(context.original_route, APIRoute), f"{endpoint} is not an APIRoute"
    roles = allowed_roles(context)
    assert roles is not None, f"{endpoint} has no require(...) dependency: anyone with a key could call it"
    assert roles, f"{endpoint} requires role sets no key can satisfy at once"


@pytest.mark.parametrize("endpoint", V1, ids=str)
def test_without_key_is_401(client: TestClient, app: FastAPI, endpoint: Endpoint) -> None:
    response = _call(client, app, endpoint, {})
    _assert_problem(response, 401)
    assert response.headers.get("www-authenticate") == "Bearer"


@pytest.mark.parametrize("endpoint", V1, ids=str)
def test_invalid_key_is_401(client: TestClient, app: FastAPI, endpoint: Endpoint) -> None:
    response = _call(client, app, endpoint, {"Authorization": f"Bearer rk_{secrets.token_urlsafe(32)}"})
    _assert_problem(response, 401)


@pytest.mark.parametrize(("endpoint", "role"), V1_ROLES)
def test_role(client: TestClient, app: FastAPI, tenant: Tenant, endpoint: Endpoint, role: Role) -> None:
    """A role the route admits gets past authorisation; any other role is refused with 403."""
    allowed = allowed_roles(_served(app, endpoint))
    assert allowed is not None
    response = _call(client, app, endpoint, tenant.headers(role))
    if role in allowed:
        assert response.status_code not in (401, 403), response.text
        assert response.status_code < 500, response.text
    else:
        _assert_problem(response, 403)
