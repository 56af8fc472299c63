"""What the OpenAPI document says beyond what FastAPI derives: no NUL in any text, and the links between operations.

The links say where the id an operation answers with can be used next (POST /v1/customers → GET, PATCH, DELETE
/v1/customers/{customer_id}, its orders, its marketing, ...): clients and generated SDKs can follow them, and
the stateful contract tests walk them (tests/test_contract.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# PostgreSQL cannot store NUL in text; the service refuses it (422) wherever it comes.
NO_NUL = "^[^\\u0000]*$"

CUSTOMER = "/v1/customers/{customer_id}"
REQUEST = "/v1/requests/{request_id}"
# (method, path, status) of the producer, the parameter its answer's `id` fills, and the operations that take it.
LINKS: list[tuple[tuple[str, str, str], str, list[tuple[str, str]]]] = [
    (
        ("post", "/v1/customers", "201"),
        "customer_id",
        [
            ("get", CUSTOMER),
            ("patch", CUSTOMER),
            ("delete", CUSTOMER),
            ("post", f"{CUSTOMER}/orders"),
            ("get", f"{CUSTOMER}/orders"),
            ("get", f"{CUSTOMER}/marketing"),
            ("put", f"{CUSTOMER}/marketing"),
            ("get", f"{CUSTOMER}/export"),
        ],
    ),
    (("post", f"{CUSTOMER}/orders", "201"), "order_id", [("patch", "/v1/orders/{order_id}")]),
    (
        ("post", "/v1/requests", "201"),
        "request_id",
        [
            ("get", REQUEST),
            ("post", f"{REQUEST}/request-identity"),
            ("post", f"{REQUEST}/verify"),
            ("post", f"{REQUEST}/extend"),
            ("post", f"{REQUEST}/complete"),
            ("post", f"{REQUEST}/refuse"),
            ("post", f"{REQUEST}/withdraw"),
            ("get", f"{REQUEST}/letter"),
        ],
    ),
    (("post", "/v1/api-keys", "201"), "key_id", [("delete", "/v1/api-keys/{key_id}")]),
    (
        ("post", "/v1/webhooks", "201"),
        "webhook_id",
        [("delete", "/v1/webhooks/{webhook_id}"), ("get", "/v1/webhooks/{webhook_id}/deliveries")],
    ),
]


def amended(openapi: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    """Wrap FastAPI's `app.openapi` to add the NUL patterns and the links, once."""

    def document() -> dict[str, Any]:
        built = openapi()
        if not built.get("x-amended"):
            _no_nul(built)
            _link(built)
            built["x-amended"] = True
        return built

    return document


def _no_nul(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") == "string" and not ({"pattern", "format", "enum", "const"} & node.keys()):
            node["pattern"] = NO_NUL
        for value in node.values():
            _no_nul(value)
    elif isinstance(node, list):
        for value in node:
            _no_nul(value)


def _link(document: dict[str, Any]) -> None:
    paths = document["paths"]
    for (method, path, status), parameter, targets in LINKS:
        response = paths[path][method]["responses"][status]
        links = response.setdefault("links", {})
        for target_method, target_path in targets:
            target = paths[target_path][target_method]
            name = "".join(part.capitalize() for part in target["operationId"].split("_v1_")[0].split("_"))
            links[name] = {
                "operationId": target["operationId"],
                "parameters": {parameter: "$response.body#/id"},
                "description": f"`{parameter}` is the `id` of the answer.",
            }
