"""Schemathesis from outside: its own command line against a served API, as anyone integrating could run it.

A real server process (`rekisteri serve`) on the test database, and schemathesis' CLI in a process of its own: it
reads the OpenAPI document the server serves and runs every check (`--checks all`) in every phase (examples,
coverage, fuzzing, and the stateful phase that follows the document's links), with an admin key. It must find
nothing: no server error, nothing undocumented, no valid input refused, no invalid input taken.

What a JSON Schema can state is in the document (formats, patterns, lengths, enums, rules between fields of one
body). What none can (a check digit, whether a customer exists, a cursor the server did not issue, an `If-Match`
naming an old version) is let through by tests/schemathesis_hooks.py, each rule with its one-line reason in
tests/contract_rules.py. The tests before the run check the parts of the document the run relies on.

The run is seeded and its examples counted (FUZZ_EXAMPLES per operation) so that it takes a few minutes in CI.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.config import get_settings
from app.main import create_app
from app.models.api_keys import Role
from app.validators import business_id_is_valid
from tests.conftest import make_tenant
from tests.ports import free_port
from tests.test_cli import ROOT
from tests.test_limits import wait_ready
from tests.test_processes import spawn, stop

CONFIG = Path(__file__).resolve().parent / "schemathesis.toml"
FUZZ_EXAMPLES = 10
SEED = 20261206
DOCUMENT: dict[str, Any] = create_app(get_settings()).openapi()
NDJSON = "application/x-ndjson"


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in DOCUMENT["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "responses" in operation
    ]


def _parameters(operation: dict[str, Any]) -> set[str]:
    return {parameter["name"].lower() for parameter in operation.get("parameters", [])}


def test_a_precondition_that_fails_is_a_declared_412() -> None:
    """An `If-Match` naming no current version fails with 412 (RFC 9110 13.1.1): part of each write's contract."""
    missing = [
        f"{m} {p}" for m, p, op in _operations() if "if-match" in _parameters(op) and "412" not in op["responses"]
    ]
    assert not missing, missing


def test_a_cursor_the_server_did_not_issue_is_a_declared_400() -> None:
    """`cursor` is opaque: only a `next` link's value is one; any other is refused with 400, as each list says."""
    lists = [(m, p, op) for m, p, op in _operations() if "cursor" in _parameters(op)]
    assert lists
    assert not [f"{m} {p}" for m, p, op in lists if "400" not in op["responses"]]
    for _, _, op in lists:
        cursor = next(parameter for parameter in op["parameters"] if parameter["name"] == "cursor")
        assert "400" in cursor["description"], cursor


@pytest.mark.parametrize(
    ("method", "path"),
    [("PUT", "/v1/customers/{customer_id}/marketing"), ("PUT", "/v1/customers/by-external-id/{external_id}")],
)
def test_a_write_to_an_erased_person_is_a_declared_409(method: str, path: str) -> None:
    """Found by the stateful phase: these answer 409 for an erased person (erasure keeps only what the law needs,
    blocked), and their documents did not say so."""
    assert "409" in DOCUMENT["paths"][path][method.lower()]["responses"]


def test_the_ndjson_bodies_are_described() -> None:
    """Each NDJSON body says what a line holds, with an example a tool can send."""
    bodies = [
        (f"{m} {p}", op["requestBody"]["content"][NDJSON])
        for m, p, op in _operations()
        if NDJSON in op.get("requestBody", {}).get("content", {})
    ]
    assert len(bodies) == 4, [name for name, _ in bodies]
    for name, media in bodies:
        assert media["schema"]["type"] == "string", name
        assert "line" in media["schema"]["description"], name
        example = media["example"]
        assert example.endswith("\n"), name
        assert all(line.startswith("{") and line.endswith("}") for line in example.splitlines()), name


@pytest.mark.parametrize("schema_name", ["CustomerCreate", "CustomerUpdate", "ProfileController"])
def test_the_form_of_a_business_id_is_in_the_schema(schema_name: str) -> None:
    """`business_id: ""` was refused although the schema took it: the form is now stated, the check digit validated."""
    field = DOCUMENT["components"]["schemas"][schema_name]["properties"]["business_id"]
    pattern = re.compile(next(branch["pattern"] for branch in field["anyOf"] if branch.get("type") == "string"))
    for value in ("", "24778167", "2477816", "FI24778167", "2477816-77", "abcdefg-h"):
        assert not pattern.search(value), value
        assert not business_id_is_valid(value.strip()), value
    for value in ("2477816-7", "0112038-9"):
        assert pattern.search(value), value
        assert business_id_is_valid(value), value
    assert pattern.search("2477816-8")  # the form is right,
    assert not business_id_is_valid("2477816-8")  # the check digit is not: validated, beyond any schema


def _failures(report: Path) -> list[str]:
    """Each failing or erroring case of the JUnit report: its operation and the first lines of what was wrong."""
    found = []
    for case in ET.parse(report).iter("testcase"):  # noqa: S314 -- the report the run just wrote
        for outcome in case:
            if outcome.tag in ("failure", "error"):
                text = (outcome.get("message") or "") + "\n" + (outcome.text or "")
                lines = [line for line in text.splitlines() if line.strip()][:12]
                found.append(f"{case.get('name')}: " + "\n  ".join(lines))
    return found


@pytest.mark.slow
def test_schemathesis_from_outside_finds_nothing(
    client: TestClient, app: FastAPI, database_url: str, tmp_path: Path
) -> None:
    tenant = make_tenant(client, app)
    port = free_port()
    server = spawn(database_url, "serve", "--port", str(port))
    report = tmp_path / "junit.xml"
    ran = tmp_path / "checks-ran"
    try:
        wait_ready(port)
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "--config-file",
                str(CONFIG),
                "run",
                f"http://127.0.0.1:{port}/openapi.json",
                "--checks",
                "all",
                # Each runs as its counterpart in tests/schemathesis_hooks.py: the same check, but for what no
                # schema can state (tests/contract_rules.py gives the reason for each).
                "--exclude-checks",
                "positive_data_acceptance,negative_data_rejection",
                "--header",
                f"Authorization: Bearer {tenant.keys[Role.admin]}",
                "--max-examples",
                str(FUZZ_EXAMPLES),
                "--seed",
                str(SEED),
                # One worker: Python 3.11's parser is not thread-safe when hypothesis describes strategies from
                # several threads at once ("AST constructor recursion depth mismatch").
                "--workers",
                "1",
                "--report",
                "junit",
                "--report-junit-path",
                str(report),
                "--output-truncate",
                "true",
            ],
            cwd=ROOT,
            env={**os.environ, "REKISTERI_CONTRACT_CHECKS_RAN": str(ran)},
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
        )
    finally:
        stop(server)
    failures = _failures(report) if report.exists() else []
    summary = run.stdout[run.stdout.rfind("SUMMARY") :] or run.stdout[-3000:] + run.stderr[-3000:]
    assert not failures, "\n\n".join(failures)[:20000]
    assert run.returncode == 0, summary
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in summary, summary
    assert set(ran.read_text().split()) == {"positive_data_acceptance", "negative_data_rejection"}
