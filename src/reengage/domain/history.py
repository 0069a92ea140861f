"""A patient's records as the rules see them: plain immutable values, no ORM.

Every question here is asked "as of" an instant: the contract counts only events whose
timestamps are at or before it, and an appointment exists only from its ``booked_at``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Appointment:
    id: str
    starts_at: datetime
    status: str
    booked_at: datetime | None = None

    def exists_at(self, as_of: datetime) -> bool:
        """An appointment exists from its booking (always, when that is unknown)."""
        return self.booked_at is None or self.booked_at <= as_of


@dataclass(frozen=True, slots=True)
class Communication:
    id: str
    channel: str
    direction: str
    sent_at: datetime
    delivered_at: datetime | None = None
    opened_at: datetime | None = None
    responded_at: datetime | None = None
    connected_at: datetime | None = None
    failed_at: datetime | None = None

    @property
    def is_attempt(self) -> bool:
        """An outreach attempt is an outbound communication."""
        return self.direction == "outbound"

    def success_at(self, as_of: datetime) -> datetime | None:
        """When this attempt became a successful contact, if it had by as_of."""
        if not self.is_attempt:
            return None
        at = self.connected_at if self.channel == "phone" else self.responded_at
        return at if at is not None and at <= as_of else None

    def failed_by(self, as_of: datetime) -> bool:
        return self.failed_at is not None and self.failed_at <= as_of

    def unconnected_call(self, as_of: datetime) -> bool:
        return self.channel == "phone" and self.is_attempt and self.success_at(as_of) is None


@dataclass(frozen=True, slots=True)
class Followup:
    id: str
    due_at: datetime
    completed_at: datetime | None = None

    def open_at(self, as_of: datetime) -> bool:
        """Not completed as of as_of."""
        return self.completed_at is None or self.completed_at > as_of


@dataclass(frozen=True, slots=True)
class PatientHistory:
    id: str
    status: str
    received_at: datetime
    registered_at: datetime | None = None
    has_phone: bool = False
    has_email: bool = False
    communication_preferences: tuple[str, ...] = ()
    opt_outs: tuple[str, ...] = ()
    appointments: tuple[Appointment, ...] = field(default_factory=tuple)
    communications: tuple[Communication, ...] = field(default_factory=tuple)
    followups: tuple[Followup, ...] = field(default_factory=tuple)

    def start(self) -> datetime:
        """``registered_at``, else the earliest timestamp of any record, else first receipt."""
        if self.registered_at is not None:
            return self.registered_at
        return min(self.timestamps(), default=self.received_at)

    def timestamps(self) -> Iterator[datetime]:
        for appt in self.appointments:
            yield appt.starts_at
            if appt.booked_at is not None:
                yield appt.booked_at
        for comm in self.communications:
            for at in (
                comm.sent_at,
                comm.delivered_at,
                comm.opened_at,
                comm.responded_at,
                comm.connected_at,
                comm.failed_at,
            ):
                if at is not None:
                    yield at
        for followup in self.followups:
            yield followup.due_at
            if followup.completed_at is not None:
                yield followup.completed_at

    def contact_times(self, as_of: datetime) -> Iterator[datetime]:
        """Every instant, up to as_of, that counts as contact with the patient."""
        for appt in self.appointments:
            if not appt.exists_at(as_of):
                continue
            if appt.booked_at is not None:
                yield appt.booked_at
            if appt.status == "completed" and appt.starts_at <= as_of:
                yield appt.starts_at
        for comm in self.communications:
            if comm.direction == "inbound":
                if comm.sent_at <= as_of:
                    yield comm.sent_at
            else:
                success = comm.success_at(as_of)
                if success is not None:
                    yield success

    def attempts(self, as_of: datetime) -> list[Communication]:
        """Outreach attempts sent by as_of."""
        return [c for c in self.communications if c.is_attempt and c.sent_at <= as_of]
