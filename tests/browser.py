"""Headless Chromium (Debian's package, driven by Playwright) for the tests that need a real
browser: the dashboard's and the API docs'.

``scripts/test`` installs Chromium when it is missing (``scripts/ensure-chromium``); here a
missing browser is a failure, not a skip, so the suite cannot pass without these tests.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
# As the machine's probe runs it: no sandbox as root, and no calls home (this network is
# closed, and a clinic's may be too).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
]


@contextmanager
def chromium() -> Iterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: run ./scripts/ensure-chromium (scripts/test does)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@dataclass
class Watched:
    """What a page did besides rendering: requests to anywhere but ``site``, and errors."""

    page: Page
    foreign: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@contextmanager
def watched_page(browser: Browser, site: str) -> Iterator[Watched]:
    """A fresh page that records every request leaving ``site`` and every script error or
    console error; the test asserts on them (a page that fetches from a CDN fails here)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    watched = Watched(page)
    page.on(
        "request",
        lambda r: None if r.url.startswith((site, "data:")) else watched.foreign.append(r.url),
    )
    page.on("pageerror", lambda e: watched.errors.append(str(e)))
    page.on("console", lambda m: watched.errors.append(m.text) if m.type == "error" else None)
    try:
        yield watched
    finally:
        context.close()
