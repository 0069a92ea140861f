"""The uplift report on a generated clinic whose patients book more when checked in, by a
known amount: the holdout is its share, never messaged, and the measured difference's 95%
interval holds the amount the clinic was built with."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from reengage import clock
from reengage.db.engine import make_sessionmaker
from reengage.models import CheckinCampaign
from tests.checkins.fake_providers import fake_providers
from tests.checkins.helpers import (
    batch,
    batches,
    by_patient,
    campaign,
    drifting,
    load,
    run,
    visit,
    wire,
)
from tests.factories import OrgFixture, appointment

TUESDAY = datetime(2026, 11, 3, 9, 5, tzinfo=UTC)
PATIENTS = 800
HOLDOUT_PCT = 25.0
BASE_RATE = 0.20  # booking within the window without a check-in
WITH_CHECKIN = 0.35  # with one: the known uplift is 15 percentage points
KNOWN_UPLIFT = (WITH_CHECKIN - BASE_RATE) * 100


def _uplift(client: TestClient, org: OrgFixture, cid: str, at: datetime) -> dict[str, Any]:
    with clock.frozen_at(at):
        r = client.get(org.url(f"/checkins/campaigns/{cid}/uplift"), headers=org.headers("viewer"))
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()
    return found


def test_the_measured_uplift_holds_the_clinic_s_known_response(
    client: TestClient, engine: Engine, org: OrgFixture
) -> None:
    rng = random.Random(23)
    phones = {f"u{i:04d}": f"+614{i:08d}" for i in range(PATIENTS)}
    body: dict[str, list[Any]] = {"patients": [], "appointments": []}
    for pid, phone in phones.items():
        days = rng.randint(14, 28)
        body["patients"].append(drifting(pid, TUESDAY, days, phone=phone, email=None))
        body["appointments"].append(visit(pid, TUESDAY, days))
    with fake_providers() as fake:
        wire(client, org)
        load(client, org, TUESDAY - timedelta(hours=1), body)
        r = client.patch(
            org.url("/settings"), json={"checkins_daily_cap": 10_000}, headers=org.headers()
        )
        assert r.status_code == 200, r.text
        cid = campaign(client, org, holdout_pct=HOLDOUT_PCT, daily_cap=10_000, approval="automatic")
        # A fixed salt (and the seed above) make the run repeatable; the service draws one
        # at random for a real campaign.
        with make_sessionmaker(engine)() as session:
            session.execute(
                update(CheckinCampaign)
                .where(CheckinCampaign.org_id == org.id, CheckinCampaign.id == cid)
                .values(salt="0f" * 16)
            )
            session.commit()
        assert run(engine, fake, "checkins-prepare", org.id, TUESDAY) == "ran"
        assert run(engine, fake, "checkins-send", org.id, TUESDAY) == "ran"
        (prepared,) = batches(client, org, cid)
        kept = by_patient(batch(client, org, prepared["id"], TUESDAY))
        held = {pid for pid, m in kept.items() if m["outcome"] == "holdout"}
        messaged_numbers = {m.to for m in fake.accepted}

    # The holdout is its share of the eligible (within 3 standard deviations), and none of
    # it was messaged; everyone else was, once.
    share = len(held) / PATIENTS * 100
    sd = (HOLDOUT_PCT * (100 - HOLDOUT_PCT) / PATIENTS) ** 0.5
    assert abs(share - HOLDOUT_PCT) < 3 * sd, share
    assert not messaged_numbers & {phones[pid] for pid in held}
    assert len(fake.accepted) == len(messaged_numbers) == PATIENTS - len(held)

    # Before anyone's window is over: not enough data, and everyone waiting.
    early = _uplift(client, org, cid, TUESDAY + timedelta(days=5))
    assert early["enough_data"] is False and early["difference_points"] is None
    assert early["message"].startswith("not enough data yet")
    assert (early["messaged"]["waiting"], early["holdout"]["waiting"]) == (
        PATIENTS - len(held),
        len(held),
    )

    # The clinic answers: each patient books within the window with the chance their
    # group's, on a day between 1 and 12 days after the check-in.
    bookings = []
    booked = {"messaged": 0, "holdout": 0}
    for pid, phone in phones.items():
        group = "messaged" if phone in messaged_numbers else "holdout"
        if rng.random() < (WITH_CHECKIN if group == "messaged" else BASE_RATE):
            at = TUESDAY + timedelta(days=rng.uniform(1, 12))
            bookings.append(
                appointment(
                    f"b-{pid}",
                    pid,
                    booked_at=at.isoformat(),
                    starts_at=(at + timedelta(days=7)).isoformat(),
                    status="scheduled",
                )
            )
            booked[group] += 1
    later = TUESDAY + timedelta(days=16)
    load(client, org, later, {"appointments": bookings})

    found = _uplift(client, org, cid, later)
    assert found["enough_data"] is True
    assert found["messaged"] == {
        "patients": PATIENTS - len(held),
        "booked": booked["messaged"],
        "booking_rate": round(booked["messaged"] / (PATIENTS - len(held)) * 100, 1),
        "waiting": 0,
    }
    assert found["holdout"]["patients"] == len(held)
    assert found["holdout"]["booked"] == booked["holdout"]
    difference = (booked["messaged"] / (PATIENTS - len(held)) - booked["holdout"] / len(held)) * 100
    assert found["difference_points"] == round(difference, 2)
    assert found["ci95_low"] < KNOWN_UPLIFT < found["ci95_high"], found
    # The interval is as wide as the groups allow: about two standard errors either side.
    assert 8 < found["ci95_high"] - found["ci95_low"] < 20
    assert found["sending"] == {"sent": PATIENTS - len(held), "held_out": len(held)}

    # The overview's revenue goal now reads the measured uplift, not a before-and-after.
    with clock.frozen_at(later):
        r = client.get(org.analytics("/kpis"), headers=org.headers("viewer"))
    assert r.status_code == 200, r.text
    kpis = r.json()
    assert kpis["revenue_impact_source"] == "holdout"
    assert kpis["checkin_uplift"] == {
        "campaign_id": cid,
        "messaged_patients": PATIENTS - len(held),
        "holdout_patients": len(held),
        "difference_points": found["difference_points"],
        "ci95_low": found["ci95_low"],
        "ci95_high": found["ci95_high"],
        "relative_pct": found["relative_pct"],
    }
    revenue = kpis["kpis"]["revenue_impact"]
    assert revenue["change_pct"] == found["relative_pct"]
    assert revenue["met"] is (found["relative_pct"] >= 25.0)
