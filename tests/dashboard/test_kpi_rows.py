"""The overview's revenue goal, as its panel says it: per day against the baseline, or,
once a check-in campaign has measured one, the uplift against its held-out patients."""

from __future__ import annotations

from typing import Any

from reengage.dashboard.views import kpi_rows
from reengage.outreach.schemas import Kpis


def _kpis(**revenue: Any) -> dict[str, Any]:
    kpi = {"value": 1.0, "baseline": 1.0, "change_pct": 0.0, "target": 25.0, "met": False,
           "sample": 1, "baseline_sample": 1}  # fmt: skip
    return {
        "organization_id": "org_x",
        "last_updated": "2026-11-20T09:00:00+00:00",
        "period": {"start": "2026-08-23", "end": "2026-11-20", "days": 90, "source": "last_days"},
        "baseline": {"start": "2026-05-25", "end": "2026-08-22", "days": 90,
                     "source": "previous_period"},
        "kpis": {name: kpi for name in ("staff_efficiency", "reengagement_rate",
                                          "patient_retention")}
        | {"revenue_impact": kpi | revenue},
    }  # fmt: skip


def _revenue(body: dict[str, Any]) -> Any:
    (row,) = [r for r in kpi_rows(Kpis.model_validate(body)) if r.name == "revenue_impact"]
    return row


def test_the_revenue_goal_reads_the_uplift_once_measured() -> None:
    before = _revenue(_kpis())
    assert before.measures == "Appointments booked after a successful outreach contact"
    assert before.target == "at least +25% per day on the baseline"
    measured = _kpis(change_pct=70.7, met=True) | {
        "revenue_impact_source": "holdout",
        "checkin_uplift": {"campaign_id": "cmp_0123456789abcdef", "messaged_patients": 590,
                           "holdout_patients": 210, "difference_points": 14.81,
                           "ci95_low": 7.73, "ci95_high": 21.15, "relative_pct": 70.7},
    }  # fmt: skip
    row = _revenue(measured)
    assert row.value == "+70.7%"
    assert row.baseline == "+14.8 points (95% CI +7.7 to +21.1), 590 checked in, 210 held out"
    assert row.target == "at least +25% bookings on the held-out patients'"
    assert (row.status, row.status_label) == ("met", "Met")
