"""The alert inbox in a real headless Chromium: staff see who and act (acknowledge, then
resolve), each action audited; a viewer sees the counts and no one's name."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, select

from reengage import clock
from reengage.db.engine import make_sessionmaker
from reengage.jobs import catalog
from reengage.models import AuditEntry
from tests.alerts.helpers import run_job
from tests.factories import OVERVIEW_NOW as NOW
from tests.factories import OrgFixture, appointment, patient


def sign_in_at(page: Page, site: str, key: str, path: str) -> None:
    page.goto(f"{site}{path}")
    page.get_by_label("Your clinic's API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{site}{path}")


@pytest.fixture
def missed(client: TestClient, engine: Engine, org: OrgFixture) -> OrgFixture:
    """Harper missed this week's visit with nothing booked: a missed-appointment alert."""
    body = {
        "patients": [patient("H", name="Harper Inventedname")],
        "appointments": [
            appointment("a-H", "H", starts_at="2026-06-10T10:00:00+00:00", booked_at=None),
            appointment(
                "a-H2", "H", starts_at="2026-06-28T10:00:00+00:00", booked_at=None, status="no_show"
            ),
        ],
    }
    assert client.post(org.url("/batch"), json=body, headers=org.headers()).status_code == 200
    with clock.frozen_at(NOW):
        run_job(engine, catalog.BY_NAME["alerts-checks"], org.id)
    return org


def test_staff_acknowledge_then_resolve_an_alert(
    page: Page, site: str, engine: Engine, missed: OrgFixture
) -> None:
    sign_in_at(page, site, missed.keys["staff"], "/alerts")
    expect(page.get_by_role("link", name="Alerts")).to_have_attribute("aria-current", "page")
    counts = page.locator('.alert-counts tr[data-rule="missed_appointment"]')
    expect(counts.locator(".open")).to_have_text("1")
    row = page.locator('.inbox tr[data-rule="missed_appointment"]')
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Harper Inventedname")
    expect(row).to_contain_text("Missed appointment, nothing booked")
    alert_id = row.get_attribute("data-alert-id")
    row.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_role("status")).to_have_text("Acknowledged.")
    expect(row).to_have_attribute("data-state", "acknowledged")
    expect(counts.locator(".acknowledged")).to_have_text("1")
    row.get_by_role("button", name="Resolve").click()
    expect(page.get_by_role("status")).to_have_text("Resolved.")
    expect(page.locator(".inbox tr")).to_have_count(0)
    expect(page.locator(".empty")).to_contain_text("no open alerts")
    page.get_by_role("link", name="Resolved").click()
    resolved = page.locator(f'.inbox tr[data-alert-id="{alert_id}"]')
    expect(resolved.locator(".state")).to_have_text(f"resolved by key {missed.key_ids['staff']}")
    # The patient's name leads to their page, back to the inbox.
    resolved.get_by_role("link", name="Harper Inventedname").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Harper Inventedname")
    with make_sessionmaker(engine)() as session:
        actions = session.scalars(
            select(AuditEntry.action)
            .where(
                AuditEntry.org_id == missed.id,
                AuditEntry.action.in_(("alert_ack", "alert_resolve")),
            )
            .order_by(AuditEntry.id)
        ).all()
    assert actions == ["alert_ack", "alert_resolve"]


def test_a_viewer_sees_counts_and_no_names(page: Page, site: str, missed: OrgFixture) -> None:
    sign_in_at(page, site, missed.keys["viewer"], "/alerts")
    counts = page.locator('.alert-counts tr[data-rule="missed_appointment"]')
    expect(counts.locator(".open")).to_have_text("1")
    expect(page.locator(".inbox")).to_have_count(0)
    assert "Harper" not in page.content()
