"""Shaping service results for the templates: labels, colours, chart series, the call
list's query. Presentation only: every number comes from the risk and outreach services."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup, escape
from starlette.responses import Response

from reengage.dashboard.charts import Series, bar_chart, line_chart
from reengage.domain import risk
from reengage.domain.settings import OrgSettings
from reengage.domain.standing import AT_RISK_LEVEL
from reengage.outreach.schemas import Kpis, Performance, Trends
from reengage.risk.schemas import Alerts, RiskSummary

TIER_LABELS = {
    "critical": "Critical",
    "high": "High",
    "medium": "Medium",
    "low": "Low",
    "engaged": "Engaged",
}
# What each tier calls for (the seed's meanings); the days come from the org's settings.
TIER_ACTIONS = {
    "critical": "immediate phone call",
    "high": "SMS and follow-up",
    "medium": "automated check-in",
    "low": "routine monitoring",
    "engaged": "recent contact",
}
ACTION_LABELS = {
    "immediate_phone_call": "Immediate phone call",
    "reschedule_missed_appointment": "Reschedule missed appointment",
    "sms_with_followup_call": "SMS, then follow up",
    "try_alternate_channel": "Try another channel",
    "complete_overdue_followup": "Complete overdue follow-up",
    "automated_checkin": "Automated check-in",
    "routine_monitoring": "Routine monitoring",
    "book_next_appointment": "Book next appointment",
    "none": "None",
}
# An action names its natural channel (``risk.NATURAL_CHANNEL``); when the patient cannot be
# reached there, the action is said on the channel they can be.
CHANNEL_NOUNS = {"sms": "SMS", "email": "email", "phone": "phone call"}
ON_ANOTHER_CHANNEL = {
    "immediate_phone_call": "Immediate {noun} (a call is not possible)",
    "reschedule_missed_appointment": "Reschedule the missed appointment by {noun}",
    "complete_overdue_followup": "Complete the overdue follow-up by {noun}",
    "sms_with_followup_call": "{Noun}, then follow up",
    "automated_checkin": "Check in by {noun}",
    "book_next_appointment": "Book the next appointment by {noun}",
    "try_alternate_channel": "Try another channel: {noun}",
}
UNREACHABLE = "{label}: no channel left to reach them (opted out or no contact details)"
FLAG_LABELS = {
    risk.MISSED_APPT: "Missed appointment",
    risk.FAILED_CONTACT: "Failed contact",
    risk.OVERDUE_FOLLOWUP: "Overdue follow-up",
    risk.NO_FUTURE_APPT: "No future appointment",
}
ALERT_FLAGS = {
    "missed_appointments_14d": (risk.MISSED_APPT, "Missed appointments (last 14 days)"),
    "failed_communications": (risk.FAILED_CONTACT, "Failed communications"),
    "overdue_followups": (risk.OVERDUE_FOLLOWUP, "Overdue follow-ups"),
    "no_future_appointments": (risk.NO_FUTURE_APPT, "No future appointment"),
}
CHANNEL_LABELS = {"sms": "SMS", "email": "Email", "phone": "Phone"}
PRIORITY_LABELS = {
    "1": "1: act today (critical, missed visit)",
    "2": "2: act today (high, failed contact, overdue follow-up)",
    "3": "3: check in (medium)",
    "4": "4: monitor, book next visit",
    "5": "5: nothing to do now",
}
SORT_LABELS = {
    "risk_score": "Risk score (highest first)",
    "days_since_contact": "Days since contact (most first)",
    "next_action_date": "Next action date (soonest first)",
}
TIMEFRAME_LABELS = {"last_7_days": "7 days", "last_30_days": "30 days", "last_90_days": "90 days"}
PERIOD_LABELS = {
    "7d": "7 days",
    "30d": "30 days",
    "90d": "90 days",
    "6m": "6 months",
    "1y": "1 year",
}
TREND_ARROWS = {
    "up": "▲",
    "down": "▼",
    "flat": "▶",
    "improving": "▲",
    "declining": "▼",
    "stable": "▶",
    "increasing": "▲",
    "decreasing": "▼",
}
PAGE_SIZES = (25, 50, 100)
EMPTY = "\u2013"  # shown for a missing value


def protect(response: Response) -> None:
    """Pages hold patient data: never cached, never framed, nothing loaded from elsewhere."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"


