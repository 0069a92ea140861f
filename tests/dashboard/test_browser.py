"""The dashboard in a real headless Chromium (``tests/browser.py``), against a real server on a
loopback port, on each test database.
"""

from __future__ import annotations

import re
from typing import Any

import httpx2 as httpx
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Locator, Page, expect

from tests.factories import (
    OrgFixture,
    _clinic,
    appointment,
    followup,
    load_kpi_clinic,
    outbound,
    patient,
)
from tests.helpers import SUMMARY_KEYS


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
    # A, B, D and H: the week's target is the whole at-risk backlog here.
    assert card(page, "this_weeks_target") == str(cards["this_weeks_target"]["patients"]) == "4"
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
    # B stays in the week's target, now contacted.
    assert (after["this_weeks_target"]["patients"], after["this_weeks_target"]["contacted"]) == (
        4,
        1,
    )
    assert card(page, "this_weeks_target") == "4"
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
    # A year in calendar weeks: 2025-07-01 (a Tuesday) to 2026-06-30, 53 weeks.
    expect(charts.first).to_have_attribute("data-points", "53")
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


# --- the front desk's morning (issue 19) -------------------------------------------------

DAY = r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4}"


def load_morning(client: TestClient, org: OrgFixture) -> None:
    """``load``'s clinic, and: O, critical, opted out of calls; a second unanswered message
    to D (an email); B's follow-up, due 06-25 and not done (overdue); a long email for E."""
    load(client, org)
    batch = {
        "patients": [
            patient("O", opt_outs=["phone"], registered_at="2026-01-05T09:00:00+00:00"),
            patient(
                "E",
                registered_at="2026-01-05T09:00:00+00:00",
                email="a.very.long.address.for.testing.layout.only@physio-clinic.example.org",
            ),
        ],
        "appointments": [
            appointment("a-O", "O", starts_at="2026-04-01T10:00:00+00:00", booked_at=None),
        ],
        "communications": [outbound("c-D2", "D", "email", "2026-06-22T09:00:00+00:00")],
        "followups": [followup("f-B", "B", due_at="2026-06-25T09:00:00+00:00")],
    }
    r = client.post(org.url("/batch"), json=batch, headers=org.headers())
    assert r.status_code == 200, r.text


def test_the_weeks_target_is_a_list_staff_work_through(
    page: Page, site: str, client: TestClient, org: OrgFixture
) -> None:
    load_morning(client, org)
    sign_in(page, site, org.keys["staff"])
    target = api(site, org, "overview")["this_weeks_target"]
    # A, B, D, H and O are at risk (under the 25 a week): all of them, none contacted yet.
    assert (target["patients"], target["contacted"], target["backlog_beyond"]) == (5, 0, 0)
    assert card(page, "this_weeks_target") == "5"
    expect(page.locator('[data-figure="week_progress"]')).to_contain_text(
        "0 of 5 contacted since Mon 29 Jun 2026"
    )
    page.get_by_role("link", name="Work through this week's 5").click()
    expect(page).to_have_url(f"{site}/patients?target=this_week")
    rows = page.locator("table.call-list tbody tr")
    expect(rows).to_have_count(5)
    expect(page.locator(".list-total")).to_have_text("5")
    expect(page.get_by_label("Patients")).to_have_value("this_week")
    # Work the first: a text to B. B stays in the target, marked, and progress moves.
    page.locator('tr[data-patient-id="B"]').get_by_role("link").click()
    page.get_by_label("SMS sent").check()
    page.get_by_role("button", name="Record outcome").click()
    expect(page.get_by_role("status")).to_have_text("Recorded: SMS sent.")
    page.get_by_role("link", name="Back to the call list").click()
    expect(page).to_have_url(f"{site}/patients?target=this_week")
    expect(rows).to_have_count(5)
    expect(page.locator('tr[data-patient-id="B"]')).to_have_attribute("data-contacted", "true")
    expect(page.locator('tr[data-patient-id="B"] .done-mark')).to_have_text("contacted this week")
    expect(page.locator(".week-contacted")).to_have_text("1")
    page.get_by_role("link", name="Overview").click()
    expect(page.locator('[data-figure="week_progress"]')).to_contain_text("1 of 5 contacted")
    assert card(page, "this_weeks_target") == "5"


