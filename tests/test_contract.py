"""Contract tests: schemathesis fuzzes every operation of the OpenAPI document against the real app.

Every answer must be free of server errors and conform to what the document promises for it: a documented
status code, its content type, headers and body schema, plus the other default schemathesis checks
(authentication enforced, invalid input refused, valid input accepted, `Allow` on 405).

The calls reach the session `app` through the session `TestClient`. Schemathesis' own ASGI transport is not
used: it runs the app's lifespan a second time on an event loop of its own, which would replace
`app.state.engine` under every other test of the session. Instead the schema's app is a small WSGI bridge
(schemathesis runs WSGI apps in-process) that hands each request, auth probes included, to the `TestClient`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from typing import Any
from wsgiref.types import StartResponse, WSGIEnvironment

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.checks import CHECKS, CheckFunction, load_all_checks
from schemathesis.core.transport import Response
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from app.config import get_settings
from app.main import create_app
from tests.conftest import Tenant, make_tenant
from tests.contract_rules import STREAMED_BODIES, legitimately_refused

pytestmark = pytest.mark.slow  # the whole API fuzzed


class ClientBridge:
    """A WSGI app that forwards every request, byte for byte, to the session's `TestClient`."""

    def __init__(self) -> None:
        self.client: TestClient | None = None

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        assert self.client is not None, "the contract_bridge fixture connects the bridge"
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = [
            (name[5:].replace("_", "-").lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in environ.items()
            if name.startswith("HTTP_")
        ]
        for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(name):
                headers.append((name.replace("_", "-").lower().encode(), environ[name].encode("latin-1")))
        # REQUEST_URI keeps the path as sent: an encoded `/` in a path parameter stays encoded.
        target = environ["REQUEST_URI"].partition("?")[0]
        if environ.get("QUERY_STRING"):
            target += "?" + environ["QUERY_STRING"]
        answer = self.client.request(
            environ["REQUEST_METHOD"], target, headers=headers, content=body, follow_redirects=False
        )
        start_response(
            f"{answer.status_code} {answer.reason_phrase}",
            [(name.decode("latin-1"), value.decode("latin-1")) for name, value in answer.headers.raw],
        )
        return [answer.content]


# Schemathesis makes one test item per operation, named by method and path, so the operations must be known
# at collection. `schemathesis.pytest.from_fixture` would defer loading to a fixture, but in schemathesis
# 4.32.5 its lazy schemas read `request.node._nodeid`, which pytest 9 removed (AttributeError before any
# call). So the document is built here by the session app's factory with the same settings (building the
# app connects nothing), `test_served_document_is_the_one_tested` proves that the session app serves exactly
# this document, and every request goes to the session app through the bridge.
@schemathesis.serializer("application/x-ndjson")
def _ndjson(_: object, value: Any) -> bytes:
    """Campaign lists are NDJSON text: send the generated string as it is."""
    return value.encode() if isinstance(value, str) else str(value).encode()


@schemathesis.serializer("text/csv")
def _csv(_: object, value: Any) -> bytes:
    """Suppression list entries may be CSV text: send the generated string as it is."""
    return value.encode() if isinstance(value, str) else str(value).encode()


DOCUMENT: dict[str, Any] = create_app(get_settings()).openapi()
BRIDGE = ClientBridge()
schema = schemathesis.openapi.from_dict(copy.deepcopy(DOCUMENT))  # it adds the links it infers
schema.app = BRIDGE
# Every call carries the contract tenant's admin key, so schemathesis must not generate the Authorization
# header itself: a case it generated without one would count as invalid data although the key is sent.
# Authentication stays checked: the `ignored_auth` check repeats each successful call without a key and with
# an invalid one and expects both refused (and tests/test_roles.py covers every role of every route).
schema.config.generation.update(with_security_parameters=False)


@pytest.fixture(scope="module")
def contract_bridge(client: TestClient) -> Iterator[ClientBridge]:
    BRIDGE.client = client
    yield BRIDGE
    BRIDGE.client = None


@pytest.fixture(scope="module")
def contract_tenant(client: TestClient, app: FastAPI) -> Tenant:
    """One controller for the whole contract run; its admin key authenticates every call."""
    return make_tenant(client, app)


def test_served_document_is_the_one_tested(client: TestClient) -> None:
    """The session app serves the very document the contract run is generated from."""
    response = client.get("/openapi.json")
    assert response.status_code == 200, response.text
    assert response.json() == DOCUMENT


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_conforms_to_its_schema(case: Case[Any], contract_bridge: ClientBridge, contract_tenant: Tenant) -> None:
    """No 5xx anywhere, and every answer is documented: status, content type, headers and body."""
    headers = contract_tenant.headers()
    response = case.call(headers=headers)
    _validate(case, response, headers)


def _excluded(case: Case[Any], response: Response) -> list[CheckFunction]:
    """The checks that cannot apply to this answer; tests/contract_rules.py says why."""
    refused = legitimately_refused(case.operation.path, case.query, case.headers, response)
    excluded: list[CheckFunction] = [positive_data_acceptance] if refused else []
    if case.operation.path in STREAMED_BODIES:
        excluded += [negative_data_rejection, positive_data_acceptance]
    return excluded


def _validate(case: Case[Any], response: Any, headers: dict[str, str]) -> None:
    """Every check schemathesis has, but those `_excluded` says do not apply to this answer."""
    case.validate_response(
        response,
        checks=ALL_CHECKS,
        excluded_checks=_excluded(case, Response.from_any(response)),
        headers=headers,
        transport_kwargs={"headers": headers},
    )


load_all_checks()
ALL_CHECKS: list[CheckFunction] = list(CHECKS.get_all())


def test_every_check_runs() -> None:
    """All of schemathesis's checks, the stateful ones included (they act on the links the document declares)."""
    names = {check.__name__ for check in ALL_CHECKS}
    assert {"use_after_free", "ensure_resource_availability", "ignored_auth", "unsupported_method"} <= names
    assert len(names) >= 14


class Workflow(schema.as_state_machine()):  # type: ignore[misc]
    """Sequences of calls along the document's links: create a customer, then read, change, export, delete it..."""

    headers: dict[str, str] = {}

    def get_call_kwargs(self, case: Case[Any]) -> dict[str, Any]:
        return {"headers": self.headers}

    def validate_response(self, response: Any, case: Case[Any], **_: Any) -> None:
        _validate(case, response, self.headers)


def test_call_sequences_along_the_links(contract_bridge: ClientBridge, contract_tenant: Tenant) -> None:
    """Stateful: what one call answers, the next uses (an id from a POST in a GET, PATCH or DELETE)."""
    Workflow.headers = contract_tenant.headers()
    Workflow.run(
        settings=settings(
            max_examples=15,
            stateful_step_count=6,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
