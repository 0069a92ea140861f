"""The daily digest: this morning's counts, by email, to the addresses the org configured.

Email is not a private channel (it crosses servers the clinic does not run, and sits in
inboxes on phones), so the digest holds counts and links, never a patient's name, contact
details or condition: whoever follows a link signs in to see who. The ids are left out
too: a count is what a morning needs, and the call list is one link away.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from reengage.alerts import repository
from reengage.alerts.events import pending_delivery
from reengage.domain import alerts as rules
from reengage.domain.calendar import local_date, start_of_day
from reengage.domain.scope import Scope
from reengage.orgs import service as orgs_service
from reengage.risk import service as risk_service


def compose(session: Session, org_id: str, now: datetime, base_url: str) -> dict[str, Any]:
    """The digest as of ``now``: subject, text and recipients (a delivery's payload)."""
    org = orgs_service.get_org(session, org_id)
    settings = orgs_service.get_settings(session, org_id)
    where = Scope(org_id, settings, now)
    tally = risk_service.population_tally(session, where)
    zone = settings.zone()
    today = local_date(now, zone)
    opened = rules.counts_by_rule(
        repository.opened_between(
            session, org_id, start_of_day(today - timedelta(days=1), zone), now
        )
    )
    still = repository.open_counts(session, org_id)
    open_by_rule = rules.counts_by_rule((rule, n) for rule, _, n in still)
    at_risk = sum(tally.tiers[t] for t in ("critical", "high", "medium"))
    base = base_url.rstrip("/")
    lines = [
        f"Good morning. This is reengage's summary for {org.name}, {today:%A %d %B %Y}.",
        "",
        f"Patients at risk: {at_risk} of {tally.total} active "
        f"(critical {tally.tiers['critical']}, high {tally.tiers['high']}, "
        f"medium {tally.tiers['medium']}).",
        f"Need action today (priority 1): {tally.priority_one}.",
        "",
        f"Open alerts: {sum(open_by_rule.values())} "
        f"(opened since yesterday morning: {sum(opened.values())}).",
    ]
    for rule in rules.RULES:
        if open_by_rule[rule.name] or opened[rule.name]:
            lines.append(
                f"  - {rule.title}: {open_by_rule[rule.name]} open, {opened[rule.name]} new"
            )
    lines += [
        "",
        f"Today's call list:  {base}/patients",
        f"The alert inbox:    {base}/alerts",
        "",
        "This email holds counts only, never patient names or details: email is not a",
        "private channel. Sign in to the dashboard to see who.",
        f"Sent by reengage for {org.name}; change the recipients or the time in the org's",
        "settings (digest).",
    ]
    return {
        "subject": f"reengage: {at_risk} at risk, {tally.priority_one} to act on today "
        f"({today:%d %b})",
        "text": "\n".join(lines) + "\n",
        "recipients": list(settings.digest.recipients),
        "counts": {
            "at_risk": at_risk,
            "active": tally.total,
            "tiers": dict(tally.tiers),
            "priority_one": tally.priority_one,
            "open_alerts": open_by_rule,
            "new_alerts": opened,
        },
    }


def enqueue(session: Session, org_id: str, now: datetime, base_url: str) -> str | None:
    """Put today's digest in the outbox, if the org wants one; returns its delivery id."""
    settings = orgs_service.get_settings(session, org_id)
    if not settings.digest.enabled or not settings.digest.recipients:
        return None
    payload = compose(session, org_id, now, base_url)
    row = pending_delivery(org_id, "email", "digest", "digest", payload, now)
    repository.add_deliveries(session, [row])
    return str(row["id"])
