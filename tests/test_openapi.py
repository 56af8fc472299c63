"""The OpenAPI document is the developers' manual: every operation is described, with errors and examples."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI


@pytest.fixture(scope="module")
def spec(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, item in spec["paths"].items() for method, op in item.items()]


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]  # type: ignore[no-any-return]
    return schema


def has_example(spec: dict[str, Any], schema: dict[str, Any]) -> bool:
    schema = resolve(spec, schema)
    if "examples" in schema or "example" in schema:
        return True
    items = schema.get("properties", {}).get("items")
    return bool(items and items.get("type") == "array" and has_example(spec, items["items"]))


def test_every_operation_is_described(spec: dict[str, Any]) -> None:
    for method, path, op in operations(spec):
        assert op.get("summary"), f"{method} {path} has no summary"
        assert len(op.get("description", "")) > 20, f"{method} {path} has no description"
        assert op.get("tags"), f"{method} {path} has no tag"


def test_v1_operations_document_their_errors(spec: dict[str, Any]) -> None:
    for method, path, op in operations(spec):
        if not path.startswith("/v1"):
            continue
        documented = set(op["responses"])
        if op.get("security"):  # the complaint authorities are public: no key, so no 401 or 403
            assert {"401", "403"} <= documented, f"{method} {path}: {sorted(documented)}"
        if op.get("parameters") or op.get("requestBody"):
            assert "422" in documented, f"{method} {path}"
        # The marketing check answers an unknown person with a safe no (unknown_subject), not 404.
        if "{" in path and path != "/v1/customers/{customer_id}/marketing/{channel}":
            assert "404" in documented or "412" in documented, f"{method} {path}"
        for status, response in op["responses"].items():
            if status.startswith(("4", "5")):
                assert "application/problem+json" in response["content"], f"{method} {path} {status}"


def test_v1_bodies_and_answers_have_examples(spec: dict[str, Any]) -> None:
    for method, path, op in operations(spec):
        if not path.startswith("/v1"):
            continue
        if "requestBody" in op:
            for media in op["requestBody"]["content"].values():
                assert "example" in media or has_example(spec, media["schema"]), f"{method} {path} request"
        for status, response in op["responses"].items():
            if status.startswith("2") and "content" in response:
                for media in response["content"].values():
                    assert "example" in media or has_example(spec, media.get("schema", {})), f"{method} {path}"


def test_bearer_security_scheme(spec: dict[str, Any]) -> None:
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
