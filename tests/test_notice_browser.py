"""The public privacy notice in a real browser: headless Chromium (Debian's) reads the page the service serves.

A server process serves the test database; Chromium asks for the page as a browser does (its own `Accept` and
`Accept-Language` headers, no `format` or `lang`), so the test sees what a person opening the link from a web
shop sees: the language of the page, its sections and their headings, the styles the page's own security
policy lets through, and the links between its languages and sections.

Needs `chromium` and `chromium-driver` (`make test` installs them where it can); without them the test is
skipped, except in CI, where it must run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.models.api_keys import Role
from app.services import notice_text, records
from tests.conftest import make_tenant, new_customer
from tests.ports import free_port
from tests.test_cli import ROOT, ready
from tests.test_records import COMPLETE, tenant_with
from tests.waiting import wait_for

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

if not (CHROMIUM and CHROMEDRIVER):
    if os.environ.get("CI") == "true":
        pytest.fail("CI must run the browser test: install Debian's chromium and chromium-driver", pytrace=False)
    pytest.skip(
        "no chromium and chromedriver here (Debian: apt-get install chromium chromium-driver)", allow_module_level=True
    )

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402

pytestmark = pytest.mark.slow  # a server process and a browser


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[str]:
    """The service in a process of its own, on the test database."""
    port = free_port()
    env = {**os.environ, "REKISTERI_DATABASE_URL": database_url}
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: ready(process, port), timeout=60, message="the service did not become ready", interval=0.3)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def browser(language: str, *, offline: bool = False) -> WebDriver:
    """Headless Chromium; `offline`: no host name resolves but 127.0.0.1 (the test's server), as on a network
    without internet, and every request it makes is logged (see `requested`)."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tempfile.mkdtemp(prefix='rekisteri-chromium-')}",
        f"--lang={language}",
    ):
        options.add_argument(flag)
    if offline:
        options.add_argument("--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1")
    options.add_experimental_option("prefs", {"intl.accept_languages": language})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL" if offline else "OFF"})
    return webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))


@pytest.fixture(scope="module")
def finnish() -> Iterator[WebDriver]:
    driver = browser("fi-FI,fi")
    yield driver
    driver.quit()


def headings(driver: WebDriver) -> dict[str, str]:
    """Section id -> its heading, as the browser shows them (rendered text, not markup)."""
    sections = driver.find_elements(By.CSS_SELECTOR, "main > section")
    return {s.get_attribute("id") or "": s.find_element(By.TAG_NAME, "h2").text for s in sections}


def test_a_browser_gets_the_finnish_page_with_every_section(
    client: TestClient, app: FastAPI, server: str, finnish: WebDriver
) -> None:
    tenant = make_tenant(client, app, "solintech")
    finnish.get(f"{server}/public/{tenant.slug}/privacy-notice")
    assert finnish.execute_script("return document.documentElement.lang") == "fi"
    assert finnish.execute_script("return document.contentType") == "text/html"
    assert finnish.title == "Tietosuojaseloste: Janne Peltola \N{EN DASH} Asiakasrekisteri"
    titles = notice_text.texts("fi")["sections"]
    shown = headings(finnish)
    expected = [
        "controller", "contact_person", "dpo", "register", "purposes", "legal_basis", "provision_requirement",
        "legitimate_interest", "consent", "data_subjects", "data_groups", "data_categories", "sources", "recipients",
        "disclosures", "transfers", "retention", "security", "cookies", "automated_decisions", "rights", "complaint",
    ]  # fmt: skip
    assert list(shown) == expected
    assert all(shown[i] == titles[i] for i in expected)
    for section in finnish.find_elements(By.CSS_SELECTOR, "main > section"):
        assert section.is_displayed()
        assert section.size["height"] > 0
    header = finnish.find_element(By.TAG_NAME, "header").text
    assert "Laatimispäivä 4.1.2018" in header
    assert "Lintulahdenkuja 4, 00530 Helsinki" in finnish.find_element(By.ID, "complaint").text
    # Art. 13(1)(c), (f): each purpose with its basis in words, the US transfer with its mechanism and link.
    assert "6 artiklan 1 kohdan" in finnish.find_element(By.ID, "legal_basis").text
    transfers = finnish.find_element(By.ID, "transfers")
    assert "Yhdysvallat" in transfers.text
    assert transfers.find_elements(By.CSS_SELECTOR, 'a[href^="https://"]')


def test_the_pages_own_styles_apply_and_nothing_is_blocked(
    client: TestClient, app: FastAPI, server: str, finnish: WebDriver
) -> None:
    tenant = make_tenant(client, app, "sonmark")
    finnish.get(f"{server}/public/{tenant.slug}/privacy-notice")
    # 46rem: the page's inline stylesheet was allowed by its Content-Security-Policy.
    assert finnish.execute_script("return getComputedStyle(document.body).maxWidth") == "736px"
    refused = [e for e in finnish.get_log("browser") if "Content Security Policy" in e["message"]]
    assert refused == []


