"""Data subject requests: intake, identity, deadlines, answers; and the exports they lead to."""

from __future__ import annotations

import base64
import datetime as dt
import enum
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import HTMLResponse, PlainTextResponse, StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Session, snapshot_session
from app.errors import BadRequest, Conflict, Unprocessable, problem_responses
from app.models.base import IsoDate
from app.models.customers import Customer, CustomerPublic
from app.models.requests import (
    AnswerLanguage,
    Complete,
    Extend,
    Refuse,
    RequestCreate,
    RequestIdentity,
    RequestPage,
    RequestPublic,
    RequestStatus,
    RequestType,
    RestrictionNotice,
    SubjectRequest,
    VerifyIdentity,
    Withdraw,
)
from app.pagination import cut, encode_cursor
from app.routers._http import Cursor, IdempotencyKey, IfMatch, Limit, etag, expected_versions, remember, replay
from app.security import Actor, Staff, Writer
from app.services import customers as customer_service
from app.services import exports, letters, restriction
from app.services import requests as service

router = APIRouter(tags=["requests"])


class ExportKind(enum.StrEnum):
    access = "access"
    portability = "portability"


class ExportFormat(enum.StrEnum):
    json = "json"
    zip = "zip"


class LetterFormat(enum.StrEnum):
    markdown = "markdown"
    html = "html"


def _public(request: SubjectRequest, response: Response) -> RequestPublic:
    response.headers["ETag"] = etag(request.version)
    return service.public(request)