def test_immediate_action_links_to_exactly_its_patients(
    page: Page, site: str, client: TestClient, org: OrgFixture
) -> None:
    load_morning(client, org)
    sign_in(page, site, org.keys["staff"])
    count = card(page, "immediate_action_required")
    assert count == "3"  # A and O critical, H's missed visit
    page.get_by_role("link", name=f"List these {count} patients").click()
    expect(page).to_have_url(f"{site}/patients?action_priority=1")
    expect(page.locator("table.call-list tbody tr")).to_have_count(3)
    expect(page.locator(".list-total")).to_have_text(count)
    # Every alert's count is its list's length too.
    for name, flag in (
        ("missed_appointments_14d", "missed_appt"),
        ("overdue_followups", "overdue_followup"),
        ("no_future_appointments", "no_future_appt"),
    ):
        page.goto(f"{site}/")
        shown = page.locator(f'[data-alert="{name}"] .alert-count').inner_text()
        page.locator(f'[data-alert="{name}"] a').click()
        expect(page).to_have_url(f"{site}/patients?action_required={flag}")
        expect(page.locator(".list-total")).to_have_text(shown)


def test_the_overview_shows_the_success_metrics_against_their_targets(
    page: Page, site: str, client: TestClient, org: OrgFixture
) -> None:
    load_kpi_clinic(client, org)
    sign_in(page, site, org.keys["viewer"])
    panel = page.locator('[data-panel="kpis"]')
    expect(panel.get_by_role("heading")).to_have_text("Success metrics")
    rows = panel.locator("tbody tr")
    expect(rows).to_have_count(4)
    wanted = {
        "staff_efficiency": ("Staff efficiency", "6.0 days", "at least 50% shorter", "Met"),
        "reengagement_rate": ("Reengagement rate", "50.0%", "above 70%", "Not met"),
        "patient_retention": ("Patient retention", "33.3%", "below 5%", "Not met"),
        "revenue_impact": ("Revenue impact", "1", "at least +25% per day", "Not met"),
    }
    for name, (label, value, target, status) in wanted.items():
        row = panel.locator(f'tr[data-kpi="{name}"]')
        expect(row.locator("th")).to_contain_text(label)
        expect(row.locator(".kpi-value")).to_have_text(value)
        expect(row.locator(".kpi-target")).to_contain_text(target)
        expect(row.locator(".kpi-status")).to_have_text(status)
    body = api(site, org, "kpis")["kpis"]
    assert {name: k["met"] for name, k in body.items()} == {
        "staff_efficiency": True,
        "reengagement_rate": False,
        "patient_retention": False,
        "revenue_impact": False,
    }


def test_an_action_is_said_on_the_channel_the_patient_allows(
    page: Page, site: str, client: TestClient, org: OrgFixture
) -> None:
    load_morning(client, org)
    sign_in(page, site, org.keys["staff"])
    o = next(p for p in api(site, org, "patients/prioritized")["patients"] if p["id"] == "O")
    assert (o["recommended_action"], o["recommended_channel"]) == ("immediate_phone_call", "sms")
    page.goto(f"{site}/patients")
    action = page.locator('tr[data-patient-id="O"] td.action')
    expect(action).to_have_text("Immediate SMS (a call is not possible)")
    page.locator('tr[data-patient-id="O"]').get_by_role("link").click()
    expect(page.locator(".patient-summary .action")).to_have_text(
        "Immediate SMS (a call is not possible)"
    )
    # No screen says "phone call" with another channel, for any patient listed.
    page.goto(f"{site}/patients")
    for cell in page.locator("td.action").all():
        text, channel = cell.inner_text(), cell.get_attribute("data-channel")
        if channel != "phone":
            assert "phone call" not in text and "follow-up call" not in text, text


