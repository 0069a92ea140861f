"""The staff dashboard over HTTP: sessions, roles, the pages' figures and the actions.

The browser tests (``test_browser.py``) drive the same pages in Chromium; these check what
a browser cannot see: cookie flags, server-side expiry, CSRF, audit rows, status codes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from itertools import pairwise

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import Engine, select

from reengage import clock
from reengage.auth import service as auth_service
from reengage.dashboard import views
from reengage.db.engine import make_sessionmaker
from reengage.domain import risk
from reengage.domain.settings import OrgSettings, TierThresholds
from reengage.models import AuditEntry, Communication, DashboardSession, Followup
from tests.factories import OVERVIEW_NOW as NOW
from tests.factories import OrgFixture, _clinic, _visit, load_kpi_clinic, patient
from tests.helpers import CONDITION, EMAIL, NAME, PHONE, SUMMARY_KEYS, assert_no_phi, logged_text


@pytest.fixture
def browser(app: FastAPI) -> Iterator[TestClient]:
    """A client with its own cookie jar (the shared ``client`` must stay cookie-free)."""
    with clock.frozen_at(NOW), TestClient(app, follow_redirects=False) as c:
        yield c


def post_sign_in(c: TestClient, **form: str) -> Response:
    """Post the sign-in form as a browser does: with the token of the form it was shown."""
    page = c.get("/sign-in")
    found = re.search(r'name="sign_in_token" value="([^"]+)"', page.text)
    assert page.status_code == 200 and found, page.text
    return c.post("/sign-in", data={**form, "sign_in_token": found.group(1)})


def sign_in(c: TestClient, key: str, next_path: str = "/") -> str:
    r = post_sign_in(c, api_key=key, next=next_path)
    assert r.status_code == 303, r.text
    return r.headers["location"]


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def card(html: str, name: str) -> str:
    block = re.search(rf'data-card="{name}".*?class="card-value[^"]*">(.*?)</p>', html, re.S)
    assert block, name
    return " ".join(re.sub(r"<[^>]+>", " ", block.group(1)).split())


def words(html: str) -> str:
    """The page's text, tags dropped and spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def load(c: TestClient, org: OrgFixture) -> None:
    r = c.post(org.url("/batch"), json=_clinic(), headers=org.headers())
    assert r.status_code == 200, r.text


def tier_items(html: str) -> dict[str, tuple[int, str]]:
    """The overview's risk list: each tier's (count, meaning), as the page shows them."""
    found = re.findall(
        r'<li class="tier-item" data-tier="([a-z]+)">.*?<span class="tier-count">([\d,]+)</span>'
        r'\s*<span class="tier-meaning">([^<]*)</span>',
        html,
        re.S,
    )
    items = {tier: (int(count.replace(",", "")), meaning) for tier, count, meaning in found}
    assert list(items) == list(risk.TIERS), found
    return items


def detail(html: str, label: str) -> str:
    """The patient page's value for one label of its summary."""
    found = re.search(rf"<dt>{re.escape(label)}</dt><dd[^>]*>(.*?)</dd>", html, re.S)
    assert found, label
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


def test_every_page_needs_a_session(browser: TestClient) -> None:
    for path in ("/", "/patients?risk_level=high", "/patients/A", "/performance", "/trends"):
        r = browser.get(path)
        assert r.status_code == 303, path
        assert r.headers["location"].startswith("/sign-in?next=")
    assert browser.get("/patients?risk_level=high").headers["location"] == (
        "/sign-in?next=/patients%3Frisk_level%3Dhigh"
    )
    r = browser.post("/patients/A/outreach", data={"outcome": "sms_sent"})
    assert r.status_code == 303 and r.headers["location"] == "/sign-in?next=/"
    page = browser.get("/sign-in")
    assert page.status_code == 200 and 'type="password"' in page.text


