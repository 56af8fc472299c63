"""What the OpenAPI document cannot say, and so where schemathesis' checks cannot apply, each with its reason.

Shared by the in-process contract run (tests/test_contract.py) and the run of schemathesis' own CLI against a
served API (tests/test_contract_outside.py, through tests/schemathesis_hooks.py). Everything a JSON Schema can
state is stated in the document (formats, patterns, lengths, enums); what is left here is what no schema can:
check digits, whether something exists, rules between fields, and values the server issues.
"""

from __future__ import annotations

from typing import Any, Protocol

from app.middleware import NUL_DETAIL

# Rules no JSON Schema keyword can state, on a field (its form is in the schema; what is left is not):
UNEXPRESSIBLE = {
    "business_id",  # a Y-tunnus's check digit (its form, 1234567-8, is the schema's pattern)
    "phone",  # whether a number is dialable in its country's number plan (libphonenumber)
    "email",  # a domain reserved for special use (RFC 6761) is no address, though `format: email` takes it
    "customer_id",  # whether the customer named in a body exists
    "received_at",  # that a request was received after the GDPR began to apply (25 May 2018)
    "notice_date",  # that a notice is not drawn up in the future (the day the request is made)
    "retention",  # that a notice does not enforce two retention rules for the same data
    "financial_year_start",  # a day every year has (no 29 February, no 31 November)
    "recipient",  # whether the recipient a webhook or key names is in the controller's register
    "occurred_at",  # that what the person said is not dated in the future (now is no part of a schema)
    "refuse_fields",  # for a rectification only, of fields the person asked to correct: the request's, not the body's
    "release_business_contact",  # for an erasure request only: its type is the request's, not the body's
}
# Rules between query parameters, which OpenAPI describes one by one: `format=zip` is for `kind=portability`.
UNEXPRESSIBLE_PARAMETERS = {"format"}
# Rules on a field that depend on the resource a change is made to, on that operation only:
UNEXPRESSIBLE_ON = {
    # a settlement date is for a settled invoice: a change that names no status is checked against the order's
    "/v1/orders/{order_id}": {"settled_date"},
}
# And rules between the fields of one part of a profile: a recipient's transfer mechanism fits its country
# (none inside the EU/EEA; an adequacy decision only where one exists) and recipient ids are unique; an
# appointed officer has a contact and none is given for an officer not appointed; a legitimate interest or a
# law is stated only for the basis that calls for it.
UNEXPRESSIBLE_WITHIN = {"recipients", "dpo", "purposes"}
# And a relationship ends no earlier than it starts (two fields of one customer).
ENDS_BEFORE_IT_STARTS = "relationship_end_date is before"

# Operations whose body is lines of text (NDJSON, or CSV) that no JSON Schema type describes line by line: a
# line that names nobody, or is no customer at all, is answered on its own (a line of output, a line in `errors`),
# so "invalid" bodies are rightly taken, and an upload that must apply all or nothing rightly refuses a "valid" one.
STREAMED_BODIES = (
    "/v1/marketing/check",
    "/v1/customers/import",
    "/v1/suppression-lists/{list_id}/entries",
)


class Answer(Protocol):
    """What the rules read of an answer (schemathesis' Response)."""

    status_code: int

    def json(self) -> Any: ...


def _errors(response: Answer) -> list[dict[str, Any]]:
    try:
        body = response.json()
    except ValueError:
        return []
    errors = body.get("errors") if isinstance(body, dict) else None
    return errors if isinstance(errors, list) else []


def _unexpressible(error: dict[str, Any], path: str) -> bool:
    if error.get("type") != "value_error":
        return False
    loc = [str(part) for part in error.get("loc", [])]
    return bool(loc) and (
        (loc[0] == "body" and loc[-1] in UNEXPRESSIBLE | UNEXPRESSIBLE_ON.get(path, set()))
        or (loc[0] == "query" and loc[-1] in UNEXPRESSIBLE_PARAMETERS)
        or (len(loc) > 1 and loc[0] == "body" and bool(UNEXPRESSIBLE_WITHIN & set(loc)))
        or ENDS_BEFORE_IT_STARTS in str(error.get("msg"))
    )


def only_unexpressible_fields(path: str, response: Answer) -> bool:
    """A 422 of the operation at `path` whose every error is a rule no schema can state (above)."""
    errors = _errors(response)
    return bool(errors) and all(_unexpressible(e, path) for e in errors)


def incomplete_profile(response: Answer) -> bool:
    """A well-formed profile that lacks what GDPR Art. 13-14 require, or says what the law has overtaken: not
    published (docs/privacy-notice.md). Completeness is no part of the schema, which a draft shares."""
    errors = _errors(response)
    return bool(errors) and all(e.get("type") in ("missing", "outdated") for e in errors)


def idempotency_key_reused(response: Answer) -> bool:
    """An Idempotency-Key generated twice for two bodies: the second is refused, as it must be."""
    errors = _errors(response)
    return bool(errors) and all(e.get("loc") == ["header", "Idempotency-Key"] for e in errors)


def nul_outside_the_document(response: Answer) -> bool:
    """The document says every declared text is NUL-free; a NUL in an undeclared key or extra value of a body
    is outside what it can say, and refused all the same."""
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("detail") == NUL_DETAIL


def legitimately_refused(
    path: str, query: dict[str, Any] | None, headers: dict[str, Any] | None, response: Answer
) -> bool:
    """A schema-valid request the API may refuse for what the schema cannot express.

    `cursor` is an opaque token issued by the server: any other string of the right length is schema-valid
    and refused with the documented 400. The rules in UNEXPRESSIBLE refuse schema-valid bodies with the
    documented 422. `If-Match` is any list of entity tags in the schema, but one that does not name the
    current version must fail the precondition with the documented 412 (RFC 9110, 13.1.1).
    """
    if response.status_code == 400 and query and query.get("cursor") is not None:
        return True
    if response.status_code == 422 and (
        only_unexpressible_fields(path, response)
        or idempotency_key_reused(response)
        or incomplete_profile(response)
        or nul_outside_the_document(response)
    ):
        return True
    sent = {name.lower(): value for name, value in (headers or {}).items()}
    return response.status_code == 412 and sent.get("if-match") is not None