def _decode(cursor: str) -> tuple[dt.date, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        day, ident = raw.split("|")
        return dt.date.fromisoformat(day), uuid.UUID(ident)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("The cursor is not valid; start again without it.") from exc


@router.post(
    "/v1/requests",
    status_code=status.HTTP_201_CREATED,
    summary="Register a request",
    description="Registers a data subject request as it arrived: by letter, e-mail, phone, in person, a web "
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
async def create_request(
    http: Request,
    data: RequestCreate,
    session: Session,
    actor: Writer,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> RequestPublic | Response:
    if (first := await replay(http, session, actor, idempotency_key)) is not None:
        return first
    request = await service.create(session=session, actor=actor, data=data)
    response.headers["Location"] = f"/v1/requests/{request.id}"
    answer = _public(request, response)
    subject = request.customer_id or request.id
    await remember(session, actor, idempotency_key, answer, response, status=201, subject_id=subject)
    return answer


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
        after=_decode(cursor) if cursor else None,
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
    context = await service.letter_context(session=session, actor=actor, request=request, language=lang)
    text = letters.render(context, format_.value)
    if format_ is LetterFormat.html:
        return HTMLResponse(text)
    return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")


def _stream(
    request: Request,
    actor: Actor,
    customer_id: uuid.UUID,
    kind: ExportKind,
    fmt: ExportFormat,
    lang: str,
) -> StreamingResponse:
    def body(make: Callable[[AsyncSession], AsyncIterator[bytes]]) -> AsyncIterator[bytes]:
        async def chunks() -> AsyncIterator[bytes]:
            async with snapshot_session(request, str(actor.controller_id)) as session:
                async for chunk in make(session):
                    yield chunk

        return chunks()

    cid = actor.controller_id
    name = f"{kind.value}-{customer_id}"
    if fmt is ExportFormat.zip:
        stream = body(lambda s: exports.portability_zip(s, cid, customer_id))
        media, name = "application/zip", name + ".zip"
    elif kind is ExportKind.portability:
        stream = body(lambda s: exports.portability_document(s, cid, customer_id))
        media, name = "application/json", name + ".json"
    else:
        stream = body(lambda s: exports.access_document(s, cid, customer_id, lang))
        media, name = "application/json", name + ".json"
    return StreamingResponse(
        stream, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


_EXPORT_RESPONSES = {
    200: {
        "content": {
            "application/json": {"example": {"schema": "rekisteri.access/1", "customer": {}, "orders": []}},
            "application/zip": {"example": "(a zip of CSV files)"},
        },
        "description": "The export, streamed. Schemas: `rekisteri.access/1`, `rekisteri.portability/1` "
        "(docs/exports.md).",
    },
    **problem_responses(401, 403, 404, 409, 422),
}


def _check_format(kind: ExportKind, fmt: ExportFormat) -> None:
    if fmt is ExportFormat.zip and kind is not ExportKind.portability:
        raise Unprocessable("The zip of CSV files is for portability exports.", loc=("query", "format"))


@router.get(
    "/v1/requests/{request_id}/export",
    summary="The export a completed access or portability request produced",
    description="Streams the person's data: for access, everything with the Art. 15 information; for "
    "portability, what they provided (JSON, or `format=zip` for CSV files). Each download is audited as a "
    "disclosure.",
    response_class=StreamingResponse,
    responses=_EXPORT_RESPONSES,
)
async def request_export(
    request_id: uuid.UUID,
    request: Request,
    session: Session,
    actor: Staff,
    format_: Annotated[ExportFormat, Query(alias="format")] = ExportFormat.json,
    lang: AnswerLanguage | None = None,
) -> StreamingResponse:
    subject_request = await service.get(session=session, actor=actor, request_id=request_id)
    kinds = {RequestType.access: ExportKind.access, RequestType.portability: ExportKind.portability}
    kind = kinds.get(subject_request.type)
    if kind is None or subject_request.status is not RequestStatus.completed or subject_request.customer_id is None:
        raise Conflict("Only a completed access or portability request about a customer has an export.")
    _check_format(kind, format_)
    exports.record_disclosure(session, actor, subject_request.customer_id, kind.value, subject_request.id)
    language = (lang or subject_request.answer_language).value
    return _stream(request, actor, subject_request.customer_id, kind, format_, language)


@router.get(
    "/v1/customers/{customer_id}/export",
    summary="Export a customer's data",
    description="The same exports as an access or portability request produces, directly: `kind=access` "
    "(all the person's data and the Art. 15 information, tailored) or `kind=portability` (Art. 20: what the "
    "person provided, JSON or `format=zip` of CSV files). Streamed in constant memory; audited as a disclosure.",
    tags=["customers"],
    response_class=StreamingResponse,
    responses=_EXPORT_RESPONSES,
)
async def customer_export(
    customer_id: uuid.UUID,
    request: Request,
    session: Session,
    actor: Staff,
    kind: ExportKind = ExportKind.access,
    format_: Annotated[ExportFormat, Query(alias="format")] = ExportFormat.json,
    lang: AnswerLanguage = AnswerLanguage.fi,
) -> StreamingResponse:
    await customer_service.get_customer(session=session, actor=actor, customer_id=customer_id)
    _check_format(kind, format_)
    exports.record_disclosure(session, actor, customer_id, kind.value, None)
    return _stream(request, actor, customer_id, kind, format_, lang.value)


def _customer_public(customer: Customer, response: Response) -> CustomerPublic:
    response.headers["ETag"] = etag(customer.version)
    return CustomerPublic.model_validate(customer, from_attributes=True)


@router.post(
    "/v1/customers/{customer_id}/restriction/notice",
    summary="Record that the person was told the restriction will be lifted",
    description="Art. 18(3): the person must be told before a restriction is lifted. Record it here; then "
    "`DELETE /v1/customers/{id}/restriction` lifts it.",
    tags=["customers"],
    responses=problem_responses(400, 401, 403, 404, 409, 412, 415, 422),
)
async def restriction_notice(
    customer_id: uuid.UUID,
    data: RestrictionNotice,
    session: Session,
    actor: Staff,
    response: Response,
    if_match: IfMatch = None,
) -> CustomerPublic:
    customer = await customer_service.get_customer(
        session=session, actor=actor, customer_id=customer_id, for_update=True
    )
    customer_service.check_version(customer.version, expected_versions(if_match))
    customer = await restriction.record_notice(session=session, actor=actor, customer=customer, data=data)
    return _customer_public(customer, response)


@router.delete(
    "/v1/customers/{customer_id}/restriction",
    summary="Lift a restriction of processing",
    description="Only after the person was told (`POST .../restriction/notice`). Recipients are told (Art. 19).",
    tags=["customers"],
    responses=problem_responses(401, 403, 404, 409, 412, 422),
)
async def lift_restriction(
    customer_id: uuid.UUID, session: Session, actor: Staff, response: Response, if_match: IfMatch = None
) -> CustomerPublic:
    customer = await customer_service.get_customer(
        session=session, actor=actor, customer_id=customer_id, for_update=True
    )
    customer_service.check_version(customer.version, expected_versions(if_match))
    await restriction.lift(session=session, actor=actor, customer=customer)
    return _customer_public(customer, response)