def test_sign_in_sets_a_protected_cookie_and_refuses_bad_keys(
    browser: TestClient, org: OrgFixture, engine: Engine
) -> None:
    r = post_sign_in(browser, api_key="rk_nope_nope")
    assert r.status_code == 401 and "not valid" in r.text and "reengage_session" not in r.text
    assert "reengage_session=" not in r.headers.get("set-cookie", "")
    r = post_sign_in(browser, api_key=org.keys["ingest"])
    assert r.status_code == 401 and "only sends records" in r.text
    assert "reengage_session=" not in r.headers.get("set-cookie", "")
    r = post_sign_in(browser, api_key=org.keys["staff"], next="/trends")
    assert r.status_code == 303 and r.headers["location"] == "/trends"
    cookie = next(c for c in r.headers.get_list("set-cookie") if "reengage_session=" in c)
    assert cookie.startswith("reengage_session=rs_")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP on localhost; see the TLS test
    token = cookie.split(";")[0].split("=", 1)[1]
    with make_sessionmaker(engine)() as session:
        rows = session.scalars(select(DashboardSession).where(DashboardSession.org_id == org.id))
        stored = [row.token_hash for row in rows]
    assert len(stored) == 1 and token not in stored[0]  # only a hash is kept


def test_the_cookie_is_secure_over_tls(app: FastAPI, org: OrgFixture) -> None:
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as c:
        r = post_sign_in(c, api_key=org.keys["viewer"])
    assert r.status_code == 303
    assert all("Secure" in cookie for cookie in r.headers.get_list("set-cookie"))


def test_sign_in_refuses_a_form_it_did_not_serve(
    browser: TestClient, org: OrgFixture, engine: Engine
) -> None:
    """Login CSRF: a form posted from another site has no sign-in token (it cannot read the
    cookie), so the key it carries signs nobody in."""
    r = browser.post("/sign-in", data={"api_key": org.keys["staff"]})
    assert r.status_code == 403 and "expired" in r.text
    browser.get("/sign-in")  # the cookie is set, but a forged form still lacks the token
    r = browser.post("/sign-in", data={"api_key": org.keys["staff"], "sign_in_token": "x" * 32})
    assert r.status_code == 403
    with make_sessionmaker(engine)() as session:
        rows = session.scalars(select(DashboardSession).where(DashboardSession.org_id == org.id))
        assert list(rows) == []
    assert sign_in(browser, org.keys["staff"]) == "/"


def test_sign_in_goes_only_to_local_pages(browser: TestClient, org: OrgFixture) -> None:
    for target in ("//evil.example", "https://evil.example/", "/\\evil.example"):
        browser.cookies.clear()  # signed out, so /sign-in shows its form again
        assert sign_in(browser, org.keys["staff"], target) == "/"


def test_idle_sessions_expire_after_30_minutes(
    browser: TestClient, org: OrgFixture, engine: Engine
) -> None:
    sign_in(browser, org.keys["staff"])
    with clock.frozen_at(NOW + timedelta(minutes=29)):
        assert browser.get("/performance").status_code == 200  # activity renews the session
    with clock.frozen_at(NOW + timedelta(minutes=58)):
        assert browser.get("/performance").status_code == 200
    with clock.frozen_at(NOW + timedelta(minutes=88, seconds=1)):
        r = browser.get("/performance")
    assert r.status_code == 303 and r.headers["location"] == "/sign-in?next=/performance"
    with make_sessionmaker(engine)() as session:
        left = session.scalars(select(DashboardSession).where(DashboardSession.org_id == org.id))
        assert list(left) == []


def test_sign_out_ends_the_session_on_the_server(browser: TestClient, org: OrgFixture) -> None:
    sign_in(browser, org.keys["staff"])
    page = browser.get("/")
    token = browser.cookies.get("reengage_session")
    assert browser.post("/sign-out", data={"csrf_token": "0" * 64}).status_code == 403
    r = browser.post("/sign-out", data={"csrf_token": csrf(page.text)})
    assert r.status_code == 303 and r.headers["location"] == "/sign-in?signed_out=1"
    assert browser.get("/sign-in?signed_out=1").text.count("You have signed out") == 1
    # The old cookie, replayed, no longer opens anything.
    browser.cookies.set("reengage_session", str(token))
    assert browser.get("/").status_code == 303


def test_revoking_the_key_ends_its_sessions(
    browser: TestClient, org: OrgFixture, engine: Engine
) -> None:
    sign_in(browser, org.keys["staff"])
    assert browser.get("/").status_code == 200
    with make_sessionmaker(engine)() as session:
        auth_service.revoke_key(session, org.key_ids["staff"], org.id)
        session.commit()
    assert browser.get("/").status_code == 303


