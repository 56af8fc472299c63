"""The API's manual, /docs (Swagger UI) and /redoc (ReDoc), served with everything they load by the service itself.

FastAPI's own pages load both UIs from a CDN, and are blank on a network without internet. Here the builds come
from the pinned `fastapi-offline` package (npm's swagger-ui-dist 5.32.6 and redoc 2.5.3, byte for byte:
tests/test_docs_pages.py checks their digests) and the two scripts that start them from app/data/docs/, all under
/docs/assets/. Each page's Content-Security-Policy allows only the service itself: no inline script at all, and
inline styles only where ReDoc must write them (a nonce of the page's own, and two digests).
"""

from __future__ import annotations

import hashlib
import secrets
from functools import cache
from html import escape
from importlib.resources import files

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from app.errors import NotFound

router = APIRouter(include_in_schema=False)

ASSETS = "/docs/assets"
# What the pages load, by name: (package, file).
FILES = {
    "swagger-ui-bundle.js": ("fastapi_offline", "static/swagger-ui-bundle.js"),
    "swagger-ui.css": ("fastapi_offline", "static/swagger-ui.css"),
    "redoc.js": ("fastapi_offline", "static/redoc.standalone.js"),
    "favicon.png": ("fastapi_offline", "static/favicon.png"),
    "swagger-init.js": ("app", "data/docs/swagger-init.js"),
    "redoc-init.js": ("app", "data/docs/redoc-init.js"),
}
_MEDIA_TYPES = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8", "png": "image/png"}

# Nothing from elsewhere, never framed, no forms; the document and "Try it out" calls go to the service itself.
# Images: the UIs' icons are data: URIs in their stylesheets.
_BASE = (
    "default-src 'none'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
SWAGGER_POLICY = f"{_BASE}; script-src 'self'; style-src 'self'"
# ReDoc writes its styles into <style> elements as it renders (styled-components): they carry the page's nonce.
# Two it writes as its bundle loads, before any option can reach it, are named by their digests: its scrollbar's
# stylesheet and an empty one (redoc 2.5.3; the browser test fails if an upgrade changes them). Its search index
# runs in a web worker that it starts from a blob: URL of its own code.
REDOC_STYLES = (
    "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='",
    "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",
)
REDOC_POLICY = (
    f"{_BASE}; script-src 'self'; style-src 'self' 'nonce-{{nonce}}' {' '.join(REDOC_STYLES)}; worker-src blob:"
)
# ReDoc's menu ends with its vendor's logo, loaded from cdn.redoc.ly, and no option leaves it out. The bundle is
# served with that one address emptied (ReDoc then drops the image), so the page asks nothing of another host.
REDOC_LOGO = b'"https://cdn.redoc.ly/redoc/logo-mini.svg"'


@cache
def asset(name: str) -> tuple[bytes, str]:
    """One of FILES as served, and its ETag."""
    package, path = FILES[name]
    body = files(package).joinpath(path).read_bytes()
    if name == "redoc.js":
        body = body.replace(REDOC_LOGO, b'""')
    return body, f'"{hashlib.sha256(body).hexdigest()[:32]}"'


@router.api_route(f"{ASSETS}/{{name}}", methods=["GET", "HEAD"])
async def docs_asset(name: str, request: Request) -> Response:
    """A script, stylesheet or icon of the two pages."""
    if name not in FILES:
        raise NotFound("No such file.")
    body, etag = await run_in_threadpool(asset, name)  # read from disk once
    # Revalidated on every use (a 304 while unchanged), so an upgrade is seen at once.
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=_MEDIA_TYPES[name.rsplit(".", 1)[1]], headers=headers)


def _page(title: str, head: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n{head}</head>\n<body>\n{body}</body>\n</html>\n"
    )


def _urls(request: Request) -> tuple[str, str]:
    """Where the assets and the OpenAPI document are, behind whatever prefix a proxy serves the service at."""
    root = request.scope.get("root_path", "")
    return escape(f"{root}{ASSETS}"), escape(f"{root}{request.app.openapi_url}")


@router.api_route("/docs", methods=["GET", "HEAD"])
async def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI: every operation, with "Try it out"."""
    assets, openapi = _urls(request)
    page = _page(
        f"{request.app.title} API: Swagger UI",
        f'<link rel="icon" type="image/png" href="{assets}/favicon.png">\n'
        f'<link rel="stylesheet" href="{assets}/swagger-ui.css">\n',
        f'<div id="swagger-ui" data-openapi-url="{openapi}"></div>\n'
        f'<script src="{assets}/swagger-ui-bundle.js"></script>\n'
        f'<script src="{assets}/swagger-init.js"></script>\n',
    )
    return HTMLResponse(page, headers={"Content-Security-Policy": SWAGGER_POLICY, "Cache-Control": "no-cache"})


@router.api_route("/redoc", methods=["GET", "HEAD"])
async def redoc(request: Request) -> HTMLResponse:
    """ReDoc: the same document, to read."""
    assets, openapi = _urls(request)
    nonce = secrets.token_urlsafe(18)
    page = _page(
        f"{request.app.title} API: ReDoc",
        f'<link rel="icon" type="image/png" href="{assets}/favicon.png">\n'
        f'<style nonce="{nonce}">body {{ margin: 0; padding: 0; }}</style>\n',
        f'<div id="redoc" data-openapi-url="{openapi}" data-nonce="{nonce}"></div>\n'
        f'<script src="{assets}/redoc.js"></script>\n'
        f'<script src="{assets}/redoc-init.js"></script>\n',
    )
    # A nonce is good for one answer: no cache may hand the page out again.
    headers = {"Content-Security-Policy": REDOC_POLICY.format(nonce=nonce), "Cache-Control": "no-store"}
    return HTMLResponse(page, headers=headers)
