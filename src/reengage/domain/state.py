"""A patient's history boiled down to the few values the risk rules need, so that the
rules can be evaluated for a whole org in one SQL statement.

The summary answers exactly as the history would for any ``as_of`` at or after its
``horizon_at``: the latest instant at which something the rules look at happened (a contact,
a booking, a missed or completed visit, an attempt, a failure, a completed follow-up, the
patient's start). Before the horizon, the full history must be asked instead. Day values are
proleptic ordinals (``date.toordinal()``) of calendar days in the org's timezone, so SQL
does day arithmetic with integers on any database.

It also keeps what a page of the prioritized list shows of the whole history (visits
completed, attempts made, when responses came, where the latest attempts begin), so that a
page reads a few values per patient instead of records in proportion to their history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from reengage.domain.calendar import local_date
from reengage.domain.history import PatientHistory
from reengage.domain.outreach import HISTORY_LENGTH, count_parts_of_day
from reengage.domain.risk import MISSED_STATUSES, MISSED_TRACKED

HAPPENED_STATUSES = frozenset({"completed"}) | MISSED_STATUSES
# An instant after every record: the history seen whole.
AFTER_ALL = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True)
class PatientState:
    patient_id: str
    status: str
    start_at: datetime
    horizon_at: datetime
    last_contact_at: datetime | None  # latest contact event; None when there is none
    contact_day: int  # day of the last contact, or of the start without one
    future_until: datetime | None  # latest start of a non-cancelled appointment
    missed_days: tuple[int, ...]  # days of the latest missed visits, newest first
    failed_sent_at: datetime | None  # send time of the latest failed attempt
    failed_day: int | None
    last_attempt_day: int | None
    followup_due_at: datetime | None  # earliest due time of an open follow-up
    followup_due_day: int | None
    # What the list shows of the whole history (see the module's docstring).
    completed: int  # completed visits
    last_completed_at: datetime | None
    attempts: int  # outreach attempts sent
    successes: tuple[int, ...]  # attempts that succeeded, by part of day (``PARTS_OF_DAY``)
    # The send time of the HISTORY_LENGTH-th latest attempt (of the earliest, with fewer):
    # the attempts sent at or after it hold the latest HISTORY_LENGTH.
    recent_from: datetime | None


def summarize(history: PatientHistory, zone: ZoneInfo) -> PatientState:
    def day(at: datetime) -> int:
        return local_date(at, zone).toordinal()

    start = history.start()
    moments: list[datetime] = [start]
    future_until: datetime | None = None
    missed: list[datetime] = []
    completed: list[datetime] = []
    for appt in history.appointments:
        if appt.booked_at is not None:
            moments.append(appt.booked_at)
        if appt.status in HAPPENED_STATUSES:
            moments.append(appt.starts_at)
        if appt.status == "completed":
            completed.append(appt.starts_at)
        if appt.status in MISSED_STATUSES:
            missed.append(appt.starts_at)
        if appt.status != "cancelled" and (future_until is None or appt.starts_at > future_until):
            future_until = appt.starts_at
    # Contact, success and failure as the rules define them (``PatientHistory``), seen from
    # after every record: the state answers for any as_of at or after its horizon.
    contacts = list(history.contact_times(AFTER_ALL))
    sent = history.attempts(AFTER_ALL)
    attempts = [c.sent_at for c in sent]
    successes = [t for c in sent if (t := c.success_at(AFTER_ALL)) is not None]
    failed = [c.sent_at for c in sent if c.failed_by(AFTER_ALL) or c.unconnected_call(AFTER_ALL)]
    moments += successes
    for comm in history.communications:
        moments.append(comm.sent_at)
        if comm.is_attempt and comm.failed_at is not None:
            moments.append(comm.failed_at)
    open_due: list[datetime] = []
    for followup in history.followups:
        if followup.completed_at is None:
            open_due.append(followup.due_at)
        else:
            moments.append(followup.completed_at)
    last_contact = max(contacts, default=None)
    failed_sent = max(failed, default=None)
    due = min(open_due, default=None)
    latest_sent = sorted(attempts, reverse=True)[:HISTORY_LENGTH]
    return PatientState(
        patient_id=history.id,
        status=history.status,
        start_at=start,
        horizon_at=max(moments),
        last_contact_at=last_contact,
        contact_day=day(last_contact if last_contact is not None else start),
        future_until=future_until,
        missed_days=tuple(sorted((day(m) for m in missed), reverse=True)[:MISSED_TRACKED]),
        failed_sent_at=failed_sent,
        failed_day=day(failed_sent) if failed_sent is not None else None,
        last_attempt_day=day(max(attempts)) if attempts else None,
        followup_due_at=due,
        followup_due_day=day(due) if due is not None else None,
        completed=len(completed),
        last_completed_at=max(completed, default=None),
        attempts=len(attempts),
        successes=count_parts_of_day(successes, zone),
        recent_from=latest_sent[-1] if latest_sent else None,
    )
