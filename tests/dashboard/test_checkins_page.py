"""The check-ins page in a real headless Chromium: before the hours, the dry run; staff see
who gets which words and approve the day's batch (audited), which then goes; a viewer sees
the counts and the uplift, no one's name and no button."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, select

from reengage.db.engine import make_sessionmaker
from reengage.models import AuditEntry
from tests.checkins.fake_providers import fake_providers
from tests.checkins.helpers import campaign, drifting, load, run, visit, wire
from tests.factories import OVERVIEW_NOW as NOW
from tests.factories import OrgFixture


def sign_in_at(page: Page, site: str, key: str, path: str) -> None:
    page.goto(f"{site}{path}")
    page.get_by_label("Your clinic's API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{site}{path}")


def test_staff_see_the_batch_and_approve_it(
    page: Page, site: str, client: TestClient, engine: Engine, org: OrgFixture
) -> None:
    body = {
        "patients": [
            drifting("k1", NOW, 20, name="Kai Madeupname", phone="+61400000801"),
            drifting("k2", NOW, 22, name="Lena Madeupname", phone="+61400000802"),
            drifting("k3", NOW, 20, name="Omar Madeupname", phone=None, email=None),
        ],
        "appointments": [visit(p, NOW, d) for p, d in (("k1", 20), ("k2", 22), ("k3", 20))],
    }
    with fake_providers() as fake:
        wire(client, org)
        load(client, org, NOW - timedelta(hours=1), body)
        campaign(client, org, holdout_pct=0, name="Medium-tier check-in")

        sign_in_at(page, site, org.keys["staff"], "/checkins")
        expect(page.get_by_role("link", name="Check-ins")).to_have_attribute("aria-current", "page")
        panel = page.locator("section.campaign")
        expect(panel.get_by_role("heading", name="Medium-tier check-in")).to_be_visible()
        expect(panel.locator(".batch")).to_have_attribute("data-state", "dry_run")
        expect(panel.locator('[data-count="send"]')).to_have_text("2")
        expect(panel.locator('[data-count="skip"]')).to_have_text("1")

        assert run(engine, fake, "checkins-prepare", org.id, NOW) == "ran"
        page.reload()
        expect(panel.locator(".batch")).to_have_attribute("data-state", "awaiting_approval")
        rows = panel.locator(".checkin-batch tbody tr")
        expect(rows).to_have_count(3)
        # Most urgent first: Lena is 22 days out.
        expect(rows.nth(0)).to_contain_text("Lena Madeupname")
        lena = panel.locator('tr[data-patient-id="k2"]')
        lena.get_by_text("The message").click()
        expect(lena.locator(".message-text")).to_contain_text("Hi Lena, it's Test clinic")
        expect(lena.locator(".message-text")).to_contain_text("Reply STOP to opt out.")
        expect(panel.locator('tr[data-patient-id="k3"]')).to_contain_text(
            "no phone number or email address"
        )
        panel.get_by_role("button", name="Approve 2 messages").click()
        expect(page.get_by_role("status")).to_contain_text("Approved")
        expect(panel.locator(".batch")).to_have_attribute("data-state", "approved")

        assert run(engine, fake, "checkins-send", org.id, NOW) == "ran"
        assert sorted(m.to for m in fake.accepted) == ["+61400000801", "+61400000802"]
        page.reload()
        expect(panel.locator('tr[data-patient-id="k1"] .state')).to_have_text("sent")
        expect(panel.locator(".uplift-verdict")).to_contain_text("Not enough data yet")

    with make_sessionmaker(engine)() as session:
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.org_id == org.id)
        ).all()
        assert "approve_checkins" in actions


def test_a_viewer_sees_counts_and_no_one(
    page: Page, site: str, client: TestClient, engine: Engine, org: OrgFixture
) -> None:
    body = {
        "patients": [drifting("v1", NOW, 20, name="Vera Madeupname", phone="+61400000901")],
        "appointments": [visit("v1", NOW, 20)],
    }
    with fake_providers() as fake:
        wire(client, org)
        load(client, org, NOW - timedelta(hours=1), body)
        campaign(client, org, holdout_pct=0)
        assert run(engine, fake, "checkins-prepare", org.id, NOW) == "ran"
    sign_in_at(page, site, org.keys["viewer"], "/checkins")
    panel = page.locator("section.campaign")
    expect(panel.locator('[data-count="send"]')).to_have_text("1")
    expect(panel.locator(".uplift")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("Vera")
    expect(panel.get_by_role("button")).to_have_count(0)
