"""The dashboard's browser tests share one site (the app on a loopback port, its clock pinned
to the demo's overview instant) and one watched page per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from playwright.sync_api import Browser, Page

from reengage import clock
from tests.browser import watched_page
from tests.factories import OVERVIEW_NOW
from tests.live_server import live_server


@pytest.fixture
def site(app: FastAPI) -> Iterator[str]:
    with clock.frozen_at(OVERVIEW_NOW), live_server(app) as base:
        yield base


@pytest.fixture
def page(browser: Browser, site: str) -> Iterator[Page]:
    with watched_page(browser, site) as watched:
        yield watched.page
    assert watched.foreign == [], f"the page asked for something elsewhere: {watched.foreign}"