def test_the_outreach_form_preselects_nothing(
    page: Page, site: str, client: TestClient, org: OrgFixture
) -> None:
    load_morning(client, org)
    sign_in(page, site, org.keys["staff"])
    page.goto(f"{site}/patients/A")
    expect(page.locator('input[name="outcome"]:checked')).to_have_count(0)
    before = len(api(site, org, "patients/prioritized")["patients"][0]["reengagement_history"])
    page.get_by_role("button", name="Record outcome").click()  # nothing chosen: not sent
    expect(page).to_have_url(f"{site}/patients/A")
    assert page.evaluate("document.querySelector('input[name=outcome]').validity.valueMissing")
    after = len(api(site, org, "patients/prioritized")["patients"][0]["reengagement_history"])
    assert before == after


def test_patient_replied_says_which_message_it_answers(
    page: Page, site: str, client: TestClient, org: OrgFixture
) -> None:
    load_morning(client, org)
    sign_in(page, site, org.keys["staff"])
    page.goto(f"{site}/patients/D")
    reply_to = page.get_by_label("If the patient replied: to which message")
    expect(reply_to.locator("option")).to_have_text(
        [
            "Choose…",
            "The Email sent Mon 22 Jun 2026, 09:00",
            "The SMS sent Sat 20 Jun 2026, 09:00",
            "None of ours: a new SMS from the patient",
            "None of ours: a new email from the patient",
        ]
    )
    expect(reply_to).to_have_value("")  # several: staff choose
    page.get_by_role("radio", name="Patient replied").check()
    page.get_by_role("button", name="Record outcome").click()
    expect(page.get_by_role("alert")).to_have_text("Choose which message the patient replied to.")
    expect(page.get_by_role("radio", name="Patient replied")).to_be_checked()  # the choice is kept
    reply_to.select_option(label="The SMS sent Sat 20 Jun 2026, 09:00")
    page.get_by_role("button", name="Record outcome").click()
    expect(page.get_by_role("status")).to_have_text(
        "Recorded: the patient replied to the SMS of Sat 20 Jun 2026, 09:00."
    )
    # Only the email is left to answer, and it is the one offered.
    expect(reply_to.locator("option").first).to_have_text("The Email sent Mon 22 Jun 2026, 09:00")
    expect(reply_to).to_have_value("c-D2")
    d = next(p for p in api(site, org, "patients/prioritized")["patients"] if p["id"] == "D")
    sms = next(h for h in d["reengagement_history"] if h["method"] == "sms")
    assert (sms["success"], sms["reason"]) == (True, "responded")


def test_a_follow_up_due_in_the_past_is_refused(
    page: Page, site: str, client: TestClient, org: OrgFixture
) -> None:
    load_morning(client, org)
    sign_in(page, site, org.keys["staff"])
    page.goto(f"{site}/patients/A")
    due = page.get_by_label("Due date")
    expect(due).to_have_attribute("min", "2026-06-30")
    due.fill("2026-06-30")
    page.get_by_label("Time").fill("08:00")  # it is 12:00
    page.get_by_label("Reason").fill("check home exercises")
    page.get_by_role("button", name="Schedule follow-up").click()
    expect(page.get_by_role("alert")).to_contain_text("Tue 30 Jun 2026, 08:00 has passed")
    expect(page.get_by_label("Reason")).to_have_value("check home exercises")
    expect(page.locator(".open-followups")).to_have_count(0)
    page.get_by_label("Time").fill("15:00")
    page.get_by_role("button", name="Schedule follow-up").click()
    expect(page.get_by_role("status")).to_have_text(
        "Follow-up scheduled for Tue 30 Jun 2026, 15:00."
    )


