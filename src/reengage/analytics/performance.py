"""``/performance``: outreach outcomes over the last 7, 30 or 90 days.

The settled patients' share from the roll-ups or the rows (``rollups.counts_for``), the
others' from their histories; ``reengage.reference`` computes it all from histories, and
the tests hold the two equal.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from reengage.analytics.schemas import (
    BenchmarkComparison,
    CommunicationChannels,
    EmailFunnel,
    Performance,
    PhoneFunnel,
    ReengagementMetrics,
    SmsFunnel,
)
from reengage.derived import rollups
from reengage.derived.freshness import Freshness
from reengage.domain import performance as domain
from reengage.domain.scope import Scope


def performance(session: Session, where: Scope, timeframe: str) -> Performance:
    days = domain.TIMEFRAMES[timeframe]
    first_day, last_day = domain.window_dates(where.as_of, where.settings, days)
    fresh = Freshness(session, where)
    derived, rest = rollups.counts_for(fresh)
    counts = derived.funnels(first_day, last_day)
    counts.add(domain.outreach_counts(rest, where.as_of, where.settings, days))
    total, spells = derived.reengagement_days(first_day, last_day)
    for history in rest:
        found = domain.reengagement_days(history, where.as_of, where.settings, days)
        total, spells = total + sum(found), spells + len(found)
    return shape(where, timeframe, first_day, last_day, counts, total, spells)


def shape(
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
        last_updated=where.shown(),
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
