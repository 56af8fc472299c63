"""Data subject requests: intake, identity, deadlines, the actions that carry them out, and the letters."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import HTMLResponse, PlainTextResponse

from app.db import Session
from app.errors import problem_responses
from app.models.base import IsoDate
from app.models.intake import RequestCreate
from app.models.requests import (
    AnswerLanguage,
    Complete,
    Extend,
    LetterFormat,
    Refuse,
    RequestIdentity,
    RequestPage,
    RequestPublic,
    RequestStatus,
    RequestType,
    SubjectRequest,
    VerifyIdentity,
    Withdraw,
)
from app.pagination import cut, decode_date_id, encode_cursor
from app.routers._http import (
    Created,
    Cursor,
    IdempotentCreate,
    IfMatch,
    Limit,
    expected_versions,
    tagged,
)
from app.security import Staff
from app.services import answers, letters
from app.services import requests as service

router = APIRouter(tags=["requests"])
_CREATED = Created(
    public=service.public,
    location="/v1/requests/{id}",
    subject=lambda request: request.customer_id or request.id,
)


def _public(request: SubjectRequest, response: Response) -> RequestPublic:
    return tagged(response, request.version, service.public(request))


@router.post(
    "/v1/requests",
    status_code=status.HTTP_201_CREATED,
    summary="Register a request",
    description="Customer service and admins only. Registers a data subject request as it arrived: by letter, "
    "e-mail, phone, in person, a web "
    "form or an authorised agent, in any language; no signature or form is needed (GDPR Art. 12). Give the "
    "`customer_id`, or the `person`'s details: one exact match on e-mail, phone or external id links the "
    "request. `received_at` may lie in the past (a letter); the answer is due one month later, counted by "
    "Regulation 1182/71 with Finnish public holidays (`due_date`). Some rights apply at once: an objection to "
    "direct marketing and a marketing prohibition stop marketing on receipt; an objection on grounds of the "
    "person's particular situation restricts processing until it is decided. Each type has its own fields: "
    "`rectification`, `restriction`, `objection`, `erasure`, `prohibition` (channels; none means all).",
    responses=problem_responses(400, 401, 403, 409, 415, 422),
    response_model=RequestPublic,
)
async def create_request(data: RequestCreate, actor: Staff, once: IdempotentCreate) -> RequestPublic | Response:
    return await once.create(_CREATED, actor, lambda s: service.create(session=s, actor=actor, data=data))


@router.get(
    "/v1/requests",
    summary="List requests, soonest due first",
    description="Filters combine: `status` and `type` (repeat for several), `due_before` (due strictly before "
    "that day), `overdue` (open past the due date; the due day itself is in time; a request awaiting proof of "
    "identity is not overdue while its clock stands), `customer_id`. Sorted by due date; follow `next`.",
    responses=problem_responses(400, 401, 403, 422),
)
async def list_requests(
    request: Request,
    session: Session,
    actor: Staff,
    limit: Limit = 50,
    cursor: Cursor = None,
    status_: Annotated[list[RequestStatus] | None, Query(alias="status", max_length=6)] = None,
    type_: Annotated[list[RequestType] | None, Query(alias="type", max_length=7)] = None,
    due_before: Annotated[IsoDate | None, Query(description="Due strictly before this day.")] = None,
    overdue: Annotated[bool | None, Query()] = None,
    customer_id: Annotated[uuid.UUID | None, Query()] = None,
) -> RequestPage:
    rows = await service.list_requests(
        session=session,
        actor=actor,
        status=status_ or [],
        types=type_ or [],
        due_before=due_before,
        overdue=overdue,
        customer_id=customer_id,
        after=decode_date_id(cursor) if cursor else None,
        limit=limit + 1,
    )
    rows, next_url = cut(rows, limit, request.url, lambda r: encode_cursor(r.due_date.isoformat(), r.id))
    return RequestPage(items=[service.public(r) for r in rows], next=next_url)


@router.get(
    "/v1/requests/{request_id}",
    summary="Read a request",
    description="The request with its deadline (`due_date`, `overdue`), identity check, extension, outcome "
    "and refusal reasons. The ETag is its version, for `If-Match` on the actions.",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_request(request_id: uuid.UUID, session: Session, actor: Staff, response: Response) -> RequestPublic:
    return _public(await service.get(session=session, actor=actor, request_id=request_id), response)


@router.post(
    "/v1/requests/{request_id}/request-identity",
    summary="Ask the person to confirm who they are",
    description="Only where there is reasonable doubt (Art. 12(6)). The request waits in `awaiting_identity`; "
    "with the default setting its deadline stands still until `verify`, if it was asked on or before the due "
    "date (asked later, the request stays as late as it is).",
    responses=problem_responses(400, 401, 403, 404, 409, 412, 415, 422),
)
async def request_identity(
    request_id: uuid.UUID,
    data: RequestIdentity,
    session: Session,
    actor: Staff,
    response: Response,
    if_match: IfMatch = None,
) -> RequestPublic:
    request = await service.request_identity(
        session=session, actor=actor, request_id=request_id, data=data, expected=expected_versions(if_match)
    )
    return _public(request, response)


@router.post(
    "/v1/requests/{request_id}/verify",
    summary="Record how the person's identity was confirmed",
    description="Records the method, who verified and when; may link the request to a customer "
    "(`customer_id`). The request moves to `in_progress`; days spent awaiting identity are added to the deadline.",
    responses=problem_responses(400, 401, 403, 404, 409, 412, 415, 422),
)
async def verify(
    request_id: uuid.UUID,
    data: VerifyIdentity,
    session: Session,
    actor: Staff,
    response: Response,
    if_match: IfMatch = None,
) -> RequestPublic:
    request = await service.verify(
        session=session, actor=actor, request_id=request_id, data=data, expected=expected_versions(if_match)
    )
    return _public(request, response)


@router.post(
    "/v1/requests/{request_id}/extend",
    summary="Extend the deadline once, with reasons",
    description="Art. 12(3): by one or two further months, once, and only on or before the first due date "
    "(while the clock stands for proof of identity, the days waited so far count to it). "
    "The reasons go to the person in the extension letter (`GET .../letter`).",
    responses=problem_responses(400, 401, 403, 404, 409, 412, 415, 422),
)
async def extend(
    request_id: uuid.UUID, data: Extend, session: Session, actor: Staff, response: Response, if_match: IfMatch = None
) -> RequestPublic:
    request = await service.extend(
        session=session, actor=actor, request_id=request_id, data=data, expected=expected_versions(if_match)
    )
    return _public(request, response)


@router.post(
    "/v1/requests/{request_id}/complete",
    summary="Carry the request out",
    description="Does what the right requires, through the audited path, and records the outcome:\n\n"
    "- **access**, **portability**: the export is ready at `GET /v1/requests/{id}/export`;\n"
    "- **rectification**: the corrections are applied, except the fields in `refuse_fields` (each with its "
    "reason) and, while processing is restricted, fields not under dispute; recipients are told (Art. 19);\n"
    "- **restriction**: the customer is marked restricted: marketing denied, edits refused but for the "
    "contested fields; recipients are told;\n"
    "- **objection**: to direct marketing, every channel is denied; on the person's particular situation, "
    "upheld: the data stays restricted to storage;\n"
    "- **erasure**: the data is erased, except what an open invoice, the Accounting Act or an active business "
    "relationship requires, which is kept blocked; the outcome lists both, with reasons; the person's audit "
    "key is destroyed; recipients are told;\n"
    "- **marketing_prohibition**: the named channels (all when none) are prohibited.",
    responses=problem_responses(400, 401, 403, 404, 409, 412, 415, 422),
)
async def complete(
    request_id: uuid.UUID, data: Complete, session: Session, actor: Staff, response: Response, if_match: IfMatch = None
) -> RequestPublic:
    request = await service.complete(
        session=session, actor=actor, request_id=request_id, data=data, expected=expected_versions(if_match)
    )
    return _public(request, response)


@router.post(
    "/v1/requests/{request_id}/refuse",
    summary="Refuse the request, with reasons",
    description="Art. 12(4): the reasons are required; the refusal letter names the supervisory authorities "
    "(Finland's Data Protection Ombudsman, and the person's own country's when known) and the right to a "
    "judicial remedy.",
    responses=problem_responses(400, 401, 403, 404, 409, 412, 415, 422),
)
async def refuse(
    request_id: uuid.UUID, data: Refuse, session: Session, actor: Staff, response: Response, if_match: IfMatch = None
) -> RequestPublic:
    request = await service.refuse(
        session=session, actor=actor, request_id=request_id, reasons=data.reasons, expected=expected_versions(if_match)
    )
    return _public(request, response)


@router.post(
    "/v1/requests/{request_id}/withdraw",
    summary="The person withdrew the request",
    description="Closes the request as withdrawn; what was already done (a prohibition applied at once) stays.",
    responses=problem_responses(400, 401, 403, 404, 409, 412, 415, 422),
)
async def withdraw(
    request_id: uuid.UUID, data: Withdraw, session: Session, actor: Staff, response: Response, if_match: IfMatch = None
) -> RequestPublic:
    request = await service.withdraw(
        session=session, actor=actor, request_id=request_id, note=data.note, expected=expected_versions(if_match)
    )
    return _public(request, response)


@router.get(
    "/v1/requests/{request_id}/letter",
    summary="The answer letter to the person",
    description="The letter for the request's present state: completion, refusal (with the complaint and court "
    "remedies), extension (new due date and reasons) or a request for proof of identity. Markdown or a "
    "complete HTML page, in Finnish, Swedish or English (default: the request's answer language).",
    response_class=Response,
    responses={
        200: {
            "content": {
                "text/markdown": {"example": "# Tarkastusoikeus (EU 2016/679, 15 artikla)\n\n..."},
                "text/html": {"example": '<!DOCTYPE html><html lang="fi">...</html>'},
            },
            "description": "The letter.",
        },
        **problem_responses(401, 403, 404, 409, 422),
    },
)
async def letter(
    request_id: uuid.UUID,
    session: Session,
    actor: Staff,
    lang: AnswerLanguage | None = None,
    format_: Annotated[LetterFormat, Query(alias="format")] = LetterFormat.markdown,
) -> Response:
    request = await service.get(session=session, actor=actor, request_id=request_id)
    context = await answers.letter_context(session=session, actor=actor, request=request, language=lang)
    text = letters.render(context, format_.value)
    if format_ is LetterFormat.html:
        return HTMLResponse(text)
    return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")
