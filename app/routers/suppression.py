"""Suppression lists: do-not-contact registers the marketing check screens against (admins manage them)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response, status

from app.db import Session
from app.errors import UnsupportedMediaType, problem_responses
from app.models.base import IsoDate
from app.models.suppression import (
    SuppressionList,
    SuppressionListCreate,
    SuppressionListPage,
    SuppressionListPublic,
    SuppressionListUpdate,
    UploadErrorLine,
    UploadResult,
)
from app.pagination import cut, decode_uuid
from app.routers._http import Cursor, IfMatch, Limit, expected_versions, shown
from app.security import Admin, Staff
from app.services import suppression as service
from app.services import suppression_upload

router = APIRouter(prefix="/v1/suppression-lists", tags=["suppression lists"])

NDJSON, CSV = "application/x-ndjson", "text/csv"
OnError = Annotated[
    Literal["abort", "skip"],
    Query(
        description="`abort`: one bad line and nothing changes (422, every bad line listed); `skip`: report "
        "bad lines, apply the rest."
    ),
]
_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            NDJSON: {
                "schema": {"type": "string", "description": "One person a JSON object a line."},
                "example": '{"email": "maija@example.fi"}\n{"phone": "040 123 4567"}\n'
                '{"first_name": "Matti", "last_name": "Virtanen", "street_address": "Kauppakatu 2 B 5", '
                '"postal_code": "40100", "city": "Jyväskylä"}\n',
            },
            CSV: {
                "schema": {"type": "string", "description": "A header row naming the columns, then one person a row."},
                "example": "first_name;last_name;street_address;postal_code;phone\n"
                "Matti;Virtanen;Kauppakatu 2 B 5;40100;040 123 4567\n",
            },
        },
    }
}
_UPLOAD_DESCRIPTION = (
    "NDJSON (`application/x-ndjson`, one JSON object a line) or CSV (`text/csv`, a header row naming the "
    "columns, comma- or semicolon-separated, UTF-8, one person a row with no line breaks inside a field). Each "
    "person by any of: `email`; `phone` (any format, matched as E.164); `first_name`, `last_name`, "
    "`street_address` and `postal_code` together (matched case- and spacing-insensitively). `city` and "
    "`country` may be given and are not used; any other field is refused. Each identifier given becomes an "
    "entry of its own. Entries are kept only as keyed digests, never as the values sent, and are never logged. "
    "One transaction: the marketing check sees the list as it was until the upload commits, and an upload cut "
    "short changes nothing. Streamed: send as much as you like in one body (up to `REKISTERI_MAX_STREAM_BYTES`)."
)


def _public(found: SuppressionList, response: Response) -> SuppressionListPublic:
    return shown(response, found, SuppressionListPublic)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a suppression list",
    description="A new, empty do-not-contact list: its name (shown in every decision it denies), "
    "where it comes from (e.g. ASML's Kielto service, the Finnish opt-out register for addressed mail and "
    "telemarketing, or your own), the date of its contents, and the channels a match denies. Upload its "
    "entries next with `PUT /v1/suppression-lists/{list_id}/entries`.",
    responses=problem_responses(400, 401, 403, 415, 422),
)
async def create_list(
    data: SuppressionListCreate, session: Session, actor: Admin, response: Response
) -> SuppressionListPublic:
    found = await service.create_list(session=session, actor=actor, data=data)
    response.headers["Location"] = f"/v1/suppression-lists/{found.id}"
    return _public(found, response)


@router.get(
    "",
    summary="List suppression lists",
    description="The controller's lists with their channels and entry counts (never the entries).",
    responses=problem_responses(400, 401, 403, 422),
)
async def list_lists(
    request: Request, session: Session, actor: Staff, limit: Limit = 50, cursor: Cursor = None
) -> SuppressionListPage:
    rows = await service.list_lists(
        session=session, actor=actor, after=decode_uuid(cursor) if cursor else None, limit=limit + 1
    )
    rows, next_url = cut(rows, limit, request.url, lambda found: str(found.id))
    return SuppressionListPage(
        items=[SuppressionListPublic.model_validate(f, from_attributes=True) for f in rows], next=next_url
    )


@router.get(
    "/{list_id}",
    summary="Read a suppression list",
    description="The list's name, source, date, channels and entry count, with its version as the ETag.",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_list(list_id: uuid.UUID, session: Session, actor: Staff, response: Response) -> SuppressionListPublic:
    return _public(await service.get_list(session=session, actor=actor, list_id=list_id), response)


@router.patch(
    "/{list_id}",
    summary="Change a suppression list",
    description="Changes the fields sent (name, source, date, channels); the entries stay. With `If-Match`, "
    "a list changed since you read it is not written (412).",
    responses=problem_responses(400, 401, 403, 404, 412, 415, 422),
)
async def update_list(
    list_id: uuid.UUID,
    data: SuppressionListUpdate,
    session: Session,
    actor: Admin,
    response: Response,
    if_match: IfMatch = None,
) -> SuppressionListPublic:
    found = await service.update_list(
        session=session, actor=actor, list_id=list_id, data=data, versions=expected_versions(if_match)
    )
    return _public(found, response)


@router.delete(
    "/{list_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a suppression list",
    description="Deletes the list and every entry on it; from the commit on, it denies nothing.",
    responses=problem_responses(401, 403, 404, 422),
)
async def delete_list(list_id: uuid.UUID, session: Session, actor: Admin) -> None:
    await service.delete_list(session=session, actor=actor, list_id=list_id)


async def _upload(
    request: Request,
    session: Session,
    actor: Admin,
    list_id: uuid.UUID,
    *,
    replace: bool,
    on_error: str,
    list_date: dt.date | None = None,
) -> UploadResult:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in (NDJSON, CSV):
        raise UnsupportedMediaType("Send the entries as application/x-ndjson or text/csv.")
    found, report = await suppression_upload.upload(
        session=session,
        actor=actor,
        list_id=list_id,
        chunks=request.stream(),
        csv_body=media_type == CSV,
        replace=replace,
        abort_on_error=on_error == "abort",
        list_date=list_date,
    )
    if on_error == "abort" and report.failed:
        raise report.refusal(f"{report.failed} line(s) are not valid; the list was not changed.")
    errors = [UploadErrorLine(**e) for e in report.errors]
    return UploadResult(
        list=SuppressionListPublic.model_validate(found, from_attributes=True),
        lines=report.lines,
        added=report.added,
        removed=report.removed,
        kept=report.kept,
        failed=report.failed,
        errors=errors,
        errors_omitted=report.failed - len(errors),
    )


@router.put(
    "/{list_id}/entries",
    summary="Replace a suppression list's entries",
    description="The body becomes the list: entries not in it are removed, new ones added, the others kept. "
    + _UPLOAD_DESCRIPTION,
    responses=problem_responses(400, 401, 403, 404, 413, 415, 422),
    openapi_extra=_UPLOAD_BODY,
)
async def replace_entries(
    list_id: uuid.UUID,
    request: Request,
    session: Session,
    actor: Admin,
    on_error: OnError = "abort",
    list_date: Annotated[IsoDate | None, Query(description="The date of the new contents.")] = None,
) -> UploadResult:
    return await _upload(request, session, actor, list_id, replace=True, on_error=on_error, list_date=list_date)


@router.post(
    "/{list_id}/entries",
    summary="Add entries to a suppression list",
    description="The body's entries are added to the list; those it holds already stay as they are. "
    + _UPLOAD_DESCRIPTION,
    responses=problem_responses(400, 401, 403, 404, 413, 415, 422),
    openapi_extra=_UPLOAD_BODY,
)
async def add_entries(
    list_id: uuid.UUID, request: Request, session: Session, actor: Admin, on_error: OnError = "abort"
) -> UploadResult:
    return await _upload(request, session, actor, list_id, replace=False, on_error=on_error)
