"""Every attempt's outcome for one patient, from their events sorted once.

``outreach.followed_by_contact`` scans all of a patient's contacts for one attempt, and
``outreach.conversion`` all of their attempts and appointments: asked for every attempt, as
building the derived rows does, that is quadratic in the length of a history. Here contacts,
success times and bookings are sorted once and each question is a bisection.
``tests/domain/test_outreach_index.py`` holds this equal to those two functions.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from reengage.domain.calendar import local_date
from reengage.domain.history import Communication, PatientHistory


class OutreachIndex:
    """``followed_by_contact`` and the booking ``conversion`` finds, for any attempt of one
    history, as of one instant."""

    def __init__(
        self, history: PatientHistory, as_of: datetime, window_days: int, zone: ZoneInfo
    ) -> None:
        self.as_of = as_of
        self.window = timedelta(days=window_days)
        self.zone = zone
        self.attempts = history.attempts(as_of)
        self._contacts = sorted(history.contact_times(as_of))
        # (success time, attempt id): the order in which "the next success" is taken.
        self._successes = sorted(
            (at, c.id) for c in self.attempts if (at := c.success_at(as_of)) is not None
        )
        bookings = sorted(
            (a.booked_at, a.id)
            for a in history.appointments
            if a.booked_at is not None and a.booked_at <= as_of
        )
        self._booked_at = [at for at, _ in bookings]

    def contacted(self, attempt: Communication) -> bool:
        """A contact at or after ``sent_at``, within the window and by as_of."""
        until = min(attempt.sent_at + self.window, self.as_of)
        first = bisect_left(self._contacts, attempt.sent_at)
        return first < len(self._contacts) and self._contacts[first] <= until

    def converted_at(self, attempt: Communication) -> datetime | None:
        """``booked_at`` of the booking the attempt's successful contact converted into: the
        first booking after the success, if it is on or before the window's last day and
        before the patient's next success (both bounds only exclude later bookings, so
        the first booking decides)."""
        success = attempt.success_at(self.as_of)
        if success is None:
            return None
        later = bisect_right(self._successes, (success, attempt.id))
        first = bisect_right(self._booked_at, success)
        if first == len(self._booked_at):
            return None
        booked = self._booked_at[first]
        if later < len(self._successes) and booked >= self._successes[later][0]:
            return None
        last_day = local_date(success, self.zone) + self.window
        return booked if local_date(booked, self.zone) <= last_day else None
