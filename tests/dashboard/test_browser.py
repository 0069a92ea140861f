"""The dashboard in a real headless Chromium (``tests/browser.py``), against a real server on a
loopback port, on each test database.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Locator, Page, expect

from reengage import clock
from tests.browser import watched_page
from tests.factories import OVERVIEW_NOW as NOW
from tests.factories import OrgFixture, _clinic, appointment, patient
from tests.helpers import SUMMARY_KEYS
from tests.live_server import live_server


@pytest.fixture
def site(app: FastAPI) -> Iterator[str]:
    with clock.frozen_at(NOW), live_server(app) as base:
        yield base


@pytest.fixture
def page(browser: Browser, site: str) -> Iterator[Page]:
    with watched_page(browser, site) as watched:
        yield watched.page
    assert watched.foreign == [], f"the page asked for something elsewhere: {watched.foreign}"


def api(site: str, org: OrgFixture, path: str, **params: Any) -> Any:
    r = httpx.get(
        f"{site}/api/v1/reengagement/{org.id}/{path}", params=params, headers=org.headers()
    )
    assert r.status_code == 200, r.text
    return r.json()


def card(page: Page, name: str) -> str:
    return " ".join(page.locator(f'[data-card="{name}"] .card-value').inner_text().split())


def sign_in(page: Page, site: str, key: str) -> None:
    page.goto(f"{site}/")
    expect(page).to_have_url(f"{site}/sign-in?next=/")
    page.get_by_label("Your clinic's API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{site}/")


def load(client: TestClient, org: OrgFixture) -> None:
    clinic = _clinic()
    # H missed a visit this week, with nothing booked: the missed-appointment alert.
    clinic["patients"].append(patient("H", registered_at="2026-01-05T09:00:00+00:00"))
    clinic["appointments"] += [
        appointment("a-H", "H", starts_at="2026-06-10T10:00:00+00:00", booked_at=None),
        appointment(
            "a-H2", "H", starts_at="2026-06-25T10:00:00+00:00", booked_at=None, status="no_show"
        ),
    ]
    r = client.post(org.url("/batch"), json=clinic, headers=org.headers())
    assert r.status_code == 200, r.text


def test_staff_work_the_call_list_in_a_browser(
    page: Page, site: str, client: TestClient, org: OrgFixture
) -> None:
    load(client, org)
    sign_in(page, site, org.keys["staff"])

    # The four cards are the API's figures for the same org and time.
    cards = api(site, org, "overview")
    assert card(page, "immediate_action_required") == str(cards["immediate_action_required"])
    assert card(page, "immediate_action_required") == "2"  # A (critical), H (missed visit)
    assert card(page, "this_weeks_target") == str(cards["this_weeks_target"]) == "3"
    assert card(page, "reengagement_success_rate") == "33.3%"
    assert cards["reengagement_success_rate"]["rate"] == 33.3
    assert (
        card(page, "trend")
        == f"▼ {cards['success_rate_change']} percentage points"
        == "▼ -66.7 percentage points"
    )
    tiers = api(site, org, "risk-metrics")["risk_summary"]
    assert set(tiers) == set(SUMMARY_KEYS.values())
    for tier, key in SUMMARY_KEYS.items():
        item = page.locator(f'[data-tier="{tier}"]')
        expect(item.locator(".tier-count")).to_have_text(str(tiers[key]))
        expect(item.locator(".badge")).to_have_text(tier.capitalize())  # never colour alone
    expect(page.locator('[data-tier="critical"] .tier-meaning')).to_have_text(
        "45+ days: immediate phone call"
    )

    # An alert opens the list filtered by it.
    page.get_by_role("link", name="Missed appointments").click()
    expect(page).to_have_url(f"{site}/patients?action_required=missed_appt")
    rows = page.locator("table.call-list tbody tr")
    alerts = api(site, org, "risk-metrics")["alerts"]
    expect(rows).to_have_count(alerts["missed_appointments_14d"])
    expect(rows.first).to_have_attribute("data-patient-id", "H")
    expect(page.get_by_label("Action needed")).to_have_value("missed_appt")

    # Filters by keyboard: choose a level, apply.
    page.get_by_label("Action needed").select_option("")
    page.get_by_label("Risk level").select_option("high")
    page.get_by_role("button", name="Apply").click()
    expect(rows).to_have_count(2)
    row_b = page.locator('tr[data-patient-id="B"]')
    expect(row_b.locator(".flags")).not_to_contain_text("Failed contact")

    # Record a call that was not answered: B's row and the cards change at once.
    entry_b = next(p for p in api(site, org, "patients/prioritized")["patients"] if p["id"] == "B")
    row_b.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Avery Testpatient")
    summary = page.locator(".patient-summary")

    def shown(label: str) -> Locator:
        return summary.locator("div", has=page.locator("dt", has_text=label)).locator("dd")

    expect(shown("Missed (90 days)")).to_have_text(str(entry_b["missed_appointments_last_90d"]))
    expect(shown("Visits completed")).to_have_text(str(entry_b["total_lifetime_appointments"]))
    expect(shown("Referred by")).to_have_text(entry_b["referral_source"])
    expect(shown("Last treatment outcome")).to_have_text(entry_b["last_treatment_outcome"])
    assert entry_b["referral_source"] == "GP referral"
    assert entry_b["last_treatment_outcome"] == "improving"
    assert entry_b["missed_appointments_last_90d"] == 0  # one completed visit, none missed
    assert entry_b["total_lifetime_appointments"] == 1
    expect(page.locator("table.history.appointments tbody tr")).to_have_count(1)
    page.get_by_label("Called: no answer").check()
    page.get_by_role("button", name="Record outcome").click()
    expect(page.get_by_role("status")).to_have_text("Recorded: Called: no answer.")
    expect(page.locator("table.history.communications tbody tr").first).to_contain_text(
        "not connected"
    )
    page.get_by_role("link", name="Back to the call list").click()
    expect(page).to_have_url(f"{site}/patients?risk_level=high")
    expect(row_b.locator(".flags")).to_contain_text("Failed contact")
    page.get_by_role("link", name="Overview").click()
    after = api(site, org, "overview")
    assert after["this_weeks_target"] == 2
    assert card(page, "this_weeks_target") == "2"
    assert card(page, "reengagement_success_rate") == "25.0%"  # B reached, not reengaged

    # The trends page draws its charts.
    page.get_by_role("link", name="Trends").click()
    charts = page.locator("svg.chart")
    expect(charts).to_have_count(2)
    for i in range(2):
        box = charts.nth(i).bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 100
        assert charts.nth(i).locator("polyline, path.line").count() >= 2
    page.get_by_role("link", name="1 year").click()
    expect(charts.first).to_have_attribute("data-points", "365")
    expect(page.locator('tr[data-channel="phone"]')).to_contain_text("%")

    page.get_by_role("link", name="Performance").click()
    expect(page.locator('[data-figure="outreach_attempts"] .card-value')).to_have_text(
        str(api(site, org, "performance")["reengagement_metrics"]["outreach_attempts"])
    )

    # Signing out ends it: the overview asks for a key again.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("You have signed out.")
    page.goto(f"{site}/")
    expect(page).to_have_url(f"{site}/sign-in?next=/")


def test_viewers_get_aggregates_on_a_tablet_and_every_control_is_labelled(
    browser: Browser, site: str, client: TestClient, org: OrgFixture
) -> None:
    load(client, org)
    context = browser.new_context(viewport={"width": 768, "height": 1024})
    page = context.new_page()
    try:
        page.goto(f"{site}/sign-in")
        page.get_by_label("Your clinic's API key").fill(org.keys["viewer"])
        page.keyboard.press("Enter")  # the form submits from the keyboard
        expect(page).to_have_url(f"{site}/")
        expect(page.get_by_role("link", name="Call list")).to_have_count(0)
        expect(page.locator(".alerts a")).to_have_count(0)
        for path in ("/", "/performance", "/trends"):
            page.goto(f"{site}{path}")
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{path} scrolls sideways on a tablet"
        response = page.goto(f"{site}/patients")
        assert response is not None and response.status == 403
    finally:
        context.close()


UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea, button')]
  .filter(e => e.type !== 'hidden')
  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
               && !(e.tagName === 'BUTTON' && e.textContent.trim()))
  .map(e => e.outerHTML)"""


def test_forms_are_labelled_and_keyboard_reachable(
    page: Page, site: str, client: TestClient, org: OrgFixture
) -> None:
    load(client, org)
    sign_in(page, site, org.keys["staff"])
    for path in ("/", "/patients", "/patients/B", "/performance", "/trends"):
        page.goto(f"{site}{path}")
        assert page.evaluate(UNLABELLED) == [], path
    page.goto(f"{site}/patients")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "risk_level"
