"""The privacy notice: for the controller's own systems, and public, as JSON, an HTML page or Markdown."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse
from starlette.responses import Response
from werkzeug.datastructures import LanguageAccept, MIMEAccept
from werkzeug.http import parse_accept_header

from app.db import Session
from app.errors import NotAcceptable, problem_responses
from app.json import dumps
from app.models.notices import NoticeDocument, NoticeFormat, NoticeLanguage
from app.security import AnyRole
from app.services import notices

router = APIRouter(tags=["privacy notice"])

# In order of preference when the client likes several equally.
_MEDIA = {
    "application/json": NoticeFormat.json,
    "text/html": NoticeFormat.html,
    "application/xhtml+xml": NoticeFormat.html,
    "text/markdown": NoticeFormat.markdown,
}
DESCRIBED = (
    "The controller's privacy notice (*tietosuojaseloste*) as it is published: the sections of a Finnish notice "
    "(controller, contact person, data protection officer, register, purposes, each purpose's legal basis in "
    "words, whether the data must be given, categories of data subjects, data, sources, recipients by name, "
    "disclosures, transfers outside the EU/EEA with their safeguards, retention, security, cookies, automated "
    "decisions), the data subject's rights and the complaint authority, each from the controller's profile in "
    "the asked language (Finnish where a text has no translation; such texts carry `lang: fi`). A version is "
    "published only when it states every item GDPR Art. 13-14 require (`PUT /v1/controller`). Versioned: "
    "`version` picks an earlier one, `versions` lists them all with their date drawn up (*laatimispäivä*).\n\n"
    "Format: `format=json|html|markdown`, or by the `Accept` header (`application/json`, `text/html`, "
    "`text/markdown`); JSON when either allows anything. Language: `lang=fi|sv|en`, else the `Accept-Language` "
    "header, else the controller's default language."
)
Lang = Annotated[NoticeLanguage | None, Query(description="fi, sv or en.")]
Version = Annotated[int | None, Query(ge=1, le=1_000_000, description="An earlier version (default: current).")]
Format = Annotated[NoticeFormat | None, Query(alias="format", description="Overrides the Accept header.")]
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The notice.",
        "content": {
            "text/html": {"example": '<!DOCTYPE html><html lang="fi"><head><title>Tietosuojaseloste: …'},
            "text/markdown": {"example": "# Tietosuojaseloste\n\n**SonMark Oy** (Y-tunnus 2477816-7) …"},
        },
    }
}


def negotiate_format(request: Request, asked: NoticeFormat | None) -> NoticeFormat:
    """The format asked by `?format=`, else the one the Accept header prefers (RFC 9110 12.5.1).

    Each offer takes the quality of the most specific range that names it, so `application/json;q=0, */*`
    refuses JSON; ties go to JSON, then HTML, then Markdown.
    """
    if asked is not None:
        return asked
    # Media type parameters (charset=…) are left out: each format has one representation.
    ranges = parse_accept_header(request.headers.get("accept"))
    accept = MIMEAccept([(media.split(";")[0], quality) for media, quality in ranges])
    if not accept:
        return NoticeFormat.json
    # MIMEAccept.quality() answers from the most specific matching range; max() keeps the first of equals.
    quality, fmt = max(((accept.quality(media), fmt) for media, fmt in _MEDIA.items()), key=lambda offer: offer[0])
    if quality <= 0:
        raise NotAcceptable("The notice is available as application/json, text/html or text/markdown.")
    return fmt


def negotiate_language(request: Request, asked: NoticeLanguage | None, default: str) -> NoticeLanguage:
    """The language asked by `?lang=`, else the first of fi, sv, en the Accept-Language header prefers."""
    if asked is not None:
        return asked
    # Sorted by quality, ties in the header's order; a tag counts by its primary language (sv-FI is sv).
    for tag, quality in parse_accept_header(request.headers.get("accept-language"), LanguageAccept):
        primary = tag.split("-")[0].lower()
        if quality > 0 and primary in NoticeLanguage.__members__:
            return NoticeLanguage(primary)
    return NoticeLanguage(default)


def respond(notice: NoticeDocument, fmt: NoticeFormat, *, version_asked: bool, public: bool) -> Response:
    headers = {"Vary": "Accept, Accept-Language", "Content-Language": notice.language.value}
    if public:
        headers["Cache-Control"] = "public, max-age=300"
    if fmt is NoticeFormat.html:
        page = notices.render(notice, "html", version_asked=version_asked)
        return HTMLResponse(page, headers=headers)  # the middleware adds its security headers
    if fmt is NoticeFormat.markdown:
        text = notices.render(notice, "markdown")
        return PlainTextResponse(text, media_type="text/markdown; charset=utf-8", headers=headers)
    body = dumps(notice.model_dump(mode="json", by_alias=True))
    return Response(body, media_type="application/json", headers=headers)


@router.get(
    "/v1/privacy-notice",
    summary="The privacy notice",
    description=DESCRIBED,
    response_model=NoticeDocument,
    responses={**_RESPONSES, **problem_responses(401, 403, 404, 406, 422)},
)
async def privacy_notice(
    request: Request,
    session: Session,
    actor: AnyRole,
    lang: Lang = None,
    version: Version = None,
    format_: Format = None,
) -> Response:
    fmt = negotiate_format(request, format_)
    controller = await notices.controller_of(session=session, actor=actor)
    language = negotiate_language(request, lang, controller.default_language)
    notice = await notices.document(session=session, controller=controller, lang=language, version=version)
    return respond(notice, fmt, version_asked=version is not None, public=False)


@router.get(
    "/public/{controller}/privacy-notice",
    summary="The privacy notice, public",
    description=DESCRIBED + "\n\nNo key: this is the page to link from a web shop. A browser gets the HTML page.",
    response_model=NoticeDocument,
    responses={**_RESPONSES, **problem_responses(404, 406, 422)},
)
async def public_privacy_notice(
    request: Request,
    session: Session,
    controller: Annotated[
        str, Path(max_length=63, description="The controller's slug, e.g. `sonmark`, or its id (a UUID).")
    ],
    lang: Lang = None,
    version: Version = None,
    format_: Format = None,
) -> Response:
    fmt = negotiate_format(request, format_)
    found = await notices.public_controller(session=session, slug_or_id=controller)
    language = negotiate_language(request, lang, found.default_language)
    notice = await notices.document(session=session, controller=found, lang=language, version=version)
    return respond(notice, fmt, version_asked=version is not None, public=True)