def safe_next(target: str | None) -> str:
    """A local path to go to after an action: never another site (``//evil``, ``https:``)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


# --- the overview ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TierRow:
    tier: str
    label: str
    meaning: str
    count: int
    share: float  # percent of the population, for the bar


def tier_meaning(tier: str, settings: OrgSettings) -> str:
    """``"45+ days: immediate phone call"``, from the org's own thresholds."""
    first, last = risk.tier_days(tier, settings.tier_thresholds)
    days = f"{first}+ days" if last is None else f"{first} to {last} days"
    if tier == "engaged" and settings.booked_patients_are_engaged:
        return f"{days} or booked: {TIER_ACTIONS[tier]}"
    return f"{days}: {TIER_ACTIONS[tier]}"


def tier_rows(summary: RiskSummary, settings: OrgSettings) -> list[TierRow]:
    counts = {tier: summary.count(tier) for tier in risk.TIERS}
    total = sum(counts.values())
    return [
        TierRow(
            tier,
            TIER_LABELS[tier],
            tier_meaning(tier, settings),
            counts[tier],
            100 * counts[tier] / total if total else 0.0,
        )
        for tier in risk.TIERS
    ]


def tier_bar(rows: list[TierRow]) -> Markup:
    """The population as one stacked bar, each tier labelled by name as well as colour."""
    total = sum(r.count for r in rows)
    label = ", ".join(f"{r.label} {r.count:,}" for r in rows)
    parts = [
        '<svg class="tier-bar" viewBox="0 0 1000 48" width="100%" height="48" '
        'preserveAspectRatio="none" role="img" '
        f'aria-label="Patients by risk tier: {escape(label)}">'
    ]
    x = 0.0
    for row in rows:
        if not row.count:
            continue
        width = 1000 * row.count / total
        parts.append(
            f'<rect class="tier-{row.tier}" x="{x:.2f}" y="0" width="{width:.2f}" height="48">'
            f"<title>{escape(row.label)}: {row.count:,} ({row.share:.1f}%)</title></rect>"
        )
        x += width
    if not total:
        parts.append('<rect class="tier-empty" x="0" y="0" width="1000" height="48"/>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  (labels escaped above; the rest numbers)


@dataclass(frozen=True)
class AlertRow:
    name: str
    flag: str
    label: str
    count: int
    href: str


def alert_rows(alerts: Alerts) -> list[AlertRow]:
    counts = alerts.model_dump()
    return [
        AlertRow(
            name, flag, label, counts[name], "/patients?" + urlencode({"action_required": flag})
        )
        for name, (flag, label) in ALERT_FLAGS.items()
    ]


@dataclass(frozen=True)
class KpiRow:
    name: str
    label: str
    measures: str
    value: str
    baseline: str
    target: str
    status: str  # met, not_met, no_data
    status_label: str


STATUS_LABELS = {"met": "Met", "not_met": "Not met", "no_data": "Not enough data yet"}


def _days(value: float | None) -> str:
    return EMPTY if value is None else f"{value:,.1f} days"


def _change(value: float | None, less: str, more: str) -> str:
    """A relative change in words: "60.0% shorter", "12.5% more"."""
    if value is None:
        return ""
    return f"{abs(value):,.1f}% {less if value < 0 else more}"


def _compared(text: str, change: float | None, less: str, more: str, unit: str = "") -> str:
    if change is None:
        return text
    if change == 0:
        return f"{text}: no change{unit}"
    return f"{text}: {_change(change, less, more)}{unit} (relative)"


def _revenue_row(result: Kpis, base: str) -> tuple[Any, ...]:
    b, u = result.kpis.revenue_impact, result.checkin_uplift
    if result.revenue_impact_source == "holdout" and u is not None:
        effect = "no rate to compare with" if u.relative_pct is None else f"{u.relative_pct:+.1f}%"
        return (
            "revenue_impact",
            "Revenue impact",
            "Bookings the check-ins added: checked-in patients against those held out",
            effect,
            f"{u.difference_points:+.1f} points (95% CI {u.ci95_low:+.1f} to "
            f"{u.ci95_high:+.1f}), {_number(u.messaged_patients)} checked in, "
            f"{_number(u.holdout_patients)} held out",
            f"at least {b.target:+g}% bookings on the held-out patients'",
            b.met,
        )
    booked_before = None if b.baseline is None else int(b.baseline)
    return (
        "revenue_impact",
        "Revenue impact",
        "Appointments booked after a successful outreach contact",
        _number(int(b.value or 0)),
        _compared(f"{_number(booked_before)} in {base}", b.change_pct, "fewer", "more", " per day"),
        f"at least {b.target:+g}% per day on the baseline",
        b.met,
    )


def kpi_rows(result: Kpis) -> list[KpiRow]:
    """The seed's four success metrics as the overview's panel shows them."""
    k = result.kpis
    base = "the baseline"
    if result.baseline is not None:
        base = f"{day_text(result.baseline.start)} to {day_text(result.baseline.end)}"
    e, r, p = k.staff_efficiency, k.reengagement_rate, k.patient_retention
    rows = [
        (
            "staff_efficiency",
            "Staff efficiency",
            "Median days from a patient turning at risk to the first outreach attempt",
            _days(e.value),
            _compared(f"{_days(e.baseline)} in {base}", e.change_pct, "shorter", "longer"),
            f"at least {e.target:g}% shorter than the baseline",
            e.met,
        ),
        (
            "reengagement_rate",
            "Reengagement rate",
            "Successful contacts that led to a booking (contact \u2192 appointment)",
            _percent(r.value),
            f"{_percent(r.baseline)} in {base}",
            f"above {r.target:g}%",
            r.met,
        ),
        (
            "patient_retention",
            "Patient retention",
            "Critical-risk patients, as a share of the active patients, now",
            _percent(p.value),
            f"of {p.sample:,} active patients",
            f"below {p.target:g}%",
            p.met,
        ),
        _revenue_row(result, base),
    ]
    out = []
    for name, label, measures, value, baseline, target, met in rows:
        status = "no_data" if met is None else "met" if met else "not_met"
        out.append(
            KpiRow(name, label, measures, value, baseline, target, status, STATUS_LABELS[status])
        )
    return out


# --- the call list --------------------------------------------------------------------------


@dataclass
class ListQuery:
    """The call list's filters, sort and page, read leniently from the address bar: an
    unknown value is reported on the page rather than silently ignored."""

    risk_level: str = "all"
    action_required: str | None = None
    action_priority: int | None = None
    target: str | None = None
    sort_by: str = "risk_score"
    limit: int = 50
    offset: int = 0
    errors: list[str] = field(default_factory=list)

    @staticmethod
    def parse(params: Mapping[str, str]) -> ListQuery:
        q = ListQuery()
        level = params.get("risk_level") or "all"
        if level in (*risk.TIERS, AT_RISK_LEVEL, "all"):
            q.risk_level = level
        else:
            q.errors.append(f"Unknown risk level '{level}'.")
        action = params.get("action_required") or None
        if action is None or action in risk.FLAGS:
            q.action_required = action
        else:
            q.errors.append(f"Unknown action filter '{action}'.")
        priority = params.get("action_priority") or None
        if priority is None or priority in PRIORITY_LABELS:
            q.action_priority = int(priority) if priority else None
        else:
            q.errors.append(f"Unknown action priority '{priority}': choose 1 to 5.")
        target = params.get("target") or None
        if target is None or target == "this_week":
            q.target = target
        else:
            q.errors.append(f"Unknown target '{target}': the one target is this_week.")
        sort_by = params.get("sort_by") or "risk_score"
        if sort_by in SORT_LABELS:
            q.sort_by = sort_by
        else:
            q.errors.append(f"Unknown sort '{sort_by}'.")
        for name, low, high in (("limit", 1, 500), ("offset", 0, 1_000_000_000)):
            raw = params.get(name)
            if raw is None or raw == "":
                continue
            if not raw.isdigit() or not low <= int(raw) <= high:
                q.errors.append(f"'{name}' must be a whole number from {low} to {high:,}.")
            else:
                setattr(q, name, int(raw))
        return q

    def url(self, **changes: Any) -> str:
        values: dict[str, Any] = {
            "risk_level": self.risk_level,
            "action_required": self.action_required,
            "action_priority": self.action_priority,
            "target": self.target,
            "sort_by": self.sort_by,
            "limit": self.limit,
            "offset": self.offset,
        } | changes
        defaults = {"risk_level": "all", "sort_by": "risk_score", "limit": 50, "offset": 0}
        kept = {k: v for k, v in values.items() if v is not None and defaults.get(k) != v}
        return "/patients" + (f"?{urlencode(kept)}" if kept else "")


# --- performance and trends -----------------------------------------------------------------


@dataclass(frozen=True)
class FunnelStep:
    label: str  # what is counted, in the channel's own words
    count: int


@dataclass(frozen=True)
class ChannelFunnel:
    """One channel's funnel, each step and its rate named for what they measure: an SMS's
    reply rate and a call's booking rate are different things and never share a column."""

    channel: str
    label: str
    steps: list[FunnelStep]
    rate_label: str
    rate: float | None
    chart: Markup


def channel_funnels(result: Performance) -> list[ChannelFunnel]:
    c = result.communication_channels
    found = [
        (
            "sms",
            [("Sent", c.sms.sent), ("Delivered", c.sms.delivered), ("Replied", c.sms.responded)],
            "Reply rate (replied \u00f7 delivered)",
            c.sms.response_rate,
        ),
        (
            "email",
            [("Sent", c.email.sent), ("Opened", c.email.opened), ("Replied", c.email.responded)],
            "Reply rate (replied \u00f7 opened)",
            c.email.response_rate,
        ),
        (
            "phone",
            [
                ("Called", c.phone.attempted),
                ("Connected", c.phone.connected),
                ("Booked", c.phone.appointment_booked),
            ],
            "Booking rate (booked \u00f7 connected)",
            c.phone.conversion_rate,
        ),
    ]
    classes = {"sms": "series-a", "email": "series-b", "phone": "series-c"}
    out = []
    for channel, steps, rate_label, value in found:
        label = CHANNEL_LABELS[channel]
        chart = bar_chart(
            f"{label}: {', '.join(name.lower() for name, _ in steps)}",
            [name for name, _ in steps],
            [Series(label, [n for _, n in steps], classes[channel])],
            chart_id=f"funnel-{channel}",
            y_label="attempts",
        )
        out.append(
            ChannelFunnel(
                channel,
                label,
                [FunnelStep(name, n) for name, n in steps],
                rate_label,
                value,
                chart,
            )
        )
    return out


# Periods whose charts show weeks: 182 or 365 daily points are a smear, 26 or 53 weeks read.
WEEKLY_PERIODS = ("6m", "1y")
DAILY_FIELDS = (
    "new_at_risk",
    "reengaged_successfully",
    "outreach_attempts",
    "appointments_scheduled",
)


@dataclass(frozen=True)
class ChartPoint:
    label: str
    values: dict[str, int]


def trend_points(result: Trends) -> list[ChartPoint]:
    """The charts' points: each day, or for the long periods each calendar week (Monday to
    Sunday, the first and last cut to the period), labelled by its first day."""
    rows = result.daily_trends or []
    if result.period not in WEEKLY_PERIODS:
        return [
            ChartPoint(f"{r.date:%d %b}", {f: getattr(r, f) or 0 for f in DAILY_FIELDS})
            for r in rows
        ]
    weeks: list[list[Any]] = []
    for r in rows:
        if not weeks or r.date.weekday() == 0:
            weeks.append([])
        weeks[-1].append(r)
    points = []
    for week in weeks:
        label = f"{week[0].date:%d %b}"  # short: 53 of them share the axis
        totals = {f: sum(getattr(r, f) or 0 for r in week) for f in DAILY_FIELDS}
        points.append(ChartPoint(label, totals))
    return points


def trend_charts(result: Trends) -> list[Markup]:
    points = trend_points(result)
    unit = "week" if result.period in WEEKLY_PERIODS else "day"
    labels = [p.label for p in points]

    def series(name: str, field_name: str, css: str) -> Series:
        return Series(name, [p.values[field_name] for p in points], css)

    return [
        line_chart(
            f"Patients moving into and out of risk, per {unit}",
            labels,
            [
                series("New at risk", "new_at_risk", "series-a"),
                series("Reengaged", "reengaged_successfully", "series-b"),
            ],
            chart_id="risk-movement",
            y_label="patients",
        ),
        line_chart(
            f"Outreach attempts and appointments scheduled, per {unit}",
            labels,
            [
                series("Outreach attempts", "outreach_attempts", "series-c"),
                series("Appointments scheduled", "appointments_scheduled", "series-d"),
            ],
            chart_id="outreach-daily",
            y_label=f"per {unit}",
        ),
    ]


CHANNEL_MEASURES = {
    "sms": "replied \u00f7 delivered",
    "email": "replied \u00f7 opened",
    "phone": "connected \u00f7 called",
}


@dataclass(frozen=True)
class ChannelRow:
    channel: str
    label: str
    measure: str
    current_rate: float | None
    previous_rate: float | None
    change_pct: float | None
    trend: str | None
    arrow: str


def channel_rows(result: Trends) -> list[ChannelRow]:
    out = []
    trends = result.channel_performance_trends
    for channel in CHANNEL_LABELS if trends is not None else ():
        t = getattr(trends, channel)
        out.append(
            ChannelRow(
                channel,
                CHANNEL_LABELS[channel],
                CHANNEL_MEASURES[channel],
                t.current_rate,
                t.previous_rate,
                t.change_pct,
                t.success_rate_trend,
                TREND_ARROWS.get(t.success_rate_trend or "", EMPTY),
            )
        )
    return out


# --- template filters -----------------------------------------------------------------------


def action_text(action: str, channel: str | None) -> str:
    """The recommended action as staff read it, on the recommended channel: never "phone
    call" for a patient who is to be sent an SMS (opted out of calls, or no number)."""
    label = ACTION_LABELS.get(action, action)
    if action in risk.NO_CHANNEL_ACTIONS:
        return label
    if channel is None:
        return UNREACHABLE.format(label=label)
    if risk.NATURAL_CHANNEL.get(action) == channel:
        return label
    noun = CHANNEL_NOUNS[channel]
    return ON_ANOTHER_CHANNEL[action].format(noun=noun, Noun=noun[0].upper() + noun[1:])


def act_by(day: date | None, today: date, since: bool = False) -> str:
    """When to act, said once: "today", "overdue 3 days", a date; ``since``: with the date
    it was due ("overdue 3 days (since Fri 27 Nov 2026)")."""
    if day is None:
        return EMPTY
    if day == today:
        return "today"
    if day < today:
        late = (today - day).days
        due = f" (since {day_text(day)})" if since else ""
        return f"overdue {late} day{'s' if late != 1 else ''}{due}"
    return day_text(day)


def _number(value: float | int | None) -> str:
    if value is None:
        return EMPTY
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.1f}"


