"""``/docs`` renders in a real headless Chromium: every operation of ``/openapi.json`` is on
the page, nothing is fetched from elsewhere, and no script fails.

Swagger UI 4.x loaded its files fine and then showed only "Unable to render this definition"
for the OpenAPI 3.1 that FastAPI serves; only a browser shows the difference.
"""

from __future__ import annotations

import re

from fastapi import FastAPI
from playwright.sync_api import Browser, expect

from reengage.app import SWAGGER_UI
from tests.browser import watched_page
from tests.live_server import live_server

METHODS = {"get", "put", "post", "patch", "delete"}


def test_docs_render_every_operation(browser: Browser, app: FastAPI) -> None:
    documented = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
        if method in METHODS
    }
    assert len(documented) > 20  # the records, batch, settings, orgs, analytics
    with live_server(app) as site, watched_page(browser, site) as watched:
        page = watched.page
        page.goto(f"{site}/docs")
        expect(page.locator(".opblock").first).to_be_visible()
        expect(page.locator(".opblock")).to_have_count(len(documented))
        shown = {
            (
                block.locator(".opblock-summary-method").inner_text().strip(),
                block.locator(".opblock-summary-path").get_attribute("data-path"),
            )
            for block in page.locator(".opblock").all()
        }
        assert shown == documented
        assert page.get_by_text("Unable to render this definition").count() == 0
        assert page.locator(".information-container .title").inner_text().startswith("reengage")

        # An operation opens to its documented example: the seed's own first patient.
        page.locator('.opblock-summary-path[data-path$="/patients/prioritized"]').click()
        expect(page.locator(".opblock.is-open .microlight").first).to_contain_text('"patient_123"')
    assert watched.foreign == [], f"/docs asked for something elsewhere: {watched.foreign}"
    assert watched.errors == [], watched.errors


def test_the_bundled_swagger_ui_reads_openapi_3_1() -> None:
    """Swagger UI reads OpenAPI 3.1 from 5.0 on; the served bundle says which it is."""
    bundle = (SWAGGER_UI / "swagger-ui-bundle.js").read_text()
    versions = re.findall(r'PACKAGE_VERSION:"(\d+)\.(\d+)\.(\d+)"', bundle)
    assert len(versions) == 1 and int(versions[0][0]) >= 5, versions