def test_dates_read_one_way_and_overdue_says_how_long(
    page: Page, site: str, client: TestClient, org: OrgFixture
) -> None:
    load_morning(client, org)
    sign_in(page, site, org.keys["staff"])
    # The clinic by its name in the header, not its id.
    expect(page.locator("header .org")).to_have_text(f"Test clinic {org.id}")
    page.goto(f"{site}/patients")
    b = page.locator('tr[data-patient-id="B"] td.act-by')
    expect(b).to_have_text("overdue 5 days")  # the follow-up due 06-25
    expect(b).to_have_class("act-by overdue")
    for cell in page.locator("td.act-by").all():
        text = cell.inner_text()
        assert text in ("today",) or text.startswith("overdue ") or re.fullmatch(DAY, text), text
        assert "30 Jun 2026" not in text  # today is said "today", not repeated as a date
    page.locator('tr[data-patient-id="B"]').get_by_role("link").click()
    expect(page.locator(".patient-summary .act-by")).to_have_text(
        "overdue 5 days (since Thu 25 Jun 2026)"
    )
    for path in ("/", "/patients", "/patients/B", "/performance", "/trends"):
        page.goto(f"{site}{path}")
        text = page.locator("main").inner_text() + page.locator("footer").inner_text()
        assert not re.search(r"\d{4}-\d{2}-\d{2}", text), path
        assert re.search(DAY, text), path


def test_the_patient_panel_fits_1280_and_the_call_list_a_phone(
    browser: Browser, site: str, client: TestClient, org: OrgFixture
) -> None:
    load_morning(client, org)
    for width, path in ((1280, "/patients/E"), (390, "/patients"), (390, "/patients/E")):
        context = browser.new_context(viewport={"width": width, "height": 900})
        page = context.new_page()
        try:
            sign_in(page, site, org.keys["staff"])
            page.goto(f"{site}{path}")
            sideways = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert sideways <= 0, f"{path} scrolls sideways at {width} px"
            panel = page.locator(".patient-summary, table.call-list").first
            assert panel.evaluate("e => e.scrollWidth <= e.clientWidth"), (width, path)
            if path == "/patients":
                row = page.locator("table.call-list tbody tr").first
                box = row.bounding_box()
                assert box is not None and box["width"] <= width
                # A card: the action and its date are readable without scrolling.
                expect(row.locator("td.action")).to_be_in_viewport()
        finally:
            context.close()


def test_performance_labels_each_channels_funnel_by_what_it_measures(
    page: Page, site: str, client: TestClient, org: OrgFixture
) -> None:
    load_morning(client, org)
    sign_in(page, site, org.keys["viewer"])
    page.goto(f"{site}/performance")
    wanted = {
        "sms": (["Sent", "Delivered", "Replied"], "Reply rate (replied ÷ delivered)"),
        "email": (["Sent", "Opened", "Replied"], "Reply rate (replied ÷ opened)"),
        "phone": (["Called", "Connected", "Booked"], "Booking rate (booked ÷ connected)"),
    }
    for channel, (steps, rate) in wanted.items():
        funnel = page.locator(f'article.funnel[data-channel="{channel}"]')
        expect(funnel.locator(".funnel-steps dt")).to_have_text([*steps, rate])
        expect(funnel.locator("svg.chart")).to_have_count(1)


def test_trends_say_what_a_change_is_and_when_there_is_nothing_to_compare(
    page: Page, site: str, client: TestClient, org: OrgFixture
) -> None:
    load_morning(client, org)
    sign_in(page, site, org.keys["viewer"])
    page.goto(f"{site}/trends?period=30d")
    expect(page.locator("table.channel-trends thead")).to_contain_text("Relative change")
    # No email was opened in 05-31..05-01: nothing to compare with, and said so.
    email = page.locator('table.channel-trends tr[data-channel="email"]')
    expect(email).to_contain_text("no data in that period")
    expect(email).to_contain_text("no comparison: nothing to compare with")
    page.goto(f"{site}/")
    expect(page.locator('[data-card="trend"] .unit')).to_have_text("percentage points")
    page.goto(f"{site}/trends?period=1y")
    expect(page.get_by_role("heading", name="Week by week")).to_be_visible()
    expect(page.locator("svg.chart").first).to_have_attribute("data-points", "53")
