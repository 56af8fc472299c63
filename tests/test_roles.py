"""Authorisation of every route, against the table of expected roles in tests/route_roles.py.

The table is the source of truth, not the code: every route the app serves must have an entry and every entry
a route, and the running app must refuse each role outside an entry's set with 403 and let each role inside it
through. As an extra check, the table must also say what the routes' `app.security.require(...)` dependencies
say (their `.roles`), so a disagreement is named at the route before any request is made.

Since FastAPI 0.137 `app.routes` keeps included routers as nodes of a tree; `iter_route_contexts` flattens
them into one context per route, with the dependencies the request really runs (include-time ones too).
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import RouteContext, iter_route_contexts
from fastapi.testclient import TestClient

from app.errors import PROBLEM_JSON
from app.models.api_keys import Role
from tests.conftest import Tenant, new_customer
from tests.route_roles import PUBLIC, ROUTE_ROLES

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_PARAM = re.compile(r"{(\w+)(?::\w+)?}")
ROLES_DOC = Path(__file__).resolve().parent.parent / "docs" / "roles.md"


@dataclass(frozen=True)
class Endpoint:
    """One method of one route."""

    method: str
    path: str

    @classmethod
    def parse(cls, text: str) -> Endpoint:
        method, path = text.split(" ", 1)
        return cls(method, path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


TABLE = {Endpoint.parse(key): access for key, access in ROUTE_ROLES.items()}
KEYED = sorted((e for e, access in TABLE.items() if access != PUBLIC), key=str)
OPEN = sorted((e for e, access in TABLE.items() if access == PUBLIC), key=str)
ROLES = [pytest.param(endpoint, role, id=f"{endpoint}-{role.value}") for endpoint in KEYED for role in Role]


def _contexts(app: FastAPI) -> Iterator[tuple[Endpoint, RouteContext]]:
    for context in iter_route_contexts(app.routes):
        assert context.path is not None, f"a route without a path: {context.original_route!r}"
        for method in sorted(context.methods or {"*"}):
            yield Endpoint(method, context.path), context


@pytest.fixture(scope="module")
def served(app: FastAPI) -> dict[Endpoint, RouteContext]:
    """The routes the session app serves."""
    return dict(_contexts(app))


def _role_sets(dependant: Dependant) -> Iterator[frozenset[Role]]:
    """Every role set required anywhere in the dependency tree, sub-dependencies included."""
    for sub in dependant.dependencies:
        roles = getattr(sub.call, "roles", None)
        if roles is not None:
            yield frozenset(Role(role) for role in roles)
        yield from _role_sets(sub)


def required_roles(context: RouteContext) -> frozenset[Role] | None:
    """The roles that pass every `require(...)` dependency of the route, as the code says; None when it has none."""
    dependant: Dependant | None = getattr(context, "dependant", None)
    sets = list(_role_sets(dependant)) if dependant is not None else []
    return frozenset.intersection(*sets) if sets else None


def _url(context: RouteContext, path: str) -> str:
    """The path with each parameter filled: a random UUID where the route takes one, else "x"."""
    dependant: Dependant | None = getattr(context, "dependant", None)
    kinds = {p.name: p.field_info.annotation for p in (dependant.path_params if dependant else [])}
    return _PARAM.sub(lambda m: str(uuid.uuid4()) if kinds.get(m.group(1)) is uuid.UUID else "x", path)


def _call(
    client: TestClient, served: dict[Endpoint, RouteContext], endpoint: Endpoint, headers: dict[str, str]
) -> httpx.Response:
    assert endpoint in served, f"{endpoint} is in tests/route_roles.py but the app does not serve it"
    url = _url(served[endpoint], endpoint.path)
    body: dict[str, object] | None = {} if endpoint.method in BODY_METHODS else None
    response: httpx.Response = client.request(endpoint.method, url, headers=headers, json=body)
    return response


def _assert_problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    problem = response.json()
    assert problem["status"] == status
    assert problem["type"].startswith("/problems/")


def test_every_route_is_in_the_table(served: dict[Endpoint, RouteContext]) -> None:
    """A new route needs a decision on who may call it, written in tests/route_roles.py."""
    missing = sorted(str(e) for e in served.keys() - TABLE.keys())
    assert not missing, f"routes with no entry in tests/route_roles.py: {missing}"


def test_every_entry_in_the_table_is_a_route(served: dict[Endpoint, RouteContext]) -> None:
    """An entry for a route that is gone (or renamed) would stand for nothing."""
    gone = sorted(str(e) for e in TABLE.keys() - served.keys())
    assert not gone, f"entries in tests/route_roles.py that the app does not serve: {gone}"


def test_the_table_says_what_the_role_dependencies_say(served: dict[Endpoint, RouteContext]) -> None:
    """Each keyed route's `require(...)` admits exactly the table's roles; a public route has none."""
    differ = {}
    for endpoint, context in served.items():
        expected = TABLE.get(endpoint)
        if expected is None:
            continue  # test_every_route_is_in_the_table names it
        in_code = required_roles(context)
        if (expected == PUBLIC and in_code is not None) or (expected != PUBLIC and in_code != expected):
            differ[str(endpoint)] = {
                "table": expected if expected == PUBLIC else sorted(role.value for role in expected),
                "code": "no require(...)" if in_code is None else sorted(role.value for role in in_code),
            }
    assert not differ, differ


def _documented() -> dict[str, object]:
    """The routes table of docs/roles.md: each route in backquotes (a cell may name several), then its roles."""
    table: dict[str, object] = {}
    for line in ROLES_DOC.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        routes = re.findall(r"`((?:GET|HEAD|POST|PUT|PATCH|DELETE) /[^`]*)`", cells[0]) if len(cells) == 3 else []
        for route in routes:
            roles = cells[1]
            access = PUBLIC if roles == "anyone (no key)" else {Role(r.strip()) for r in roles.split(",")}
            assert route not in table, f"{route} is twice in docs/roles.md"
            table[route] = access
    return table


def test_the_documented_table_is_the_tested_one() -> None:
    """docs/roles.md, where the reasons are, names the same roles for the same routes as tests/route_roles.py."""
    tested = {_PARAM.sub(r"{\1}", route): access for route, access in ROUTE_ROLES.items()}
    documented = _documented()
    assert documented.keys() == tested.keys(), sorted(documented.keys() ^ tested.keys())
    differ = {route: (documented[route], access) for route, access in tested.items() if documented[route] != access}
    assert not differ, differ


def test_the_public_v1_routes_are_the_complaint_authorities() -> None:
    """The only /v1 routes without a key: where a person may complain (GDPR Art. 77), for anyone to read."""
    assert [str(e) for e in OPEN if e.path.startswith("/v1")] == [
        "GET /v1/complaint-authorities",
        "GET /v1/complaint-authorities/{country}",
    ]


@pytest.mark.parametrize("endpoint", OPEN, ids=str)
def test_a_public_route_needs_no_key(
    client: TestClient, served: dict[Endpoint, RouteContext], endpoint: Endpoint
) -> None:
    response = _call(client, served, endpoint, {})
    assert response.status_code not in (401, 403), response.text
    assert response.status_code < 500, response.text


@pytest.mark.parametrize("endpoint", KEYED, ids=str)
def test_without_key_is_401(client: TestClient, served: dict[Endpoint, RouteContext], endpoint: Endpoint) -> None:
    response = _call(client, served, endpoint, {})
    _assert_problem(response, 401)
    assert response.headers.get("www-authenticate") == "Bearer"


@pytest.mark.parametrize("endpoint", KEYED, ids=str)
def test_invalid_key_is_401(client: TestClient, served: dict[Endpoint, RouteContext], endpoint: Endpoint) -> None:
    response = _call(client, served, endpoint, {"Authorization": f"Bearer rk_{secrets.token_urlsafe(32)}"})
    _assert_problem(response, 401)


@pytest.mark.parametrize(("endpoint", "role"), ROLES)
def test_role(
    client: TestClient, served: dict[Endpoint, RouteContext], tenant: Tenant, endpoint: Endpoint, role: Role
) -> None:
    """A role the table admits gets past authorisation; any other role is refused with 403."""
    allowed = TABLE[endpoint]
    assert allowed != PUBLIC
    response = _call(client, served, endpoint, tenant.headers(role))
    if role in allowed:
        assert response.status_code not in (401, 403), response.text
        assert response.status_code < 500, response.text
    else:
        _assert_problem(response, 403)


class TestAShopKey:
    """What an `integration` key is for still works end to end, and what it is not for is refused (docs/roles.md)."""

    def test_pushes_a_customer_and_an_order_records_marketing_and_asks(
        self, client: TestClient, tenant: Tenant
    ) -> None:
        shop = tenant.headers(Role.integration)
        url = f"/v1/customers/by-external-id/shop-{uuid.uuid4().hex[:8]}"
        created = client.put(url, json={"first_name": "Maija", "email": "maija@example.fi"}, headers=shop)
        assert created.status_code == 201, created.text
        person = created.json()
        read = client.get(f"/v1/customers/{person['id']}", headers=shop)
        assert read.status_code == 200
        replaced = client.put(
            url, json={"first_name": "Maija", "city": "Oulu"}, headers={**shop, "If-Match": read.headers["etag"]}
        )
        assert replaced.status_code == 200, replaced.text
        order = client.post(
            f"/v1/customers/{person['id']}/orders",
            json={"order_date": "2026-11-20", "total": "10.00", "currency": "EUR"},
            headers=shop,
        )
        assert order.status_code == 201, order.text
        paid = client.patch(f"/v1/orders/{order.json()['id']}", json={"invoice_status": "paid"}, headers=shop)
        assert paid.status_code == 200, paid.text
        consent = {
            "channels": {"electronic": {"consent": True}},
            "received_via": "web",
            "wording": "Haluan tarjouksia.",
        }
        assert client.put(f"/v1/customers/{person['id']}/marketing", json=consent, headers=shop).status_code == 200
        decision = client.get(f"/v1/customers/{person['id']}/marketing/electronic", headers=shop).json()
        assert (decision["allowed"], decision["reason"]) == (True, "consent")

    def test_cannot_list_edit_fields_read_orders_or_register_requests(self, client: TestClient, tenant: Tenant) -> None:
        """Each call is refused to the shop's key and done for customer service's, body and all."""
        person = new_customer(client, tenant)
        erasure = {"type": "erasure", "channel": "email", "customer_id": person["id"]}
        calls: list[tuple[str, str, dict[str, object]]] = [
            ("GET", "/v1/customers", {"params": {"limit": 500}}),
            ("GET", "/v1/customers", {"params": {"email": person["email"]}}),
            ("PATCH", f"/v1/customers/{person['id']}", {"json": {"city": None}}),
            ("GET", f"/v1/customers/{person['id']}/orders", {}),
            ("POST", "/v1/requests", {"json": erasure | {"erasure": {"ground": "no_longer_necessary"}}}),
        ]
        for role, expected in ((Role.integration, 403), (Role.agent, None)):
            for method, url, kwargs in calls:
                response = client.request(method, url, headers=tenant.headers(role), **kwargs)  # type: ignore[arg-type]
                if expected is None:
                    assert response.is_success, (method, url, response.text)
                else:
                    assert response.status_code == expected, (method, url, response.text)
