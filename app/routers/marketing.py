"""Marketing permissions: the state per customer, the single check, and the campaign check."""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections import deque
from collections.abc import AsyncIterator, Iterator
from typing import IO, Annotated

from fastapi import APIRouter, Query, Request

from app import ndjson
from app.db import Session, tenant_session
from app.errors import UnsupportedMediaType, problem_responses
from app.json import dumps
from app.models.marketing import Channel, Decision, MarketingState, MarketingUpdate
from app.routers._http import DuplexStream
from app.security import Writer
from app.services import campaign
from app.services import marketing as service

router = APIRouter(tags=["marketing"])

OwnSimilar = Annotated[
    bool,
    Query(
        description="The campaign offers the business's own products similar to what the person bought: "
        "then an existing customer (a sale within the profile's window, the e-mail collected at it, an opt-out "
        "offered) may get electronic marketing without consent (Act 917/2014 § 200(2))."
    ),
]
NDJSON = "application/x-ndjson"


@router.get(
    "/v1/customers/{customer_id}/marketing",
    summary="Read marketing permissions",
    description="The customer's prohibitions, consents and opt-out offers per channel, the decision each "
    "leads to, and the whole history of how they came about (who recorded what, when, how received, and "
    "for consents the wording shown).",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_marketing(customer_id: uuid.UUID, session: Session, actor: Writer) -> MarketingState:
    return await service.state(session=session, actor=actor, customer_id=customer_id)


@router.put(
    "/v1/customers/{customer_id}/marketing",
    summary="Record prohibitions and consents",
    description="Records what the person said, channel by channel: a prohibition (or its lifting), a consent "
    "(with the wording they agreed to) or its withdrawal, an opt-out offered for electronic marketing, or an "
    "objection to all direct marketing. Only what differs from the current state is recorded, so sending the "
    "same body again changes nothing; nothing is ever overwritten, each change is a new entry in the history. "
    "Channels not named stay as they are. A person whose data was erased is 409: every channel is denied and "
    "nothing more is recorded.",
    responses=problem_responses(400, 401, 403, 404, 409, 415, 422),
)
async def put_marketing(
    customer_id: uuid.UUID, data: MarketingUpdate, session: Session, actor: Writer
) -> MarketingState:
    return await service.update(session=session, actor=actor, customer_id=customer_id, data=data)


@router.get(
    "/v1/customers/{customer_id}/marketing/{channel}",
    summary="May we market to this person",
    description="Answers yes or no for one channel, with a machine-readable `reason` and a human `detail` that "
    "names the rule's source. Order of the rules: unknown person, erased, restricted, objection, prohibition on "
    "the channel, a match on a suppression list that forbids it (`suppressed`, the list named); then for "
    "electronic marketing, automated calls, partner disclosure and list publication, business contacts are "
    "allowed, private persons need a live consent (or, for electronic marketing with `own_similar_products`, "
    "to be an existing customer: a sale within the profile's window, the e-mail collected at it, an opt-out "
    "offered). The rules and their sources: docs/marketing.md.",
    responses=problem_responses(401, 403, 422),
)
async def check_one(
    customer_id: uuid.UUID, channel: Channel, session: Session, actor: Writer, own_similar_products: OwnSimilar = False
) -> Decision:
    return await service.check(
        session=session,
        actor=actor,
        customer_id=customer_id,
        channel=channel,
        own_similar_products=own_similar_products,
    )


MAX_LINE = 4096  # bytes; no identifier is longer, and a runaway line must not grow without bound
SPOOL_IN_MEMORY = 1 << 20  # bytes of answers kept in memory; the rest waits on disk
IN_FLIGHT = 2  # batches checked at once


def _replay(spool: IO[bytes]) -> Iterator[bytes]:
    spool.seek(0)
    while chunk := spool.read(1 << 16):
        yield chunk
    spool.close()


@router.post(
    "/v1/marketing/check",
    summary="Check a campaign list",
    description='Send NDJSON, one identifier a line (`{"customer_id": …}`, `{"external_id": …}`, '
    '`{"email": …}` or `{"phone": …}`); the answer is NDJSON in the same order, one line per non-blank input '
    'line: `{"line": n, "allowed": …, "reason": …}` where `n` is the line\'s number in your input. '
    "The list is checked as it arrives and the answers, kept on disk past 1 MiB, are sent once it has all come: "
    "a million identifiers take constant memory, and any HTTP client works. A line over 4096 bytes is answered "
    "`invalid_identifier`. An identifier "
    "matching nobody is `unknown_subject` (never allowed by default), unless it is on a suppression list that "
    'forbids the channel: then it is `suppressed`, whoever has it, and the line carries `"detail"` naming the '
    "list. One matching several people is allowed only if all of them allow it.",
    responses={
        200: {"content": {NDJSON: {"example": '{"line": 1, "allowed": true, "reason": "consent"}\n'}}},
        **problem_responses(401, 403, 415, 422),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                NDJSON: {
                    "schema": {
                        "type": "string",
                        "description": 'Identifiers, one JSON object a line: {"customer_id": …}, {"external_id": …}, '
                        '{"email": …} or {"phone": …}.',
                    },
                    "example": '{"email": "maija@example.fi"}\n{"external_id": "shop-10042"}\n',
                }
            },
        }
    },
    response_class=DuplexStream,
    status_code=200,
)
async def check_many(
    request: Request, actor: Writer, channel: Channel, own_similar_products: OwnSimilar = False
) -> DuplexStream:
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != NDJSON:
        raise UnsupportedMediaType("Send the list as application/x-ndjson, one identifier a line.")

    # The answers are worked out while the list arrives and kept (past 1 MiB on disk) until it has all come:
    # most HTTP clients read no answer before they have sent their whole body, so answering earlier would
    # stall both ends once the socket buffers fill.
    answers = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 (closed by _replay)

    async def answer(batch: list[campaign.Line]) -> bytes:
        # A short transaction per batch: no connection is held while the client sends the next lines.
        async with tenant_session(request, actor) as session:
            rows = await campaign.check_batch(
                session=session, actor=actor, lines=batch, channel=channel, own_similar_products=own_similar_products
            )
        return b"".join(dumps(row) + b"\n" for row in rows)

    # Two batches in flight: one waits on PostgreSQL while the next is read and parsed. Answers are written in
    # the order of the list.
    in_flight: deque[asyncio.Task[bytes]] = deque()
    try:
        batch: list[campaign.Line] = []
        # Lines are split and parsed in a worker thread; here they are only numbered and batched.
        async for number, line in ndjson.parsed(request.stream(), max_line=MAX_LINE, parse=campaign.parse_line):
            if line is None:
                line = campaign.Line(number, invalid=f"longer than {MAX_LINE} bytes")
            line.number = number
            batch.append(line)
            if len(batch) >= campaign.BATCH:
                in_flight.append(asyncio.create_task(answer(batch)))
                batch = []
                if len(in_flight) >= IN_FLIGHT:
                    answers.write(await in_flight.popleft())
        if batch:
            in_flight.append(asyncio.create_task(answer(batch)))
        while in_flight:
            answers.write(await in_flight.popleft())
    except BaseException:
        for task in in_flight:
            task.cancel()
        answers.close()
        raise

    async def stream() -> AsyncIterator[bytes]:
        for chunk in _replay(answers):
            yield chunk

    return DuplexStream(stream(), media_type=NDJSON)
