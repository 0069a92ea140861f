"""A patient's tier at many instants, answered from their events sorted once.

``risk.tier_at`` reads the whole history for each instant it is asked about; building the
derived rows asks it for every change day of a spell walk and before every attempt, which
made that build quadratic in the length of a history (about 60 calls of a full scan per
patient at three years). Here each contact becomes visible at one instant and stays visible
for every later as_of, so "the latest contact as of t" is a running maximum looked up by
bisection. ``tests/domain/test_tier_timeline.py`` holds this equal to ``risk.tier_at``.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import UTC, date, datetime

from reengage.domain.calendar import local_date
from reengage.domain.history import PatientHistory
from reengage.domain.risk import tier_for_days
from reengage.domain.settings import OrgSettings

ALWAYS = datetime.min.replace(tzinfo=UTC)


class TierTimeline:
    """``tier_at`` and ``in_population`` of one history, for any number of instants."""

    def __init__(self, history: PatientHistory, settings: OrgSettings) -> None:
        self._settings = settings
        self._zone = settings.zone()
        self.start = history.start()
        self._active = history.status == "active"
        # (visible from, contact instant): as ``PatientHistory.contact_times`` yields them.
        contacts: list[tuple[datetime, datetime]] = []
        for appt in history.appointments:
            if appt.booked_at is not None:
                contacts.append((appt.booked_at, appt.booked_at))
            if appt.status == "completed":
                seen = appt.starts_at
                if appt.booked_at is not None and appt.booked_at > seen:
                    seen = appt.booked_at
                contacts.append((seen, appt.starts_at))
        for comm in history.communications:
            if comm.direction == "inbound":
                contacts.append((comm.sent_at, comm.sent_at))
            elif comm.is_attempt:
                at = comm.connected_at if comm.channel == "phone" else comm.responded_at
                if at is not None:
                    contacts.append((at, at))
        contacts.sort()
        self._visible = [seen for seen, _ in contacts]
        self._latest_day: list[date] = []
        latest: datetime | None = None
        for _, at in contacts:
            if latest is None or at > latest:
                latest = at
            self._latest_day.append(local_date(latest, self._zone))
        self._start_day = local_date(self.start, self._zone)
        # A non-cancelled appointment makes its patient booked from its booking (always,
        # when that is unknown) until it starts: merged into disjoint [from, until) runs.
        runs: list[list[datetime]] = []
        for booked, starts in sorted(
            (appt.booked_at or ALWAYS, appt.starts_at)
            for appt in history.appointments
            if appt.status != "cancelled"
        ):
            if booked >= starts:
                continue
            if runs and booked <= runs[-1][1]:
                runs[-1][1] = max(runs[-1][1], starts)
            else:
                runs.append([booked, starts])
        self._booked_from = [r[0] for r in runs]
        self._booked_until = [r[1] for r in runs]

    def in_population(self, at: datetime) -> bool:
        return self._active and self.start <= at

    def booked_at(self, at: datetime) -> bool:
        run = bisect_right(self._booked_from, at) - 1
        return run >= 0 and at < self._booked_until[run]

    def tier_at(self, at: datetime, day: date | None = None) -> str:
        """``day``: ``at``'s local date, when the caller knows it."""
        # In UTC, like the records: datetimes of one tzinfo compare without working out
        # offsets, and each bisection compares a dozen times.
        at = at.astimezone(UTC)
        if self._settings.booked_patients_are_engaged and self.booked_at(at):
            return "engaged"
        seen = bisect_right(self._visible, at)
        contact_day = self._latest_day[seen - 1] if seen else self._start_day
        days = ((day or local_date(at, self._zone)) - contact_day).days
        return tier_for_days(days, self._settings.tier_thresholds)