def test_the_cards_are_the_apis_figures(
    browser: TestClient, client: TestClient, org: OrgFixture
) -> None:
    load(client, org)
    sign_in(browser, org.keys["viewer"])
    html = browser.get("/").text
    api = client.get(f"/api/v1/reengagement/{org.id}/overview", headers=org.headers()).json()
    assert card(html, "immediate_action_required") == str(api["immediate_action_required"]) == "1"
    # This week's target: A, B and D, the whole at-risk backlog (under the 25 a week), and
    # no one contacted since Monday 06-29.
    assert api["this_weeks_target"] == {
        "target": 25,
        "patients": 3,
        "contacted": 0,
        "waiting": 3,
        "week_start": "2026-06-29",
        "backlog_beyond": 0,
    }
    assert card(html, "this_weeks_target") == "3"
    assert "0 of 3 contacted since Mon 29 Jun 2026" in words(html)
    assert card(html, "reengagement_success_rate") == "33.3%"
    assert card(html, "trend") == "▼ -66.7 percentage points"
    # Tiers by name and count, and the alerts as counts.
    assert re.search(
        r'data-tier="critical">.*?Critical</span>\s*<span class="tier-count">1<', html, re.S
    )
    assert re.search(r'data-tier="high">.*?High</span>\s*<span class="tier-count">2<', html, re.S)


def test_viewers_see_aggregates_only(
    browser: TestClient, client: TestClient, org: OrgFixture
) -> None:
    load(client, org)
    sign_in(browser, org.keys["viewer"])
    for path in ("/", "/performance", "/trends?period=1y"):
        r = browser.get(path)
        assert r.status_code == 200, path
        assert "/patients" not in r.text, path  # no links into the list
        assert "Avery Testpatient" not in r.text
    for path in ("/patients", "/patients/A"):
        r = browser.get(path)
        assert r.status_code == 403 and "aggregate pages only" in r.text
    r = browser.post("/patients/A/outreach", data={"outcome": "sms_sent", "csrf_token": "x"})
    assert r.status_code == 403


def test_another_orgs_patient_does_not_exist(
    browser: TestClient, client: TestClient, org: OrgFixture, other_org: OrgFixture
) -> None:
    load(client, other_org)
    sign_in(browser, org.keys["staff"])
    assert browser.get("/patients/A").status_code == 404
    token = csrf(browser.get("/").text)
    r = browser.post("/patients/A/outreach", data={"outcome": "sms_sent", "csrf_token": token})
    assert r.status_code == 404
    assert (
        client.get(other_org.url("/communications"), headers=other_org.headers()).json()["total"]
        == 3 + 1
    )  # untouched


def test_the_call_list_filters_sorts_and_pages(
    browser: TestClient, client: TestClient, org: OrgFixture, engine: Engine
) -> None:
    load(client, org)
    sign_in(browser, org.keys["staff"])
    rows = re.compile(r'<tr data-patient-id="([^"]+)"')
    # E is engaged but has no visit booked: book_next_appointment.
    assert rows.findall(browser.get("/patients").text) == ["A", "B", "D", "E"]  # by risk score
    assert rows.findall(browser.get("/patients?risk_level=high").text) == ["B", "D"]
    assert rows.findall(browser.get("/patients?sort_by=days_since_contact&limit=1").text) == ["A"]
    page_two = browser.get("/patients?limit=2&offset=2").text
    assert rows.findall(page_two) == ["D", "E"] and "Showing 3\u20134 of 4" in page_two
    assert rows.findall(browser.get("/patients?action_required=missed_appt").text) == []
    bad = browser.get("/patients?risk_level=purple&limit=0")
    assert bad.status_code == 422
    assert "Unknown risk level" in bad.text and "from 1 to 500" in bad.text
    with make_sessionmaker(engine)() as session:
        entry = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.org_id == org.id, AuditEntry.route == "/patients")
            .order_by(AuditEntry.id)  # the clock is pinned: every entry has the same time
        ).first()
    assert entry is not None and entry.patient_ids == ["A", "B", "D", "E"]
    assert entry.key_id == org.key_ids["staff"]


