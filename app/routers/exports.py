"""The access (Art. 15) and portability (Art. 20) exports: for a completed request, or directly."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from app.actor import Actor
from app.db import Session, snapshot_session
from app.errors import Conflict, Unprocessable, problem_responses
from app.models.exports import ExportFormat, ExportKind
from app.models.requests import AnswerLanguage, RequestStatus, RequestType
from app.security import Staff
from app.services import customers as customer_service
from app.services import disclosures, exports
from app.services import requests as request_service

router = APIRouter(tags=["requests"])

_EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "application/json": {"example": {"schema": "rekisteri.access/2", "customer": {}, "orders": []}},
            "application/zip": {"example": "(a zip of CSV files)"},
            "text/html": {
                "schema": {"type": "string"},
                "example": '<!DOCTYPE html><html lang="fi">…</html>',
            },
        },
        "description": "The export, streamed. Schemas: `rekisteri.access/2`, `rekisteri.portability/1` "
        "(docs/exports.md). The access export is also a page to read and print (`text/html`).",
    },
    **problem_responses(401, 403, 404, 409, 422),
}
FORMAT = Query(
    alias="format",
    description="`json`; `zip` (portability: CSV files); `html` (access: a page the person can read, in the "
    "answer's language). Left out: `html` when the `Accept` header asks for `text/html`, else `json`.",
)
_KINDS = {RequestType.access: ExportKind.access, RequestType.portability: ExportKind.portability}


def _stream(
    request: Request, actor: Actor, customer_id: uuid.UUID, kind: ExportKind, fmt: ExportFormat, lang: str
) -> StreamingResponse:
    """Stream the export from a read-only snapshot of its own: it outlives the request's transaction."""
    export = exports.prepare(actor=actor, customer_id=customer_id, kind=kind, fmt=fmt, lang=lang)

    async def chunks() -> AsyncIterator[bytes]:
        async with snapshot_session(request, actor) as session:
            async for chunk in export.make(session):
                yield chunk

    disposition = "inline" if export.inline else "attachment"
    headers = {"Content-Disposition": f'{disposition}; filename="{export.filename}"', "Cache-Control": "no-store"}
    if export.policy is not None:
        headers["Content-Security-Policy"] = export.policy
    return StreamingResponse(chunks(), media_type=export.media_type, headers=headers)


def _quality(accept: str, media_type: str) -> float:
    """How much an Accept header wants `media_type` (RFC 9110, 12.5.1): its q, or that of `type/*` or `*/*`."""
    kind = media_type.split("/")[0]
    best = {media_type: -1.0, f"{kind}/*": -1.0, "*/*": -1.0}
    for part in accept.split(","):
        name, *params = (p.strip() for p in part.split(";"))
        if name.lower() in best:
            q = next((p[2:] for p in params if p.lower().startswith("q=")), "1")
            try:
                best[name.lower()] = max(best[name.lower()], float(q))
            except ValueError:
                continue
    return next((q for q in best.values() if q >= 0), 0.0)


def _prefers_html(accept: str) -> bool:
    """A browser asks for a page; an API client (JSON, or anything) gets JSON."""
    return _quality(accept, "text/html") > _quality(accept, "application/json")


def _format(request: Request, kind: ExportKind, fmt: ExportFormat | None) -> ExportFormat:
    """The format asked in the query, else by the Accept header (a browser asks for a page)."""
    if fmt is None:
        fmt = ExportFormat.html if _prefers_html(request.headers.get("accept", "")) else ExportFormat.json
        if kind is ExportKind.portability:
            fmt = ExportFormat.json  # GDPR Art. 20(1): data to take elsewhere, structured and machine-readable
    if fmt is ExportFormat.zip and kind is not ExportKind.portability:
        raise Unprocessable("The zip of CSV files is for portability exports.", loc=("query", "format"))
    if fmt is ExportFormat.html and kind is not ExportKind.access:
        raise Unprocessable(
            "The page to read is the access export's; portability is JSON or zip.", loc=("query", "format")
        )
    return fmt


@router.get(
    "/v1/requests/{request_id}/export",
    summary="The export a completed access or portability request produced",
    description="Streams the person's data: for access, everything with the Art. 15 information, as JSON or as "
    "a page the person can read and print (`format=html`, or `Accept: text/html`), in the request's answer "
    "language unless `lang` says otherwise; for portability, what they provided (JSON, or `format=zip` for "
    "CSV files). Each download is audited as a disclosure; downloaded by a key tied to a recipient, it is "
    "logged in the person's disclosures too.",
    response_class=StreamingResponse,
    responses=_EXPORT_RESPONSES,
)
async def request_export(
    request_id: uuid.UUID,
    request: Request,
    session: Session,
    actor: Staff,
    format_: Annotated[ExportFormat | None, FORMAT] = None,
    lang: AnswerLanguage | None = None,
) -> StreamingResponse:
    subject_request = await request_service.get(session=session, actor=actor, request_id=request_id)
    kind = _KINDS.get(subject_request.type)
    if kind is None or subject_request.status is not RequestStatus.completed or subject_request.customer_id is None:
        raise Conflict("Only a completed access or portability request about a customer has an export.")
    fmt = _format(request, kind, format_)
    await disclosures.record_export(
        session=session,
        actor=actor,
        customer_id=subject_request.customer_id,
        kind=kind,
        request_id=subject_request.id,
    )
    language = (lang or subject_request.answer_language).value
    return _stream(request, actor, subject_request.customer_id, kind, fmt, language)


@router.get(
    "/v1/customers/{customer_id}/export",
    summary="Export a customer's data",
    description="The same exports as an access or portability request produces, directly: `kind=access` "
    "(all the person's data and the Art. 15 information, tailored; JSON, or `format=html` for a page to read) "
    "or `kind=portability` (Art. 20: what the person provided, JSON or `format=zip` of CSV files). Streamed in "
    "constant memory; audited as a disclosure, and logged in the person's disclosures when the key belongs to "
    "a recipient.",
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
    format_: Annotated[ExportFormat | None, FORMAT] = None,
    lang: AnswerLanguage = AnswerLanguage.fi,
) -> StreamingResponse:
    await customer_service.get_customer(session=session, actor=actor, customer_id=customer_id)
    fmt = _format(request, kind, format_)
    await disclosures.record_export(session=session, actor=actor, customer_id=customer_id, kind=kind, request_id=None)
    return _stream(request, actor, customer_id, kind, fmt, lang.value)
