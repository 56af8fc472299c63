"""HTTP helpers shared by the routers: ETags, If-Match, page size."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Header, Query

# If-Match compares strongly (RFC 9110 13.1.1): a weak tag W/"v3" matches nothing.
_TAG = re.compile(r'^"v(\d{1,18})"$')

IfMatch = Annotated[
    str | None,
    Header(
        description='The ETag you read (e.g. `"v3"`); if the resource changed since, nothing is written and '
        "the answer is 412.",
    ),
]
Limit = Annotated[int, Query(ge=1, le=500, description="Items per page.")]
Cursor = Annotated[str | None, Query(max_length=200, description="The `next` cursor of the previous page.")]


def etag(version: int) -> str:
    """The ETag of a resource version."""
    return f'"v{version}"'


def expected_versions(if_match: str | None) -> set[int] | None:
    """The versions an If-Match header accepts; None when any will do."""
    if if_match is None or if_match.strip() == "*":
        return None
    # A tag that is not one of ours matches no version: the write fails with 412, but only once the
    # resource is known to exist (a missing one is 404 whatever the preconditions, RFC 9110 13.2.1).
    matches = (_TAG.match(part.strip()) for part in if_match.split(","))
    return {int(match.group(1)) for match in matches if match is not None}
