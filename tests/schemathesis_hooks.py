"""Schemathesis hooks for its own CLI run against a served API (tests/test_contract_outside.py).

What the CLI cannot know from the document alone:

- how to put an `application/x-ndjson` body on the wire: it knows JSON, forms, XML and text, not NDJSON. The
  document describes each NDJSON body as text, one JSON object a line (with an example); it is sent as generated;
- which refusals of schema-valid input, and acceptances of schema-invalid input, no schema can prevent
  (tests/contract_rules.py says why of each): `positive_data_acceptance` and `negative_data_rejection` run as the
  two checks below, which let exactly those through and apply the built-in check to every other answer.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import schemathesis
from schemathesis import Case
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from tests.contract_rules import STREAMED_BODIES, legitimately_refused

# Where each check below notes that it ran (tests/test_contract_outside.py reads it): proof that excluding the
# built-in checks did not leave the run without them.
_RAN = os.environ.get("REKISTERI_CONTRACT_CHECKS_RAN")
_noted: set[str] = set()


def _note(name: str) -> None:
    if _RAN and name not in _noted:
        _noted.add(name)
        with Path(_RAN).open("a") as ran:
            ran.write(name + "\n")


@schemathesis.serializer("application/x-ndjson")
def _ndjson(_: object, value: Any) -> bytes:
    """NDJSON is text: send the generated string as it is."""
    return value.encode() if isinstance(value, str) else str(value).encode()


@schemathesis.check
def positive_data_acceptance_but_what_no_schema_can_say(ctx: Any, response: Any, case: Case[Any]) -> bool | None:
    """Valid data is accepted, but for the refusals tests/contract_rules.py lists, each with its reason."""
    _note("positive_data_acceptance")
    if case.operation.path in STREAMED_BODIES or legitimately_refused(
        case.operation.path, case.query, case.headers, response
    ):
        return None
    result: bool | None = positive_data_acceptance(ctx, response, case)
    return result


@schemathesis.check
def negative_data_rejection_but_lines_answered_one_by_one(ctx: Any, response: Any, case: Case[Any]) -> bool | None:
    """Invalid data is refused, but in bodies of lines, where each line is answered on its own (STREAMED_BODIES);
    and a body over the size limit is refused (413) before anything in it is read, so before it is judged."""
    _note("negative_data_rejection")
    if case.operation.path in STREAMED_BODIES or response.status_code == 413:
        return None
    result: bool | None = negative_data_rejection(ctx, response, case)
    return result
