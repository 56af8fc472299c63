"""HTTP helpers shared by the routers: ETags, If-Match, page size, Idempotency-Key."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Generic, Protocol, TypeVar

from fastapi import Depends, Header, Query, Request
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from app.actor import Actor
from app.db import Session
from app.services import idempotency

# If-Match compares strongly (RFC 9110 13.1.1): a weak tag W/"v3" matches nothing.
_TAG = re.compile(r'^"v(\d{1,18})"$')

IfMatch = Annotated[
    str | None,
    Header(
        description='The ETag you read (e.g. `"v3"`); if the resource changed since, nothing is written and '
        "the answer is 412.",
    ),
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=r"^[!-~]{1,200}$",
        description="Any unique string of yours (a UUID will do) for this request: a retry with the same key and "
        "body gets the first answer and writes nothing again; the same key with another body is 422. Kept 24 h.",
    ),
]
Limit = Annotated[int, Query(ge=1, le=500, description="Items per page.")]
Cursor = Annotated[
    str | None,
    Query(
        max_length=200,
        description="The `next` cursor of the previous page, as the server issued it; any other value is 400.",
    ),
]


def etag(version: int) -> str:
    """The ETag of a resource version."""
    return f'"v{version}"'


class Versioned(Protocol):
    """A resource with an id and a version (its ETag)."""

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def version(self) -> int: ...


A = TypeVar("A", bound=BaseModel)


def tagged(response: Response, version: int, answer: A) -> A:
    """The answer, with the ETag of the resource version it shows on the response."""
    response.headers["ETag"] = etag(version)
    return answer


def shown(response: Response, resource: Versioned, schema: type[A]) -> A:
    """The resource as the API shows it (`schema`), with its version's ETag on the response."""
    return tagged(response, resource.version, schema.model_validate(resource, from_attributes=True))


def expected_versions(if_match: str | None) -> set[int] | None:
    """The versions an If-Match header accepts; None when any will do."""
    if if_match is None or if_match.strip() == "*":
        return None
    # A tag that is not one of ours matches no version: the write fails with 412, but only once the
    # resource is known to exist (a missing one is 404 whatever the preconditions, RFC 9110 13.2.1).
    matches = (_TAG.match(part.strip()) for part in if_match.split(","))
    return {int(match.group(1)) for match in matches if match is not None}


class DuplexStream(Response):
    """A streamed answer that may read the request body while it is sent.

    Starlette's StreamingResponse listens for a disconnect on `receive` while streaming, which takes the
    request body's messages away from a handler that is still reading them; this one leaves `receive` alone.
    """

    def __init__(self, chunks: AsyncIterator[bytes], media_type: str) -> None:
        super().__init__(media_type=media_type)
        # The length is unknown until the end: sent chunked, so no Content-Length (the base class sets 0).
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        self.chunks = chunks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        async for chunk in self.chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def replay(request: Request, session: AsyncSession, actor: Actor, key: str | None) -> Response | None:
    """The first answer to this Idempotency-Key, if the key was used; else None, with the key claimed."""
    if key is None:
        return None
    seen = await idempotency.claim(
        session=session,
        actor=actor,
        key=key,
        fingerprint=idempotency.fingerprint(request.method, request.url.path, await request.body()),
    )
    if seen is None:
        return None
    assert seen.status is not None
    return Response(seen.body, status_code=seen.status, headers={**seen.headers, "idempotent-replayed": "true"})


async def remember(
    session: AsyncSession,
    actor: Actor,
    key: str | None,
    answer: BaseModel,
    response: Response,
    *,
    status: int,
    subject_id: uuid.UUID | None,
) -> None:
    """Keep the answer under the claimed Idempotency-Key, in the transaction of the work."""
    if key is None:
        return
    headers = dict(response.headers) | {"content-type": "application/json"}
    await idempotency.record(
        session=session,
        actor=actor,
        key=key,
        status=status,
        body=answer.model_dump_json().encode(),
        headers=headers,
        subject_id=subject_id,
    )


R = TypeVar("R", bound=Versioned)


@dataclass(frozen=True)
class Created(Generic[R, A]):
    """How a created resource is answered: its public view, its URL (`{id}` in it), and the person it is
    about (an Idempotency-Key's stored answer is forgotten when that person is erased)."""

    public: Callable[[R], A]
    location: str
    subject: Callable[[R], uuid.UUID]


class Once:
    """A create that an `Idempotency-Key` makes safe to retry: a dependency of the POST routes."""

    def __init__(self, http: Request, response: Response, session: Session, key: IdempotencyKey = None) -> None:
        self.http, self.response, self.session, self.key = http, response, session, key

    async def create(
        self, spec: Created[R, A], actor: Actor, make: Callable[[AsyncSession], Awaitable[R]]
    ) -> A | Response:
        """A retry gets the first answer; a first call creates the resource and answers 201 with its
        `Location` and ETag, the answer remembered under the key in the transaction of the work."""
        if (first := await replay(self.http, self.session, actor, self.key)) is not None:
            return first
        resource = await make(self.session)
        self.response.headers["Location"] = spec.location.format(id=resource.id)
        answer = tagged(self.response, resource.version, spec.public(resource))
        await remember(
            self.session, actor, self.key, answer, self.response, status=201, subject_id=spec.subject(resource)
        )
        return answer


IdempotentCreate = Annotated[Once, Depends()]
