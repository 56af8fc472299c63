"""The record of processing activities (GDPR Art. 30), for the controller's admins and auditors to keep and
hand to the supervisory authority on request (Art. 30(4)): JSON, a printable page or Markdown."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse
from starlette.responses import Response

from app.db import Session
from app.errors import problem_responses
from app.json import dumps
from app.models.notices import NoticeFormat
from app.models.records import RecordOfProcessing
from app.routers.notices import Format, Lang, Version, negotiate_format, negotiate_language
from app.security import Auditor
from app.services import records

router = APIRouter(tags=["record of processing"])

DESCRIBED = (
    "The controller's record of processing activities (GDPR Art. 30(1); *seloste käsittelytoimista*), drawn "
    "from its profile as a published version of the privacy notice states it, point by point: (a) the "
    "controller's name and contact details, the contact person and the data protection officer (or that none is "
    "appointed); (b) the purposes, each with its Art. 6(1) legal basis and the legitimate interest or the law "
    "behind it; (c) the categories of data subjects and of personal data; (d) the recipients (each named one "
    "with its category, the data it receives, why, and its country) and the categories of recipients; (e) the "
    "transfers outside the EU/EEA with their safeguard (adequacy decision, standard contractual clauses, "
    "binding corporate rules, or an Art. 49 derogation) and a link to it; (f) the time limits for erasure, and "
    "which of them the service's daily retention sweep enforces; (g) the security measures the profile states, "
    "and those the service itself applies.\n\n"
    "Nothing is filled in: an item the profile does not state reads *not stated*, and `missing` lists each "
    "such item with its point of Art. 30(1), its place in the profile (`path`) and the article that asks for "
    "it, so that an admin knows what to complete with `PUT /v1/controller`. Keep or print the record and hand "
    "it to the Data Protection Ombudsman when asked (Art. 30(4)).\n\n"
    "Versioned with the privacy notice: by default the version in force, `version` an earlier one as its "
    "profile then said; `versions` lists them all. Format: `format=json|html|markdown`, or by the `Accept` "
    "header; the HTML page is printable and self-contained (no scripts, nothing from another origin). Language: "
    "`lang=fi|sv|en`, else the `Accept-Language` header, else the profile's default language; texts the "
    "profile gives only in Finnish are marked `lang: fi`. Reading the record changes nothing and is not "
    "audited: it holds no data subject's personal data."
)
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The record of processing activities.",
        "content": {
            "text/html": {"example": '<!DOCTYPE html><html lang="fi"><head><title>Seloste käsittelytoimista: …'},
            "text/markdown": {"example": "# Seloste käsittelytoimista\n\n**SonMark Oy** (Y-tunnus 2477816-7) …"},
        },
    },
}


@router.get(
    "/v1/records-of-processing",
    summary="The record of processing activities (Art. 30)",
    description=DESCRIBED,
    response_model=RecordOfProcessing,
    responses={**_RESPONSES, **problem_responses(401, 403, 404, 406, 409, 422)},
)
async def record_of_processing(
    request: Request,
    session: Session,
    actor: Auditor,
    lang: Lang = None,
    version: Version = None,
    format_: Format = None,
) -> Response:
    fmt = negotiate_format(request, format_)
    notice = await records.published(session=session, actor=actor, version=version)
    language = negotiate_language(request, lang, records.default_language(notice))
    record = await records.record(session=session, actor=actor, notice=notice, lang=language)
    headers = {"Vary": "Accept, Accept-Language", "Content-Language": language.value}
    if fmt is NoticeFormat.html:
        page = records.render(record, "html", version_asked=version is not None)
        return HTMLResponse(page, headers=headers)  # the middleware adds its Content-Security-Policy
    if fmt is NoticeFormat.markdown:
        text = records.render(record, "markdown")
        return PlainTextResponse(text, media_type="text/markdown; charset=utf-8", headers=headers)
    body = dumps(record.model_dump(mode="json", by_alias=True))
    return Response(body, media_type="application/json", headers=headers)
