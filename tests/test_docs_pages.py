"""/docs and /redoc come with everything they load from the service itself, under a policy that allows nothing else.

The pages in a real browser without internet: tests/test_notice_browser.py. Here: what the pages reference, the
policies they are served with, and that the assets are the pinned upstream builds.
"""

from __future__ import annotations

import hashlib
import re
from importlib.resources import files

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.errors import PROBLEM_JSON
from app.routers import docs

# npm's own files, as published: swagger-ui-dist 5.32.6 and redoc 2.5.3 (`npm pack`, then sha256sum).
UPSTREAM = {
    "swagger-ui-bundle.js": "4b5a9b35a1adf37f00d39c0bae23cdb37007e2946240ef035137cc85b4d55349",
    "swagger-ui.css": "ca238f7d7c2cf4480c1e77a9c3b9da915ab216e96ffd354e69076560c650c6de",
    "redoc.js": "1320f442151c57c447d3b70c7ffc6c4f86d08464020fe34c8cc5d3164e9944f0",  # bundles/redoc.standalone.js
}
REFERENCE = re.compile(r'(?:src|href|data-openapi-url)="([^"]*)"')


def policy(header: str) -> dict[str, list[str]]:
    directives = (part.split() for part in header.split(";") if part.strip())
    return {name: sources for name, *sources in directives}


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_a_page_loads_nothing_from_elsewhere(client: TestClient, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    referenced = REFERENCE.findall(response.text)
    assert "/openapi.json" in referenced
    assert all(url.startswith("/") and not url.startswith("//") for url in referenced), referenced
    assert "<script>" not in response.text  # no inline script: every script is a file of the service
    for url in referenced:
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_a_pages_policy_allows_only_the_service(client: TestClient, page: str) -> None:
    response = client.get(page)
    rules = policy(response.headers["content-security-policy"])
    assert rules["default-src"] == ["'none'"]
    assert rules["script-src"] == ["'self'"]
    assert rules["frame-ancestors"] == ["'none'"]
    allowed = {"'self'", "'none'", "data:", "blob:"}
    others = [s for sources in rules.values() for s in sources if s not in allowed]
    # Nothing but the service's own: no host, no 'unsafe-inline', no 'unsafe-eval'; ReDoc's styles by nonce or digest.
    assert all(re.fullmatch(r"'(nonce|sha256)-[A-Za-z0-9+/_=-]+'", source) for source in others), others
    assert [name for name, sources in rules.items() if "blob:" in sources] in ([], ["worker-src"])


def test_redocs_nonce_is_new_for_every_answer(client: TestClient) -> None:
    first, second = client.get("/redoc"), client.get("/redoc")
    nonces = []
    for response in (first, second):
        (nonce,) = re.findall(r"'nonce-([^']+)'", response.headers["content-security-policy"])
        assert f'data-nonce="{nonce}"' in response.text
        assert f'<style nonce="{nonce}">' in response.text
        assert response.headers["cache-control"] == "no-store"
        nonces.append(nonce)
    assert nonces[0] != nonces[1]


def test_the_assets_are_upstreams_builds(client: TestClient) -> None:
    """The pinned package carries npm's files byte for byte; the service changes ReDoc's in one place only."""
    for name, digest in UPSTREAM.items():
        package, path = docs.FILES[name]
        assert hashlib.sha256(files(package).joinpath(path).read_bytes()).hexdigest() == digest, name
    for name in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert hashlib.sha256(client.get(f"/docs/assets/{name}").content).hexdigest() == UPSTREAM[name]
    package, path = docs.FILES["redoc.js"]
    original = files(package).joinpath(path).read_bytes()
    assert original.count(docs.REDOC_LOGO) == 1
    served = client.get("/docs/assets/redoc.js").content
    assert served == original.replace(docs.REDOC_LOGO, b'""')
    assert b"cdn.redoc.ly" not in served


def test_assets_have_their_types_and_are_revalidated(client: TestClient) -> None:
    types = {"js": "text/javascript", "css": "text/css", "png": "image/png"}
    for name in docs.FILES:
        response = client.get(f"/docs/assets/{name}")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith(types[name.rsplit(".", 1)[1]])
        assert response.headers["x-content-type-options"] == "nosniff"
        again = client.get(f"/docs/assets/{name}", headers={"If-None-Match": response.headers["etag"]})
        assert again.status_code == 304
        assert again.content == b""
    assert client.head("/docs/assets/redoc.js").status_code == 200


def test_an_unknown_asset_is_a_problem(client: TestClient) -> None:
    for path in ("/docs/assets/nothing.js", "/docs/assets/..%2Fdata%2Fnotice", "/docs/oauth2-redirect"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith(PROBLEM_JSON)
    response = client.post("/docs/assets/redoc.js")
    assert response.status_code == 405
    assert response.headers["content-type"].startswith(PROBLEM_JSON)


def test_behind_a_proxy_the_pages_follow_its_prefix(app: FastAPI) -> None:
    with TestClient(app, root_path="/rekisteri") as proxied:
        for page in ("/docs", "/redoc"):
            referenced = REFERENCE.findall(proxied.get(page).text)
            assert referenced
            assert all(url.startswith("/rekisteri/") for url in referenced), referenced


def test_the_pages_are_not_in_the_api_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert not [path for path in paths if path.startswith(("/docs", "/redoc"))]