def test_links_lead_to_the_sections_and_the_other_languages(
    client: TestClient, app: FastAPI, server: str, finnish: WebDriver
) -> None:
    tenant = make_tenant(client, app, "sonmark")
    finnish.get(f"{server}/public/{tenant.slug}/privacy-notice")
    finnish.find_element(By.CSS_SELECTOR, 'nav.contents a[href="#cookies"]').click()
    assert finnish.execute_script("return location.hash") == "#cookies"
    finnish.find_element(By.LINK_TEXT, "In English").click()
    assert finnish.execute_script("return document.documentElement.lang") == "en"
    assert headings(finnish)["cookies"] == "Cookies"


def test_a_swedish_browser_gets_swedish_with_the_finnish_texts_marked(
    client: TestClient, app: FastAPI, server: str
) -> None:
    tenant = make_tenant(client, app, "sesoma")
    driver = browser("sv-FI,sv")
    try:
        driver.get(f"{server}/public/{tenant.slug}/privacy-notice")
        assert driver.execute_script("return document.documentElement.lang") == "sv"
        assert headings(driver)["rights"] == "Den registrerades rättigheter"
        # Sesoma's notice is in Finnish only: its own texts say so, for the browser and screen readers.
        marked = driver.find_elements(By.CSS_SELECTOR, 'main [lang="fi"]')
        assert marked
        assert all(element.get_attribute("title") == "Texten finns endast på finska." for element in marked)
    finally:
        driver.quit()


def test_the_page_prints(client: TestClient, app: FastAPI, server: str, finnish: WebDriver) -> None:
    """A person may keep the notice: it prints (to PDF here) with every section."""
    tenant = make_tenant(client, app, "mastermark")
    finnish.get(f"{server}/public/{tenant.slug}/privacy-notice")
    pdf = finnish.print_page()
    assert len(pdf) > 10_000


