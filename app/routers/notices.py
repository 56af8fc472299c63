"""The privacy notice: for the controller's own systems, and public, as JSON, an HTML page or Markdown."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse
from starlette.responses import Response

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
    "(controller, contact person, register, purposes, legal basis, data, sources, recipients, disclosures, "
    "transfers, retention, security, cookies, automated decisions), the data subject's rights and the complaint "
    "authority, each from the controller's profile in the asked language (Finnish where a text has no "
    "translation; such texts carry `lang: fi`). Versioned: `version` picks an earlier one, `versions` lists "
    "them all with their date drawn up (*laatimispäivä*).\n\n"
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


def _ranges(header: str | None) -> list[tuple[str, float]]:
    """The header's ranges with their quality, e.g. [("text/html", 1.0), ("*/*", 0.8)]."""
    found = []
    for part in (header or "").split(","):
        name, *params = (p.strip() for p in part.split(";"))
        if not name:
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    q = 0.0
        found.append((name.lower(), q))
    return found


def _specificity(offer: str, wanted: str) -> int | None:
    """How closely a range names a media type: 2 exactly, 1 by its type (text/*), 0 by */*; None: not at all."""
    if wanted == offer:
        return 2
    if wanted.endswith("/*") and offer.split("/")[0] == wanted[:-2]:
        return 1
    return 0 if wanted == "*/*" else None


def negotiate_format(request: Request, asked: NoticeFormat | None) -> NoticeFormat:
    """The format asked by `?format=`, else the one the Accept header prefers (RFC 9110 12.5.1).

    Each offer takes the quality of the most specific range that names it, so `application/json;q=0, */*`
    refuses JSON; ties go to JSON, then HTML, then Markdown.
    """
    if asked is not None:
        return asked
    ranges = _ranges(request.headers.get("accept"))
    if not ranges:
        return NoticeFormat.json
    best: tuple[float, int, NoticeFormat] | None = None
    for rank, (offer, fmt) in enumerate(_MEDIA.items()):
        matches = [(spec, q) for wanted, q in ranges if (spec := _specificity(offer, wanted)) is not None]
        if not matches:
            continue
        q = max(matches)[1]
        if q > 0 and (best is None or (q, -rank) > (best[0], best[1])):
            best = (q, -rank, fmt)
    if best is None:
        raise NotAcceptable("The notice is available as application/json, text/html or text/markdown.")
    return best[2]


def negotiate_language(request: Request, asked: NoticeLanguage | None, default: str) -> NoticeLanguage:
    """The language asked by `?lang=`, else the first of fi, sv, en the Accept-Language header prefers."""
    if asked is not None:
        return asked
    refused = set()
    for name, q in sorted(_ranges(request.headers.get("accept-language")), key=lambda r: -r[1]):
        primary = name.split("-")[0]
        if primary in NoticeLanguage.__members__ and primary not in refused:
            if q > 0:
                return NoticeLanguage(primary)
            refused.add(primary)
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
    controller: Annotated[str, Path(max_length=63, description="The controller's slug, e.g. `sonmark`.")],
    lang: Lang = None,
    version: Version = None,
    format_: Format = None,
) -> Response:
    fmt = negotiate_format(request, format_)
    found = await notices.public_controller(session=session, slug=controller)
    language = negotiate_language(request, lang, found.default_language)
    notice = await notices.document(session=session, controller=found, lang=language, version=version)
    return respond(notice, fmt, version_asked=version is not None, public=True)