def _percent(value: float | None) -> str:
    return EMPTY if value is None else f"{value:.1f}%"


def _signed(value: float | None) -> str:
    return EMPTY if value is None else f"{value:+.1f}"


def day_text(value: date | datetime | None) -> str:
    if value is None:
        return EMPTY
    return f"{value:%a %d %b %Y}"


def local_text(value: datetime | None, zone: tzinfo | None = None) -> str:
    if value is None:
        return EMPTY
    shown = value if zone is None else value.astimezone(zone)
    return f"{shown:%a %d %b %Y, %H:%M}"


FILTERS: dict[str, Any] = {
    "number": _number,
    "percent": _percent,
    "signed": _signed,
    "day": day_text,
    "local": local_text,
    "tier_label": lambda t: TIER_LABELS.get(t, t),
    "action_label": lambda a: ACTION_LABELS.get(a, a),
    "action_text": lambda entry: action_text(entry.recommended_action, entry.recommended_channel),
    "act_by": act_by,
    "flag_label": lambda f: FLAG_LABELS.get(f, f),
    "channel_label": lambda c: CHANNEL_LABELS.get(c, EMPTY) if c else EMPTY,
    "arrow": lambda t: TREND_ARROWS.get(t or "", EMPTY),
}

# The call list's choices, so the form offers exactly what ``ListQuery.parse`` accepts.
GLOBALS: dict[str, Any] = {
    "tier_names": risk.TIERS,
    "priority_labels": PRIORITY_LABELS,
    "flag_names": risk.FLAGS,
    "sort_labels": SORT_LABELS,
    "page_sizes": PAGE_SIZES,
}