def test_the_record_of_processing_opens_with_every_point_and_no_errors(
    client: TestClient, app: FastAPI, server: str
) -> None:
    """An auditor opens the record of processing activities (Art. 30(1)) to print it for the Ombudsman."""
    tenant = tenant_with(client, app, COMPLETE)
    driver = browser("fi-FI,fi")
    try:
        # The record needs a key: the browser sends it with every request, as a proxy in front of it would.
        driver.execute_cdp_cmd("Network.enable", {})
        headers = {"Authorization": f"Bearer {tenant.keys[Role.auditor]}"}
        driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": headers})
        driver.get(f"{server}/v1/records-of-processing")
        assert driver.execute_script("return document.documentElement.lang") == "fi"
        assert driver.execute_script("return document.contentType") == "text/html"
        assert driver.title == "Seloste käsittelytoimista: Kirjakauppa Kanerva Oy \N{EN DASH} Asiakasrekisteri"
        titles = records.texts("fi")["sections"]
        assert headings(driver) == {anchor: titles[point] for point, anchor in records.SECTIONS.items()}
        for section in driver.find_elements(By.CSS_SELECTOR, "main > section"):
            assert section.is_displayed()
            assert section.size["height"] > 0
        assert "Mailer Inc., Yhdysvallat" in driver.find_element(By.ID, "transfers").text
        # The page's own stylesheet applies (50rem), and the console has nothing to say: no error, nothing refused.
        assert driver.execute_script("return getComputedStyle(document.body).maxWidth") == "800px"
        assert [entry for entry in driver.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")] == []
    finally:
        driver.quit()


def test_the_access_export_reads_as_a_page_in_a_browser(client: TestClient, app: FastAPI, server: str) -> None:
    """GDPR Art. 12(1), 15(3): the copy of the person's data is a page a person can read and print. A browser
    asking with its own Accept header gets it; its stylesheet passes the page's policy, nothing fails."""
    tenant = make_tenant(client, app, "sonmark")
    person = new_customer(client, tenant, city="Espoo", first_name="Maija")
    line = {"description": "Kaiutin", "quantity": "1", "unit_price": "49.90"}
    order = {"order_date": "2026-01-02", "lines": [line], "total": "49.90"}
    assert client.post(f"/v1/customers/{person['id']}/orders", json=order, headers=tenant.headers()).status_code == 201
    body = {"type": "access", "customer_id": person["id"], "channel": "email", "answer_language": "fi"}
    request = client.post("/v1/requests", json=body, headers=tenant.headers()).json()
    assert client.post(f"/v1/requests/{request['id']}/complete", json={}, headers=tenant.headers()).status_code == 200
    driver = browser("fi-FI,fi")
    try:
        # The export needs a key: the browser sends it as staff's tools would, on every request it makes.
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": tenant.headers(Role.agent)})
        driver.get(f"{server}/v1/requests/{request['id']}/export")
        assert driver.execute_script("return document.contentType") == "text/html"
        assert driver.execute_script("return document.documentElement.lang") == "fi"
        assert driver.title.startswith("Sinua koskevat henkilötiedot")
        sections = driver.find_elements(By.CSS_SELECTOR, "main > section")
        assert len(sections) == 16
        assert all(s.is_displayed() and s.size["height"] > 0 for s in sections)
        assert "Espoo" in driver.find_element(By.ID, "your-data").text
        assert "Kaiutin" in driver.find_element(By.ID, "orders").text
        # 60rem: the page's stylesheet was let through by its policy (its hash).
        assert driver.execute_script("return getComputedStyle(document.body).maxWidth") == "960px"
        errors = [e for e in driver.get_log("browser") if "favicon.ico" not in e["message"]]
        assert errors == []
        assert len(driver.print_page()) > 10_000
    finally:
        driver.quit()


# --- the API's manual, without internet -----------------------------------------------------------------------


def requested(driver: WebDriver) -> list[str]:
    """The URL of every request the page made since the log was last read (Chrome's performance log)."""
    messages = (json.loads(entry["message"])["message"] for entry in driver.get_log("performance"))
    return [m["params"]["request"]["url"] for m in messages if m["method"] == "Network.requestWillBeSent"]


def operations(server: str) -> set[tuple[str, str]]:
    document = httpx.get(f"{server}/openapi.json", timeout=30).json()
    methods = {"get", "put", "post", "delete", "patch"}
    return {(method, path) for path, item in document["paths"].items() for method in item if method in methods}


def nothing_from_elsewhere(driver: WebDriver, server: str, shot: Path) -> None:
    """Screenshot the page; no request went to another host, and the console reports no error and nothing that
    the page's Content-Security-Policy refused."""
    driver.save_screenshot(str(shot))
    assert shot.stat().st_size > 50_000  # a blank page is a few kilobytes
    asked = [url for url in requested(driver) if url.startswith(("http:", "https:", "ws:", "wss:"))]
    assert asked
    assert [url for url in asked if not url.startswith(f"{server}/")] == []
    said = driver.get_log("browser")
    assert [e["message"] for e in said if e["level"] == "SEVERE" or "Content Security Policy" in e["message"]] == []


@pytest.fixture(scope="module")
def offline() -> Iterator[WebDriver]:
    driver = browser("en-GB,en", offline=True)
    driver.set_window_size(1280, 1600)
    yield driver
    driver.quit()


def test_swagger_ui_works_without_internet(server: str, offline: WebDriver, tmp_path: Path) -> None:
    """/docs: Swagger UI from the service itself lists every operation, and "Try it out" calls the service."""
    expected = operations(server)

    def listed() -> set[tuple[str, str]]:
        blocks = offline.find_elements(By.CSS_SELECTOR, ".opblock .opblock-summary-path")
        methods = offline.find_elements(By.CSS_SELECTOR, ".opblock .opblock-summary-method")
        return {(m.text.lower(), b.get_attribute("data-path") or "") for m, b in zip(methods, blocks, strict=True)}

    offline.get(f"{server}/docs")
    wait_for(
        lambda: listed() == expected, timeout=60, message=f"Swagger UI did not list the {len(expected)} operations"
    )
    assert offline.find_element(By.CSS_SELECTOR, ".info .title").text.startswith("Rekisteri")
    block = "ancestor::div[contains(concat(' ', @class, ' '), ' opblock ')]"
    live = offline.find_element(By.XPATH, f"//*[@data-path='/health/live']/{block}")
    live.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    wait_for(
        lambda: live.find_elements(By.CSS_SELECTOR, ".try-out__btn"), timeout=10, message="no Try it out"
    ).pop().click()
    live.find_element(By.CSS_SELECTOR, ".execute").click()
    status = wait_for(
        lambda: live.find_elements(By.CSS_SELECTOR, ".live-responses-table tbody .response-col_status"),
        timeout=10,
        message="the call made from Swagger UI got no answer",
    )
    assert status[0].text.startswith("200")
    nothing_from_elsewhere(offline, server, tmp_path / "docs.png")


def test_redoc_works_without_internet(server: str, offline: WebDriver, tmp_path: Path) -> None:
    """/redoc: ReDoc from the service itself lists every operation, and its search (a web worker) finds them."""
    expected = operations(server)

    def listed() -> set[str]:
        sections = offline.find_elements(By.CSS_SELECTOR, "[data-section-id^='operation/']")
        return {section.get_attribute("data-section-id") or "" for section in sections}

    offline.get(f"{server}/redoc")
    wait_for(
        lambda: len(listed()) == len(expected), timeout=60, message=f"ReDoc did not list the {len(expected)} operations"
    )
    assert offline.find_element(By.CSS_SELECTOR, "h1").text.startswith("Rekisteri")
    offline.find_element(By.CSS_SELECTOR, "input.search-input").send_keys("erasure")
    wait_for(
        lambda: offline.find_elements(By.CSS_SELECTOR, "[data-role='search:results'] [role='menuitem']"),
        timeout=10,
        message="ReDoc's search found nothing",
    )
    nothing_from_elsewhere(offline, server, tmp_path / "redoc.png")