def test_recording_a_call_changes_the_row_and_the_cards(
    browser: TestClient, client: TestClient, org: OrgFixture, engine: Engine
) -> None:
    load(client, org)
    sign_in(browser, org.keys["staff"])
    page = browser.get("/patients/B")
    assert page.status_code == 200 and "Avery Testpatient" in page.text
    r = browser.post(
        "/patients/B/outreach",
        data={"outcome": "called_no_answer", "csrf_token": csrf(page.text), "back": "/patients"},
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/patients/B?done=")
    assert "Recorded: Called: no answer." in browser.get(r.headers["location"]).text
    with make_sessionmaker(engine)() as session:
        calls = session.scalars(
            select(Communication).where(
                Communication.org_id == org.id, Communication.patient_id == "B"
            )
        ).all()
    assert [(c.channel, c.direction, c.sent_at, c.connected_at) for c in calls] == [
        ("phone", "outbound", NOW, None)
    ]
    assert calls[0].id.startswith("dash-comm-")
    # B now has a failed contact, and an attempt this week.
    row = re.search(r'<tr data-patient-id="B">.*?</tr>', browser.get("/patients").text, re.S)
    # (high outranks the failed contact: still an SMS, then a follow-up)
    assert row and "Failed contact" in row.group(0) and "SMS, then follow up" in row.group(0)
    home = browser.get("/").text
    assert card(home, "this_weeks_target") == "3"  # B stays in the target, contacted
    assert "1 of 3 contacted since Mon 29 Jun 2026" in words(home)
    assert card(home, "reengagement_success_rate") == "25.0%"


def test_a_reply_answers_the_message_chosen_and_a_connected_call_reengages(
    browser: TestClient, client: TestClient, org: OrgFixture, engine: Engine
) -> None:
    load(client, org)
    sign_in(browser, org.keys["staff"])
    page = browser.get("/patients/D").text
    token = csrf(page)
    # D's one unanswered message is offered, and chosen, by name and date.
    assert re.search(
        r'<option value="c-D" selected>The SMS sent Sat 20 Jun 2026, 09:00</option>', page
    )
    r = browser.post(
        "/patients/D/outreach", data={"outcome": "replied", "reply_to": "c-D", "csrf_token": token}
    )
    assert r.status_code == 303
    assert "replied to the SMS of Sat 20 Jun 2026, 09:00" in browser.get(r.headers["location"]).text
    with make_sessionmaker(engine)() as session:
        sms = session.get(Communication, (org.id, "c-D"))
        assert sms is not None and sms.responded_at == NOW
    # D replied today: a contact, so D is no longer at risk, and counts as reengaged.
    home = browser.get("/").text
    assert card(home, "reengagement_success_rate") == "66.7%"
    assert 'data-patient-id="D"' not in browser.get("/patients?risk_level=high").text
    # With nothing to answer, a reply is the patient's own message.
    r = browser.post(
        "/patients/B/outreach",
        data={"outcome": "replied", "reply_to": "new-email", "csrf_token": token},
    )
    assert r.status_code == 303
    with make_sessionmaker(engine)() as session:
        mails = session.scalars(
            select(Communication).where(
                Communication.org_id == org.id, Communication.patient_id == "B"
            )
        ).all()
    assert [(m.channel, m.direction) for m in mails] == [("email", "inbound")]


def test_refused_actions_explain_themselves_and_keep_nothing(
    browser: TestClient, client: TestClient, org: OrgFixture, engine: Engine
) -> None:
    load(client, org)
    quiet = patient("Q", opt_outs=["sms"], email=None, registered_at="2026-01-05T09:00:00+00:00")
    assert client.put(org.url("/patients/Q"), json=quiet, headers=org.headers()).status_code == 201
    sign_in(browser, org.keys["staff"])
    token = csrf(browser.get("/patients/Q").text)
    cases = [
        ({"outcome": "sms_sent"}, "opted out of sms"),
        ({"outcome": "email_sent"}, "no email address"),
        ({"outcome": "fax_sent"}, "Choose one of"),
        ({"outcome": "replied"}, "Choose which message the patient replied to"),
        ({"outcome": "replied", "reply_to": "c-A"}, "not one of this patient&#39;s unanswered"),
    ]
    for data, reason in cases:
        r = browser.post("/patients/Q/outreach", data=data | {"csrf_token": token})
        assert r.status_code == 422 and reason in r.text, data
    r = browser.post("/patients/Q/followups", data={"due_date": "next week", "csrf_token": token})
    assert r.status_code == 422 and "YYYY-MM-DD" in r.text
    # A follow-up due in the past is refused (it would be overdue at once), the form kept.
    r = browser.post(
        "/patients/Q/followups",
        data={"due_date": "2026-06-30", "due_time": "11:00", "reason": "knee", "csrf_token": token},
    )
    assert r.status_code == 422 and "Tue 30 Jun 2026, 11:00 has passed" in r.text
    assert 'value="2026-06-30"' in r.text and 'value="knee"' in r.text
    r = browser.post("/patients/Q/outreach", data={"outcome": "called_connected"})
    assert r.status_code == 403  # no CSRF token
    with make_sessionmaker(engine)() as session:
        kept = session.scalars(
            select(Communication).where(
                Communication.patient_id == "Q", Communication.org_id == org.id
            )
        ).all()
        assert kept == []


def test_a_followup_is_scheduled_in_the_clinics_time_and_marked_done(
    browser: TestClient, client: TestClient, org: OrgFixture, engine: Engine
) -> None:
    load(client, org)
    r = client.patch(
        org.url("/settings"), json={"timezone": "Australia/Sydney"}, headers=org.headers()
    )
    assert r.status_code == 200
    sign_in(browser, org.keys["staff"])
    token = csrf(browser.get("/patients/E").text)
    r = browser.post(
        "/patients/E/followups",
        data={
            "due_date": "2026-07-02",
            "due_time": "10:30",
            "reason": "check exercises",
            "csrf_token": token,
        },
    )
    assert r.status_code == 303
    with make_sessionmaker(engine)() as session:
        (fu,) = session.scalars(select(Followup).where(Followup.org_id == org.id)).all()
    assert fu.due_at.isoformat() == "2026-07-02T00:30:00+00:00" and fu.reason == "check exercises"
    page = browser.get("/patients/E").text
    assert "Mark done" in page
    r = browser.post(f"/patients/E/followups/{fu.id}/done", data={"csrf_token": token})
    assert r.status_code == 303
    with make_sessionmaker(engine)() as session:
        done = session.get(Followup, (org.id, fu.id))
        assert done is not None and done.completed_at == NOW


def test_performance_and_trends_pages_show_the_api_figures(
    browser: TestClient, client: TestClient, org: OrgFixture
) -> None:
    load(client, org)
    sign_in(browser, org.keys["staff"])
    for timeframe in ("last_7_days", "last_30_days", "last_90_days"):
        html = browser.get(f"/performance?timeframe={timeframe}").text
        api = client.get(
            f"/api/v1/reengagement/{org.id}/performance",
            params={"timeframe": timeframe},
            headers=org.headers(),
        ).json()
        value = re.search(r'data-figure="outreach_attempts">.*?card-value">([^<]+)<', html, re.S)
        assert value and value.group(1) == str(api["reengagement_metrics"]["outreach_attempts"])
        sms = re.search(r'<article class="funnel" data-channel="sms">.*?</article>', html, re.S)
        phone = re.search(r'<article class="funnel" data-channel="phone">.*?</article>', html, re.S)
        c = api["communication_channels"]
        assert sms and f"Sent {c['sms']['sent']} Delivered {c['sms']['delivered']}" in words(
            sms.group(0)
        )
        assert phone and "Booking rate (booked ÷ connected)" in words(phone.group(0))
    for period in ("7d", "30d", "90d", "6m", "1y"):
        html = browser.get(f"/trends?period={period}").text
        assert len(re.findall(r'<svg[^>]* class="chart"', html)) == 2, period
        days = {"7d": 7, "30d": 30, "90d": 90, "6m": 182, "1y": 365}[period]
        last = NOW.date()
        dates = [last - timedelta(days=n) for n in range(days)]
        # The long periods are charted by calendar week, Monday first.
        weeks = {d - timedelta(days=d.weekday()) for d in dates}
        points = len(weeks) if period in ("6m", "1y") else days
        assert f'data-points="{points}"' in html, period
        assert (period in ("6m", "1y")) == ("Week by week" in html)


def test_pages_load_nothing_from_elsewhere(
    browser: TestClient, client: TestClient, org: OrgFixture
) -> None:
    load(client, org)
    sign_in(browser, org.keys["admin"])
    for path in ("/", "/patients", "/patients/A", "/performance", "/trends", "/sign-in"):
        r = browser.get(path)
        assert r.status_code in (200, 303)
        assert (
            "default-src 'self'" in r.headers.get("content-security-policy", "x")
            or r.status_code == 303
        )
        for url in re.findall(r'(?:src|href|action)="([^"]+)"', r.text):
            assert not re.match(r"^(https?:)?//", url), (path, url)
    css = browser.get("/dashboard-static/dashboard.css")
    assert css.status_code == 200 and "url(" not in css.text and "@import" not in css.text


def test_dashboard_logs_hold_no_patient_data(
    browser: TestClient, client: TestClient, org: OrgFixture, caplog: pytest.LogCaptureFixture
) -> None:
    phi = patient("Z", name=NAME, phone=PHONE, email=EMAIL, health_conditions=[CONDITION])
    assert client.put(org.url("/patients/Z"), json=phi, headers=org.headers()).status_code == 201
    caplog.set_level(logging.DEBUG)
    sign_in(browser, org.keys["staff"])
    page = browser.get("/patients/Z")
    assert NAME in page.text
    browser.post(
        "/patients/Z/outreach", data={"outcome": "sms_sent", "csrf_token": csrf(page.text)}
    )
    browser.get("/patients")
    assert_no_phi(logged_text(caplog.records))
    # Every page gets an access-log line with the key's id, like the API's.
    access = [r.getMessage() for r in caplog.records if r.name == "reengage.access"]
    key_id = org.key_ids["staff"]
    assert f"GET /patients/{{patient_id}} status=200 key={key_id} org={org.id}" in "\n".join(access)
    assert any(
        line.startswith("POST /patients/{patient_id}/outreach status=303") for line in access
    )


# --- the tiers' meanings come from the org's own settings ------------------------------------


def test_tier_meanings_default_to_the_seeds_ranges() -> None:
    defaults = OrgSettings()
    assert {tier: views.tier_meaning(tier, defaults) for tier in risk.TIERS} == {
        "critical": "45+ days: immediate phone call",
        "high": "30 to 44 days: SMS and follow-up",
        "medium": "14 to 29 days: automated check-in",
        "low": "7 to 13 days: routine monitoring",
        "engaged": "0 to 6 days or booked: recent contact",
    }
    unbooked = OrgSettings(booked_patients_are_engaged=False)
    assert views.tier_meaning("engaged", unbooked) == "0 to 6 days: recent contact"
    assert views.tier_meaning("critical", unbooked) == "45+ days: immediate phone call"


@pytest.mark.parametrize(
    "thresholds", [(7, 14, 30, 45), (5, 10, 20, 60), (1, 2, 3, 4), (2, 40, 41, 3650)]
)
def test_tier_meanings_name_exactly_the_days_that_make_each_tier(
    thresholds: tuple[int, int, int, int],
) -> None:
    low, medium, high, critical = thresholds
    t = TierThresholds(low=low, medium=medium, high=high, critical=critical)
    settings = OrgSettings(tier_thresholds=t)
    shown: list[tuple[int, int | None]] = []
    for tier in risk.TIERS:
        found = re.fullmatch(
            r"(\d+)(?:\+| to (\d+)) days(?: or booked)?: .+", views.tier_meaning(tier, settings)
        )
        assert found, tier
        first, last = int(found.group(1)), (int(found.group(2)) if found.group(2) else None)
        shown.append((first, last))
        assert risk.tier_for_days(first, t) == tier
        assert first == 0 or risk.tier_for_days(first - 1, t) != tier
        if last is None:
            assert tier == "critical" and risk.tier_for_days(first + 10_000, t) == tier
        else:
            assert risk.tier_for_days(last, t) == tier
            assert risk.tier_for_days(last + 1, t) != tier
    # From 0 days up, the ranges tile every day count, with no gap or overlap, and only the
    # last is open-ended.
    ranges = sorted(shown)
    assert ranges[0][0] == 0 and ranges[-1][1] is None
    for (_, last), (first, _) in pairwise(ranges):
        assert last is not None and first == last + 1


def test_the_overview_shows_the_orgs_own_tier_thresholds(
    browser: TestClient, client: TestClient, org: OrgFixture
) -> None:
    load(client, org)
    # K: last visit 06-18, 12 days: low by default, medium from 10 days.
    r = client.post(
        org.url("/batch"),
        json={"patients": [patient("K")], "appointments": [_visit("a-K", "K", "2026-06-18")]},
        headers=org.headers(),
    )
    assert r.status_code == 200, r.text
    sign_in(browser, org.keys["staff"])
    before = tier_items(browser.get("/").text)
    assert before["critical"] == (1, "45+ days: immediate phone call")
    assert before["low"] == (1, "7 to 13 days: routine monitoring")
    assert before["medium"] == (0, "14 to 29 days: automated check-in")

    thresholds = {"low": 5, "medium": 10, "high": 20, "critical": 60}
    r = client.patch(
        org.url("/settings"), json={"tier_thresholds": thresholds}, headers=org.headers()
    )
    assert r.status_code == 200, r.text
    html = browser.get("/").text
    items = tier_items(html)
    assert {tier: meaning for tier, (_, meaning) in items.items()} == {
        "critical": "60+ days: immediate phone call",  # A, at exactly 60 days
        "high": "20 to 59 days: SMS and follow-up",
        "medium": "10 to 19 days: automated check-in",
        "low": "5 to 9 days: routine monitoring",
        "engaged": "0 to 4 days or booked: recent contact",
    }
    assert "45+" not in html and "30 to 44" not in html
    api = client.get(
        f"/api/v1/reengagement/{org.id}/risk-metrics", headers=org.headers("viewer")
    ).json()["risk_summary"]
    assert {tier: count for tier, (count, _) in items.items()} == {
        tier: api[key] for tier, key in SUMMARY_KEYS.items()
    }
    assert items["medium"][0] == 1 and items["low"][0] == 0  # K moved up with the thresholds
    assert items["critical"][0] == 1 and items["high"][0] == 2


def test_the_engaged_meaning_leaves_out_booked_when_a_booking_does_not_engage(
    browser: TestClient, client: TestClient, org: OrgFixture
) -> None:
    load(client, org)
    settings = {
        "tier_thresholds": {"low": 5, "medium": 10, "high": 20, "critical": 60},
        "booked_patients_are_engaged": False,
    }
    r = client.patch(org.url("/settings"), json=settings, headers=org.headers())
    assert r.status_code == 200, r.text
    sign_in(browser, org.keys["viewer"])
    html = browser.get("/").text
    items = tier_items(html)
    assert items["engaged"][1] == "0 to 4 days: recent contact"
    assert "or booked" not in html
    assert items["critical"][1] == "60+ days: immediate phone call"
    # C (20 days) and G (40 days) are booked, and now counted by their days: high.
    api = client.get(
        f"/api/v1/reengagement/{org.id}/risk-metrics", headers=org.headers("viewer")
    ).json()["risk_summary"]
    assert {tier: count for tier, (count, _) in items.items()} == {
        tier: api[key] for tier, key in SUMMARY_KEYS.items()
    }
    assert items["high"][0] == 4 and items["engaged"][0] == 1


# --- the patient page -----------------------------------------------------------------------


def test_the_patient_page_shows_missed_visits_referral_and_last_outcome(
    browser: TestClient, client: TestClient, org: OrgFixture
) -> None:
    """M missed five visits in the last 90 days (04-02 to 06-30): shown uncapped, though the
    risk score counts at most three. N has none, and no referral or outcome recorded."""
    visits = [
        _visit("m-1", "M", "2026-02-01"),
        _visit("m-2", "M", "2026-03-01"),
        _visit("m-3", "M", "2026-04-01", "no_show"),  # 91 days back: outside
        _visit("m-4", "M", "2026-04-02", "no_show"),  # the first of the 90 days
        _visit("m-5", "M", "2026-05-10", "late_cancelled"),
        _visit("m-6", "M", "2026-06-01", "no_show"),
        _visit("m-7", "M", "2026-06-10"),
        _visit("m-8", "M", "2026-06-15", "cancelled"),  # cancelled in time: not missed
        _visit("m-9", "M", "2026-06-20", "late_cancelled"),
        _visit("m-10", "M", "2026-06-29", "no_show"),
        _visit("n-1", "N", "2026-06-10"),
    ]
    records = {
        "patients": [
            patient(
                "M",
                referral_source="Harbourside Sports Clinic",
                last_treatment_outcome="partially improved",
            ),
            patient("N", referral_source=None, last_treatment_outcome=None),
        ],
        "appointments": visits,
    }
    r = client.post(org.url("/batch"), json=records, headers=org.headers())
    assert r.status_code == 200, r.text
    listed = client.get(
        f"/api/v1/reengagement/{org.id}/patients/prioritized", headers=org.headers("staff")
    ).json()["patients"]
    api = {p["id"]: p for p in listed}
    assert api["M"]["missed_appointments_last_90d"] == 5
    assert api["M"]["total_lifetime_appointments"] == 3
    # 20 days + 15 with nothing booked + 5 x min(5, 3) missed visits.
    assert api["M"]["risk_score"] == 20 + 15 + 15
    sign_in(browser, org.keys["staff"])
    page = browser.get("/patients/M")
    assert page.status_code == 200
    shown = {
        label: detail(page.text, label)
        for label in (
            "Visits completed",
            "Missed (90 days)",
            "Referred by",
            "Last treatment outcome",
        )
    }
    assert shown == {
        "Visits completed": "3",
        "Missed (90 days)": "5",
        "Referred by": "Harbourside Sports Clinic",
        "Last treatment outcome": "partially improved",
    }
    assert shown == {
        "Visits completed": str(api["M"]["total_lifetime_appointments"]),
        "Missed (90 days)": str(api["M"]["missed_appointments_last_90d"]),
        "Referred by": api["M"]["referral_source"],
        "Last treatment outcome": api["M"]["last_treatment_outcome"],
    }
    assert re.search(r'<span class="score">50</span>', page.text)
    other = browser.get("/patients/N").text
    assert detail(other, "Missed (90 days)") == "0" == str(api["N"]["missed_appointments_last_90d"])
    assert detail(other, "Visits completed") == "1"
    assert detail(other, "Referred by") == "\u2013" and api["N"]["referral_source"] is None
    assert detail(other, "Last treatment outcome") == "\u2013"
    assert api["N"]["last_treatment_outcome"] is None


def test_the_overview_shows_the_four_success_metrics_against_their_targets(
    browser: TestClient, client: TestClient, org: OrgFixture
) -> None:
    """The KPI clinic of ``tests/outreach/test_kpis_api.py``, on the overview's panel."""
    load_kpi_clinic(client, org)
    sign_in(browser, org.keys["viewer"])
    html = browser.get("/").text
    rows = {
        name: words(row)
        for name, row in re.findall(
            r'<tr data-kpi="(\w+)" data-status="\w+">(.*?)</tr>', html, re.S
        )
    }
    assert rows == {
        "staff_efficiency": "Staff efficiency Median days from a patient turning at risk to the "
        "first outreach attempt 6.0 days 15.0 days in Sat 02 May 2026 to Sun 31 May 2026: 60.0% "
        "shorter (relative) at least 50% shorter than the baseline Met",
        "reengagement_rate": "Reengagement rate Successful contacts that led to a booking "
        "(contact \u2192 appointment) 50.0% 100.0% in Sat 02 May 2026 to Sun 31 May 2026 above "
        "70% Not met",
        "patient_retention": "Patient retention Critical-risk patients, as a share of the active "
        "patients, now 33.3% of 6 active patients below 5% Not met",
        "revenue_impact": "Revenue impact Appointments booked after a successful outreach "
        "contact 1 1 in Sat 02 May 2026 to Sun 31 May 2026: no change per day at "
        "least +25% per day on the baseline Not met",
    }
