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
from app.services import exports
from app.services import requests as request_service

router = APIRouter(tags=["requests"])

_EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
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

    return StreamingResponse(
        chunks(),
        media_type=export.media_type,
        headers={"Content-Disposition": f'attachment; filename="{export.filename}"'},
    )


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
    subject_request = await request_service.get(session=session, actor=actor, request_id=request_id)
    kind = _KINDS.get(subject_request.type)
    if kind is None or subject_request.status is not RequestStatus.completed or subject_request.customer_id is None:
        raise Conflict("Only a completed access or portability request about a customer has an export.")
    _check_format(kind, format_)
    exports.record_disclosure(
        session=session,
        actor=actor,
        customer_id=subject_request.customer_id,
        kind=kind.value,
        request_id=subject_request.id,
    )
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
    exports.record_disclosure(session=session, actor=actor, customer_id=customer_id, kind=kind.value, request_id=None)
    return _stream(request, actor, customer_id, kind, format_, lang.value)
