"""``/performance``: outreach outcomes over the last 7, 30 or 90 days.

From the derived rows' daily roll-ups where they answer, else from the derived rows
(``attempt_outcomes``, ``risk_spans``) for the patients they answer for at as_of and from
the histories of the others; ``reference_performance`` computes it
all from histories, and the tests hold the two equal.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from reengage.analytics import queries, rollups
from reengage.analytics.schemas import (
    BenchmarkComparison,
    CommunicationChannels,
    EmailFunnel,
    Performance,
    PhoneFunnel,
    ReengagementMetrics,
    SmsFunnel,
)
from reengage.analytics.service import Scope, shown
from reengage.domain import performance as domain
from reengage.domain.calendar import start_of_day


def performance(session: Session, where: Scope, timeframe: str) -> Performance:
    days = domain.TIMEFRAMES[timeframe]
    first_day, last_day = domain.window_dates(where.as_of, where.settings, days)
    derived, rest_ids = rollups.counts_for(session, where.org_id, where.settings, where.as_of)
    rest = [h for _, h in queries.load_histories(session, where.org_id, rest_ids)]
    counts = derived.funnels(first_day, last_day)
    counts.add(domain.outreach_counts(rest, where.as_of, where.settings, days))
    total, spells = derived.reengagement_days(first_day, last_day)
    for history in rest:
        found = domain.reengagement_days(history, where.as_of, where.settings, days)
        total, spells = total + sum(found), spells + len(found)
    return _shape(where, timeframe, first_day, last_day, counts, total, spells)


def reference_performance(session: Session, where: Scope, timeframe: str) -> Performance:
    """Straight from histories: those with an attempt in the window, and the active
    patients (for the days to reengage)."""
    days = domain.TIMEFRAMES[timeframe]
    first_day, last_day = domain.window_dates(where.as_of, where.settings, days)
    since = start_of_day(first_day, where.settings.zone())
    ids = queries.patients_with_attempts_between(session, where.org_id, since, where.as_of)
    histories = [h for _, h in queries.load_histories(session, where.org_id, ids)]
    counts = domain.outreach_counts(histories, where.as_of, where.settings, days)
    active = [
        h
        for _, h in queries.load_histories(
            session, where.org_id, queries.active_patient_ids(session, where.org_id)
        )
    ]
    reengaged = [
        n for h in active for n in domain.reengagement_days(h, where.as_of, where.settings, days)
    ]
    return _shape(where, timeframe, first_day, last_day, counts, sum(reengaged), len(reengaged))


def _shape(
    where: Scope,
    timeframe: str,
    first_day: date,
    last_day: date,
    counts: domain.OutreachCounts,
    reengage_days: int,
    reengaged_spells: int,
) -> Performance:
    r = domain.rates(counts)
    c = counts.channels
    b = where.settings.benchmarks
    return Performance(
        organization_id=where.org_id,
        last_updated=shown(where),
        timeframe=timeframe,
        period_start=first_day,
        period_end=last_day,
        reengagement_metrics=ReengagementMetrics(
            outreach_attempts=counts.attempts,
            successful_contacts=counts.successes,
            contact_success_rate=r.contact_success_rate,
            appointments_scheduled=counts.conversions,
            conversion_rate=r.conversion_rate,
            avg_days_to_reengage=domain.average_days(reengage_days, reengaged_spells),
        ),
        communication_channels=CommunicationChannels(
            sms=SmsFunnel(
                sent=c["sms"].sent,
                delivered=c["sms"].delivered,
                responded=c["sms"].responded,
                response_rate=r.sms_response_rate,
            ),
            email=EmailFunnel(
                sent=c["email"].sent,
                opened=c["email"].opened,
                responded=c["email"].responded,
                response_rate=r.email_response_rate,
            ),
            phone=PhoneFunnel(
                attempted=c["phone"].sent,
                connected=c["phone"].connected,
                appointment_booked=c["phone"].converted,
                conversion_rate=r.phone_conversion_rate,
            ),
        ),
        benchmark_comparison=BenchmarkComparison(
            industry_avg_contact_rate=b.industry_avg_contact_rate,
            industry_avg_conversion=b.industry_avg_conversion,
            our_performance=domain.our_performance(
                r.contact_success_rate, r.conversion_rate, where.settings
            ),
        ),
    )
