"""Eighteen months of a generated physiotherapy clinic, as rows ready for the database.

Nothing here touches a database or the clock: the same ``(seed, patients, as_of, timezone)``
always yields the same rows, so a demo, a test and a benchmark can be reproduced exactly.

Each patient's history is simulated forwards in time rather than sampled per table, so the
records tell one consistent story: a course of weekly-ish sessions booked at the front desk,
missed and cancelled visits, a patient drifting away, the clinic's SMS, email or phone
outreach some weeks later, a reply, and a booking made within days of it. The rates are set
near those published for the field (no-shows about 10%, SMS replies about half of those
delivered, email replies and phone connects about a quarter to a third), so the analytics
show figures a clinic would recognise.

Every row holds exactly the columns of its model (``org_id``, ``received_at`` and
``updated_at`` included) with timezone-aware UTC datetimes, and obeys the contract's record
rules. Nothing happens after ``as_of`` except future appointments, booked before it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

Row = dict[str, Any]


def _words(text: str) -> tuple[str, ...]:
    """A comma-separated list kept readable in source (names may hold spaces)."""
    return tuple(word.strip() for word in text.split(",") if word.strip())


# About eighteen months of history before as_of, and room for bookings after it.
HISTORY_DAYS = 548
FUTURE_DAYS = 80
# Registrations of patients who predate the history go back this far.
OLDEST_REGISTRATION_DAYS = 2500

FIRST_NAMES = _words(
    """
    Olivia, Noah, Charlotte, Oliver, Amelia, William, Isla, Jack, Mia, Leo, Ava, Henry,
    Grace, Lucas, Chloe, Thomas, Zoe, James, Ella, Ethan, Ruby, Liam, Sophie, Harrison,
    Matilda, Samuel, Harper, Mason, Evie, Lachlan, Willow, Archie, Sienna, Hudson, Ivy,
    Oscar, Lily, Max, Aria, Hamish, Priya, Arjun, Mei, Wei, Hiroshi, Yuki, Fatima, Omar,
    Aisha, Ali, Sofia, Mateo, Lucia, Diego, Ngozi, Kwame, Amara, Tane, Aroha, Nikau, Anh,
    Minh, Linh, Ji-woo, Seo-yeon, Raj, Ananya, Dimitri, Eleni, Giorgos, Margaret, Robert,
    Patricia, Graham, Beverley, Kevin, Deborah, Colin, Janet, Trevor, Sandra, Bruce,
    Helen, Neil, Frances, Stuart, Rosa, Declan, Siobhan, Connor, Erin, Kai, Leilani,
    Mohammed, Layla, Yusuf, Hana, Tomasz, Zofia, Lars, Ingrid
    """
)
LAST_NAMES = _words(
    """
    Smith, Jones, Williams, Brown, Wilson, Taylor, Johnson, White, Martin, Anderson,
    Thompson, Nguyen, Thomas, Walker, Harris, Lee, Ryan, Robinson, Kelly, King, Davis,
    Wright, Evans, Roberts, Green, Hall, Wood, Jackson, Clarke, Patel, Khan, Singh, Chen,
    Wang, Li, Zhang, Kim, Park, Tran, Pham, Le, Sato, Tanaka, Suzuki, Rossi, Russo,
    Papadopoulos, Nikolaidis, Kowalski, Nowak, Murphy, O'Brien, O'Connor, McDonald,
    MacKenzie, Campbell, Stewart, Fraser, Hughes, Edwards, Mitchell, Baker, Turner,
    Cooper, Morris, Ward, Hill, Young, Scott, Moore, Allen, Hernandez, Garcia, Lopez,
    Martinez, Silva, Santos, Costa, Ahmed, Hassan, Ibrahim, Okafor, Mensah, Ngata,
    Parata, Te Rangi, Fernando, Perera, Gupta, Sharma, Iyer, Reddy, Haddad, Nasser,
    Cohen, Levi, Larsen, Johansson, Schmidt, Becker, Dubois, Moreau, Van der Berg
    """
)
EMAIL_DOMAINS = ("example.com", "example.org", "example.net")

CONDITIONS = _words(
    """
    lower back pain, neck pain, sciatica, rotator cuff tendinopathy, frozen shoulder,
    tennis elbow, ankle sprain, plantar fasciitis, achilles tendinopathy,
    patellofemoral pain, knee osteoarthritis, ACL reconstruction rehabilitation,
    total knee replacement rehabilitation, total hip replacement rehabilitation,
    hamstring strain, whiplash, headache (cervicogenic), carpal tunnel syndrome,
    postural pain, hip bursitis, post-fracture rehabilitation (wrist),
    pelvic girdle pain, vestibular dizziness
    """
)
COMORBIDITIES = _words(
    """
    hypertension, type 2 diabetes, osteoporosis, asthma, obesity, depression,
    rheumatoid arthritis
    """
)
# Where patients come from, with relative weights.
REFERRALS: dict[str, int] = {
    "GP referral": 30,
    "self-referral": 22,
    "Google search": 12,
    "friend or family": 12,
    "orthopaedic surgeon": 7,
    "workers compensation": 5,
    "sports club": 5,
    "motor vehicle accident insurer": 3,
    "health fund": 4,
}
# Most sessions are plain follow-ups; a few are the clinic's other services.
SESSION_TYPES = ("Follow-up",) * 6 + ("Clinical pilates", "Hydrotherapy", "Dry needling")

SMS_FAILURES = (
    "undelivered: handset unreachable",
    "invalid number",
    "carrier rejected: filtered as spam",
)
EMAIL_FAILURES = (
    "bounced: mailbox does not exist",
    "bounced: mailbox full",
    "rejected: blocked by recipient server",
)
PHONE_FAILURES = ("number disconnected", "invalid number", "call rejected by network")

# Chance that an outbound attempt fails to reach the patient at all.
SMS_FAIL = 0.05
EMAIL_FAIL = 0.05
PHONE_FAIL = 0.03
# Success given it reached them (scaled by the patient's responsiveness).
SMS_REPLY = 0.47
EMAIL_OPEN = 0.55
EMAIL_REPLY_OPENED = 0.27
# A reply with no open recorded: the patient's client blocked the tracking image.
EMAIL_REPLY_UNOPENED = 0.03
PHONE_CONNECT = 0.31
# A successful contact turns into a booking within the attribution window this often.
CONVERT = 0.66

# Days of silence of a patient never seen (for the status rules: longer than any history).
SILENT_FOREVER = 10_000

# Appointment outcomes: no-show ("DNA") about 10%, late cancellation a few percent.
CANCEL = 0.06
LATE_CANCEL = 0.03
NO_SHOW = 0.10


@dataclass(frozen=True, slots=True)
class Options:
    """How long a history to play and how busy the clinic's messaging is.

    The defaults are the demo's: eighteen months, outreach only to patients who drift away.
    Anything else is another clinic (the benchmark's), not the demo with extras: the random
    stream is shared, so one changed option changes every row after the first patient.
    """

    # Days of history before as_of.
    history_days: int = HISTORY_DAYS
    # An automated reminder (SMS, else email) the day before each appointment, which the
    # patient may confirm by replying; each is an outreach attempt under the contract.
    reminders: bool = False
    # Recall messages to patients not seen for this many days (0: none), repeated at the
    # same interval while they stay away, as a clinic's recall system sends them.
    recall_days: int = 0
    # Chance that a patient whose story has ended (discharged, lost, declined) comes back
    # with a new episode of care months later; a long history then holds several episodes.
    comeback: float = 0.0

    def __post_init__(self) -> None:
        if self.history_days < 30:
            raise ValueError("history_days must be at least 30")
        if self.recall_days < 0:
            raise ValueError("recall_days must not be negative")
        if not 0 <= self.comeback < 1:
            raise ValueError("comeback must be from 0 up to (not including) 1")


DEFAULT_OPTIONS = Options()


@dataclass(slots=True)
class PatientHistory:
    """One patient and every record about them, in the order they must be written."""

    patient: Row
    appointments: list[Row] = field(default_factory=list)
    communications: list[Row] = field(default_factory=list)
    followups: list[Row] = field(default_factory=list)


@dataclass(slots=True)
class _Booking:
    """An appointment about to be made: when it was booked and the day it is for."""

    booked_at: datetime
    day: int
    initial: bool
    maintenance: bool = False


@dataclass(slots=True)
class _Sim:
    """The mutable state of one patient while their history is played forward."""

    num: str
    patient_id: str
    channels: tuple[str, ...]
    has_phone: bool
    band: int
    responsiveness: float
    dna: float
    dropout: float
    maintenance: bool
    practitioner: str
    appointments: list[Row] = field(default_factory=list)
    communications: list[Row] = field(default_factory=list)
    followups: list[Row] = field(default_factory=list)
    state: str = "dormant"
    completed: int = 0
    last_visit: datetime | None = None


def generate(
    org_id: str,
    patients: int,
    seed: int,
    as_of: datetime,
    timezone: str = "UTC",
    options: Options = DEFAULT_OPTIONS,
) -> Iterator[PatientHistory]:
    """Yield ``patients`` generated patient histories, each with all of its records.

    ``timezone`` is the clinic's: opening hours and weekdays are local to it, so a Sydney
    clinic's appointments fall in Sydney's working day. ``options`` make another clinic
    (longer history, reminders, recalls); the defaults make the demo.
    """
    if patients < 0:
        raise ValueError("patients must not be negative")
    if as_of.tzinfo is None or as_of.utcoffset() is None:
        raise ValueError("as_of must be timezone-aware")
    clinic = _Clinic(org_id, patients, seed, as_of.astimezone(UTC), ZoneInfo(timezone), options)
    for index in range(1, patients + 1):
        yield clinic.patient(index)


def rows(
    org_id: str,
    patients: int,
    seed: int,
    as_of: datetime,
    timezone: str = "UTC",
    options: Options = DEFAULT_OPTIONS,
) -> dict[str, list[Row]]:
    """All rows of a (small) demo by table name; for tests and inspection, not for 100k."""
    out: dict[str, list[Row]] = {
        "patients": [],
        "appointments": [],
        "communications": [],
        "followups": [],
    }
    for history in generate(org_id, patients, seed, as_of, timezone, options):
        out["patients"].append(history.patient)
        out["appointments"].extend(history.appointments)
        out["communications"].extend(history.communications)
        out["followups"].extend(history.followups)
    return out


class _Clinic:
    """The clinic's calendar and the rules by which its patients' histories unfold."""

    def __init__(
        self,
        org_id: str,
        patients: int,
        seed: int,
        as_of: datetime,
        zone: ZoneInfo,
        options: Options = DEFAULT_OPTIONS,
    ) -> None:
        self.org_id = org_id
        self.reminders = options.reminders
        self.recall_days = options.recall_days
        self.comeback = options.comeback
        self.between_episodes = options.recall_days > 0 or options.comeback > 0
        # A regular's visit on the history's first day would be booked later that day, after
        # it starts. The demo's rows stay as they are (with the default as_of, day 0 is a
        # Sunday and the visit rolls to Monday); every other clinic books it for day 1.
        self.book_before_day_zero = options != DEFAULT_OPTIONS
        self.rng = random.Random(f"reengage-demo:{seed}:{patients}")
        self.as_of = as_of
        self.zone = zone
        self.width = max(6, len(str(patients)))
        today = as_of.astimezone(zone).date()
        self.first_date = today - timedelta(days=options.history_days)
        self.today = options.history_days
        self.last_day = options.history_days + FUTURE_DAYS
        # Local midnight of each day as a UTC instant, using the offset at noon: clinic hours
        # never touch the small hours in which daylight saving changes the clock.
        self.base: list[datetime] = []
        self.weekday: list[int] = []
        for d in range(self.last_day + 1):
            day = self.first_date + timedelta(days=d)
            self.base.append(_local_midnight_utc(day, zone))
            self.weekday.append(day.weekday())
        self.window_start = self.base[0]
        rng = self.rng
        count = max(3, min(120, patients // 250))
        self.practitioners = [
            f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}" for _ in range(count)
        ]
        self.referrals = [name for name, weight in REFERRALS.items() for _ in range(weight)]

    # -- calendar -------------------------------------------------------------------------

    def at(self, day: int, minutes: float) -> datetime:
        return self.base[day] + timedelta(minutes=minutes)

    def appointment_slot(self, day: int, band: int) -> tuple[int, datetime]:
        """A quarter-hour slot in the patient's usual part of the day; Sundays roll to Monday."""
        rng = self.rng
        weekday = self.weekday[day] if day <= self.last_day else 0
        if weekday == 6:
            day += 1
            weekday = 0
        if weekday == 5:  # Saturday: mornings only
            quarter = 32 + int(rng.random() * 17)
        elif band == 0:  # before work
            quarter = 28 + int(rng.random() * 9)
        elif band == 1:  # middle of the day
            quarter = 36 + int(rng.random() * 25)
        else:  # after work
            quarter = 60 + int(rng.random() * 17)
        if day > self.last_day:
            return day, self.base[self.last_day] + timedelta(days=day - self.last_day)
        return day, self.base[day] + timedelta(minutes=15 * quarter)

    def office_day(self, day: int) -> int:
        """Staff send outreach on weekdays; a weekend date moves to the Monday."""
        if day > self.last_day:
            return day
        weekday = self.weekday[day]
        return day + (7 - weekday) if weekday >= 5 else day

    def office_time(self, day: int, channel: str) -> datetime:
        """When staff send: SMS and email in the morning batch, calls across the day."""
        rng = self.rng
        if day > self.last_day:
            return self.base[self.last_day] + timedelta(days=day - self.last_day)
        if channel == "phone":
            return self.at(day, 9 * 60 + rng.random() * 480)
        return self.at(day, 10 * 60 + rng.random() * 40)

    def waking_time(self, day: int) -> datetime:
        """When a patient writes or calls in: any time from 7:00 to 21:00."""
        return self.at(min(day, self.last_day), 7 * 60 + self.rng.random() * 840)

    # -- one patient ----------------------------------------------------------------------

    def patient(self, index: int) -> PatientHistory:
        rng = self.rng
        num = f"{index:0{self.width}d}"
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        has_phone = rng.random() < 0.95
        has_email = rng.random() < 0.78
        phone = f"+614{int(rng.random() * 100_000_000):08d}" if has_phone else None
        email = None
        if has_email:
            local = "".join(ch for ch in f"{first}.{last}".lower() if ch.isalnum() or ch == ".")
            if rng.random() < 0.6:
                local += str(int(rng.random() * 1000))
            email = f"{local}@{EMAIL_DOMAINS[int(rng.random() * 3)]}"
        opt_outs: list[str] = []
        if has_phone and rng.random() < 0.05:
            opt_outs.append("sms")
        if has_email and rng.random() < 0.07:
            opt_outs.append("email")
        if has_phone and rng.random() < 0.02:
            opt_outs.append("phone")
        reachable = [
            c
            for c, ok in (("sms", has_phone), ("email", has_email), ("phone", has_phone))
            if ok and c not in opt_outs
        ]
        prefs = self._preferences(reachable)
        channels = tuple(prefs) + tuple(c for c in reachable if c not in prefs)

        conditions = [rng.choice(CONDITIONS)]
        if rng.random() < 0.18:
            extra = rng.choice(CONDITIONS)
            if extra not in conditions:
                conditions.append(extra)
        if rng.random() < 0.2:
            conditions.append(rng.choice(COMORBIDITIES))

        u = rng.random()
        sim = _Sim(
            num=num,
            patient_id=f"pat-{num}",
            channels=channels,
            has_phone=has_phone,
            band=0 if u < 0.25 else (1 if u < 0.6 else 2),
            responsiveness=rng.choice((0.7, 0.9, 1.0, 1.1, 1.3)),
            dna=NO_SHOW * rng.choice((0.3, 0.6, 1.0, 1.3, 1.8)),
            dropout=rng.choice((0.04, 0.07, 0.1, 0.14)),
            maintenance=rng.random() < 0.18,
            practitioner=rng.choice(self.practitioners),
        )
        deceased = rng.random() < 0.004

        registered_at, received_at, booking = self._arrival(sim)
        while booking is not None:
            booking = self._course(sim, booking)
            if booking is None and self.between_episodes and not deceased:
                booking = self._between_episodes(sim)

        status = self._status(sim, deceased)
        if status == "deceased":
            sim.appointments = [a for a in sim.appointments if a["status"] != "scheduled"]
        last_visit = sim.last_visit
        updated_at = received_at
        if last_visit is not None and last_visit > updated_at:
            updated_at = min(last_visit, self.as_of)
        patient: Row = {
            "org_id": self.org_id,
            "id": sim.patient_id,
            "name": f"{first} {last}",
            "phone": phone,
            "email": email,
            "status": status,
            "registered_at": registered_at,
            "communication_preferences": prefs,
            "opt_outs": opt_outs,
            "health_conditions": conditions,
            "referral_source": rng.choice(self.referrals) if rng.random() < 0.85 else None,
            "last_treatment_outcome": self._outcome(sim),
            "received_at": received_at,
            "updated_at": updated_at,
        }
        return PatientHistory(patient, sim.appointments, sim.communications, sim.followups)

    def _preferences(self, reachable: list[str]) -> list[str]:
        rng = self.rng
        if not reachable or rng.random() < 0.3:
            return []
        u = rng.random()
        wanted = "sms" if u < 0.55 else ("email" if u < 0.8 else "phone")
        first = wanted if wanted in reachable else reachable[0]
        prefs = [first]
        others = [c for c in reachable if c != first]
        if others and rng.random() < 0.45:
            prefs.append(rng.choice(others))
        return prefs

    def _arrival(self, sim: _Sim) -> tuple[datetime | None, datetime, _Booking | None]:
        """When the patient joined, when reengage first heard of them, and their first booking.

        reengage is taken to have been connected when the history starts: patients from
        before then arrived in its first sync, later ones as they registered.
        """
        rng = self.rng
        if rng.random() < 0.6:
            # A new patient: registered at the front desk, first visit days later. More
            # recent months have more registrations, as a growing clinic's would.
            u = rng.random()
            day = int(self.today * (math.sqrt(u) if rng.random() < 0.5 else u))
            registered = self.at(day, 8 * 60 + rng.random() * 600)
            if registered > self.as_of:
                day -= 1
                registered = self.at(day, 8 * 60 + rng.random() * 600)
            first_day = day + 1 + int(rng.random() * rng.choice((4, 10, 16)))
            booking = _Booking(
                registered + timedelta(minutes=2 + rng.random() * 8), first_day, True
            )
            known = registered if rng.random() < 0.97 else None
            return known, registered, booking
        # A patient from before the history: about half come back for a new course of care.
        ago = 1 + int(rng.random() * OLDEST_REGISTRATION_DAYS)
        registered = _local_time_utc(
            self.first_date - timedelta(days=ago), 8 * 60 + rng.random() * 600, self.zone
        )
        known = registered if rng.random() < 0.95 else None
        received = self.window_start
        u = rng.random()
        if u < 0.12:
            # A maintenance regular, already mid-rhythm when the history starts.
            sim.maintenance = True
            day = int(rng.random() * 40)
            if day == 0 and self.book_before_day_zero:
                day = 1
            booked = self.at(max(day - 14, 0), 9 * 60 + rng.random() * 480)
            return known, received, _Booking(max(booked, received), day, False, maintenance=True)
        if u < 0.55:
            day = int(rng.random() * self.today)
            return known, received, self._self_booking(sim, day)
        if u < 0.62:
            # A dormant patient the clinic tried to win back in a reactivation campaign.
            day = self.office_day(int(rng.random() * self.today))
            sim.state = "lost"
            return known, received, self._attempt_series(sim, day - 400, day, max_attempts=1)
        sim.state = "dormant"
        return known, received, None

    def _self_booking(self, sim: _Sim, day: int) -> _Booking | None:
        """The patient rings (or writes) to book: an inbound communication and a booking."""
        rng = self.rng
        if day > self.today:
            return None
        call = self.waking_time(day)
        if call > self.as_of:
            return None
        if sim.has_phone or rng.random() < 0.5:
            channel = "phone" if rng.random() < 0.75 else "sms"
            self._inbound(sim, channel, call)
        booked = call + timedelta(minutes=1 + rng.random() * 6)
        if booked > self.as_of:
            return None
        return _Booking(booked, day + 1 + int(rng.random() * 10), True)

    # -- a course of care ----------------------------------------------------------------

    def _course(self, sim: _Sim, booking: _Booking) -> _Booking | None:
        """Play a course of sessions from its first booking; return the next course's, if any."""
        rng = self.rng
        as_of = self.as_of
        maintenance = booking.maintenance
        if maintenance:
            planned = 10_000
        else:
            u = rng.random()
            if u < 0.12:
                planned = 1
            elif u < 0.47:
                planned = 2 + int(rng.random() * 3)
            elif u < 0.82:
                planned = 5 + int(rng.random() * 4)
            else:
                planned = 9 + int(rng.random() * 8)
        sessions = 0
        booked_at = booking.booked_at
        day = booking.day
        kind = "Initial assessment" if booking.initial else "Follow-up"
        sim.state = "in_course"
        while True:
            if day > self.last_day or booked_at > as_of:
                return None
            day, starts = self.appointment_slot(day, sim.band)
            practitioner = sim.practitioner if rng.random() < 0.85 else None
            if starts > as_of:
                if day <= self.last_day:
                    self._appointment(
                        sim, starts, "scheduled", booked_at, kind, practitioner, booked_at
                    )
                    if self.reminders:
                        self._reminder(sim, day, booked_at, None)
                    sim.state = "booked"
                return None
            minutes = 60 if kind == "Initial assessment" else (45 if maintenance else 30)
            ends = starts + timedelta(minutes=minutes)
            u = rng.random()
            if u < CANCEL:
                status = "cancelled"
            elif u < CANCEL + LATE_CANCEL:
                status = "late_cancelled"
            elif u < CANCEL + LATE_CANCEL + sim.dna:
                status = "no_show"
            else:
                status = "completed"
            # A few old bookings came from a system that kept no booking time.
            known_booking = booked_at if rng.random() > 0.02 else None

            if status == "completed":
                self._appointment(
                    sim, starts, status, known_booking, kind, practitioner, min(ends, as_of)
                )
                if self.reminders:
                    self._reminder(sim, day, booked_at, None)
                sim.completed += 1
                sim.last_visit = ends
                sessions += 1
                if sessions >= planned:
                    return self._after_course(sim, day, ends)
                if rng.random() < (0.03 if maintenance else sim.dropout):
                    return self._drift(sim, day)
                booked_at = ends + timedelta(minutes=2 + rng.random() * 12)
                if booked_at > as_of:
                    return None
                if maintenance:
                    kind = "Maintenance"
                    day += 21 + int(rng.random() * 35)
                else:
                    kind = "Review" if sessions == planned - 1 else rng.choice(SESSION_TYPES)
                    day += (
                        (3 + int(rng.random() * 4)) if sessions < 3 else (6 + int(rng.random() * 9))
                    )
                continue

            if status == "no_show":
                self._appointment(sim, starts, status, known_booking, kind, practitioner, ends)
                if self.reminders:
                    self._reminder(sim, day, booked_at, None)
                rebooked = self._chase_no_show(sim, day, starts)
                if rebooked is None:
                    return self._drift(sim, day)
                booked_at, day = rebooked
                continue

            # Cancelled: an early one well ahead, a late one within the last day.
            if status == "cancelled":
                lead = (starts - booked_at).total_seconds()
                cancel_at = booked_at + timedelta(seconds=lead * (0.2 + 0.6 * rng.random()))
                if starts - cancel_at < timedelta(hours=24):
                    status = "late_cancelled"  # booked at short notice: any cancellation is late
                rebook = 0.75
            else:
                cancel_at = starts - timedelta(minutes=30 + rng.random() * 1200)
                rebook = 0.6
            if cancel_at <= booked_at:
                cancel_at = booked_at + timedelta(minutes=1)
            self._appointment(sim, starts, status, known_booking, kind, practitioner, cancel_at)
            if self.reminders:
                self._reminder(sim, day, booked_at, cancel_at)
            if rng.random() < 0.55:
                channel = "phone" if rng.random() < 0.6 else "sms"
                self._inbound(sim, channel, cancel_at - timedelta(minutes=rng.random() * 3))
            if rng.random() >= rebook:
                return self._drift(sim, day)
            booked_at = cancel_at + timedelta(minutes=rng.random() * 3)
            day += 1 + int(rng.random() * 6)

    def _after_course(self, sim: _Sim, day: int, ends: datetime) -> _Booking | None:
        """A finished course: discharged, often with a check-in later; some come back."""
        rng = self.rng
        if sim.maintenance and rng.random() < 0.7:
            booked = ends + timedelta(minutes=3 + rng.random() * 10)
            if booked > self.as_of:
                return None
            return _Booking(booked, day + 21 + int(rng.random() * 35), False, maintenance=True)
        sim.state = "discharged"
        if rng.random() < 0.35:
            due = self.office_day(day + 28 + int(rng.random() * 15))
            self._followup(sim, ends, due, "post-discharge check-in: review home exercise program")
        if rng.random() < 0.12:
            # A routine check-in message some weeks after discharge.
            booking = self._attempt_series(sim, day, day + 42 + int(rng.random() * 14), 1)
            if booking is not None:
                return booking
            if sim.state == "lost":
                sim.state = "discharged"
        if rng.random() < 0.22:
            return self._self_booking(sim, day + 60 + int(rng.random() * 340))
        return None

    def _chase_no_show(self, sim: _Sim, day: int, starts: datetime) -> tuple[datetime, int] | None:
        """After a missed visit: a same-day call, a task for later, or the patient rebooks."""
        rng = self.rng
        if "phone" in sim.channels and rng.random() < 0.4:
            sent = starts + timedelta(minutes=30 + rng.random() * 120)
            if sent <= self.as_of:
                success = self._outbound(sim, "phone", sent)
                if success is not None and rng.random() < 0.8:
                    booked = success + timedelta(minutes=2 + rng.random() * 5)
                    if booked <= self.as_of:
                        return booked, day + 2 + int(rng.random() * 6)
        elif rng.random() < 0.35:
            self._followup(
                sim, starts, self.office_day(day + 1), "missed appointment: call to rebook"
            )
        if rng.random() < 0.35:
            booking = self._self_booking(sim, day + 1 + int(rng.random() * 4))
            if booking is not None:
                return booking.booked_at, booking.day
        return None

    def _drift(self, sim: _Sim, day: int) -> _Booking | None:
        """The patient stops booking: after a couple of weeks the clinic starts reaching out."""
        rng = self.rng
        sim.state = "drifting"
        if rng.random() < 0.18:
            # Some come back of their own accord before anyone chases them.
            return self._self_booking(sim, day + 10 + int(rng.random() * 40))
        if rng.random() < 0.15:
            # Nobody got round to it.
            return None
        first = self.office_day(day + 12 + int(rng.random() * 10))
        return self._attempt_series(sim, day, first, max_attempts=2 + int(rng.random() * 3))

    def _attempt_series(
        self, sim: _Sim, last_day: int, day: int, max_attempts: int
    ) -> _Booking | None:
        """Outreach attempts weeks apart until one lands, the patient declines, or staff stop."""
        rng = self.rng
        failed: set[str] = set()
        previous: str | None = None
        for attempt in range(max_attempts):
            channel = self._pick_channel(sim, attempt, previous, failed)
            if channel is None:
                break
            day = self.office_day(day)
            if day > self.today:
                return None
            sent = self.office_time(day, channel)
            if sent > self.as_of:
                return None
            factor = sim.responsiveness * (1.1 if attempt == 0 else (1.0 if attempt == 1 else 0.85))
            if day - last_day > 120:
                factor *= 0.8
            success = self._outbound(sim, channel, sent, factor)
            previous = channel
            if success is None:
                if sim.communications[-1]["failed_at"] is not None:
                    failed.add(channel)
                    if rng.random() < 0.3:
                        due = self.office_day(day + 2)
                        self._followup(
                            sim, sent, due, "contact details bounced: confirm phone and email"
                        )
                day += 12 + int(rng.random() * 12) + 8 * attempt
                continue
            if rng.random() < CONVERT:
                return self._booking_after(sim, success)
            sim.state = "declined"
            return None
        if sim.state != "dormant":
            sim.state = "lost"
        if rng.random() < 0.12:
            return self._self_booking(sim, day + 30 + int(rng.random() * 300))
        return None

    def _between_episodes(self, sim: _Sim) -> _Booking | None:
        """After a story ends: recall messages while the patient stays away, and perhaps a
        new episode of care (a self-booking) months later."""
        rng = self.rng
        if sim.state == "booked":
            return None
        end = self._last_activity_day(sim)
        comeback = None
        if rng.random() < self.comeback:
            comeback = end + 60 + int(rng.random() * 600)
        if self.recall_days:
            day = end + self.recall_days
            while day <= self.today and (comeback is None or day < comeback):
                recalled = self._recall(sim, day)
                if recalled is not None:
                    return recalled
                day += self.recall_days
        if comeback is not None:
            return self._self_booking(sim, comeback)
        return None

    def _last_activity_day(self, sim: _Sim) -> int:
        """The day index of the patient's latest visit, booking or message so far."""
        latest = self.window_start
        for a in sim.appointments:
            latest = max(latest, min(a["starts_at"], self.as_of))
            if a["booked_at"] is not None:
                latest = max(latest, a["booked_at"])
        for c in sim.communications:
            latest = max(latest, c["sent_at"])
        return (latest - self.window_start).days

    def _recall(self, sim: _Sim, day: int) -> _Booking | None:
        """A recall SMS (else email) to a patient not seen for a while; a reply may book."""
        rng = self.rng
        channel = next((c for c in ("sms", "email") if c in sim.channels), None)
        if channel is None:
            return None
        day = self.office_day(day)
        if day > self.today:
            return None
        sent = self.office_time(day, channel)
        if sent > self.as_of:
            return None
        success = self._outbound(sim, channel, sent, 0.6 * sim.responsiveness)
        if success is not None and rng.random() < CONVERT:
            return self._booking_after(sim, success)
        return None

    def _reminder(
        self, sim: _Sim, day: int, booked_at: datetime, cancelled_at: datetime | None
    ) -> None:
        """The automated reminder the day before a visit, unless it was booked or cancelled
        before the reminder would go; the patient may reply to confirm."""
        channel = next((c for c in ("sms", "email") if c in sim.channels), None)
        if channel is None or day < 1 or day - 1 > self.last_day:
            return
        sent = self.at(day - 1, 16 * 60 + self.rng.random() * 30)
        if sent <= booked_at or sent > self.as_of:
            return
        if cancelled_at is not None and cancelled_at <= sent:
            return
        self._outbound(sim, channel, sent)

    def _pick_channel(
        self, sim: _Sim, attempt: int, previous: str | None, failed: set[str]
    ) -> str | None:
        """Never an opted-out or unreachable channel; escalate to a call on later attempts."""
        if attempt == 0:
            order: tuple[str, ...] = (*sim.channels, "sms", "email", "phone")
        elif attempt == 1:
            order = ("email", "sms", "phone") if previous == "sms" else ("sms", "email", "phone")
        else:
            order = ("phone", "sms", "email")
        for channel in order:
            if channel in sim.channels and channel not in failed:
                return channel
        return None

    def _booking_after(self, sim: _Sim, success: datetime) -> _Booking | None:
        """A booking made after a successful contact, inside the 14-day attribution window."""
        rng = self.rng
        if rng.random() < 0.7:
            booked = success + timedelta(minutes=1 + rng.random() * 40)
        else:
            booked = success + timedelta(hours=6 + rng.random() * 24 * 10)
        if booked > self.as_of:
            return None
        day = (booked - self.window_start).days
        gap = (self.at(day, 0) - sim.last_visit).days if sim.last_visit is not None else 999
        return _Booking(booked, day + 1 + int(rng.random() * 9), gap > 60)

    # -- records --------------------------------------------------------------------------

    def _appointment(
        self,
        sim: _Sim,
        starts: datetime,
        status: str,
        booked_at: datetime | None,
        kind: str,
        practitioner: str | None,
        updated_at: datetime,
    ) -> None:
        received = booked_at if booked_at is not None else min(starts, self.as_of)
        if received < self.window_start:
            received = self.window_start
        sim.appointments.append(
            {
                "org_id": self.org_id,
                "id": f"apt-{sim.num}-{len(sim.appointments) + 1:03d}",
                "patient_id": sim.patient_id,
                "starts_at": starts,
                "status": status,
                "booked_at": booked_at,
                "type": kind,
                "practitioner": practitioner or self.rng.choice(self.practitioners),
                "received_at": received,
                "updated_at": max(received, min(updated_at, self.as_of)),
            }
        )

    def _communication(self, sim: _Sim, channel: str, direction: str, sent: datetime) -> Row:
        row: Row = {
            "org_id": self.org_id,
            "id": f"msg-{sim.num}-{len(sim.communications) + 1:03d}",
            "patient_id": sim.patient_id,
            "channel": channel,
            "direction": direction,
            "sent_at": sent,
            "delivered_at": None,
            "opened_at": None,
            "responded_at": None,
            "connected_at": None,
            "failed_at": None,
            "failure_reason": None,
            "provider_message_id": None,
            "received_at": sent,
            "updated_at": sent,
        }
        sim.communications.append(row)
        return row

    def _inbound(self, sim: _Sim, channel: str, sent: datetime) -> None:
        row = self._communication(sim, channel, "inbound", sent)
        if channel == "sms":
            row["provider_message_id"] = f"SM{self.rng.getrandbits(128):032x}"

    def _outbound(
        self, sim: _Sim, channel: str, sent: datetime, factor: float = 1.0
    ) -> datetime | None:
        """Write one outbound attempt and return its success time, if it succeeded by as_of."""
        rng = self.rng
        as_of = self.as_of
        row = self._communication(sim, channel, "outbound", sent)
        success: datetime | None = None
        latest = sent
        if channel == "sms":
            row["provider_message_id"] = f"SM{rng.getrandbits(128):032x}"
            if rng.random() < SMS_FAIL:
                latest = row["failed_at"] = sent + timedelta(seconds=3 + rng.random() * 120)
                row["failure_reason"] = rng.choice(SMS_FAILURES)
            else:
                latest = row["delivered_at"] = sent + timedelta(seconds=2 + rng.random() * 40)
                if rng.random() < SMS_REPLY * factor:
                    # Most replies come within the hour; some the next day.
                    success = sent + timedelta(minutes=1 + rng.expovariate(1 / 90))
        elif channel == "email":
            row["provider_message_id"] = f"{rng.getrandbits(96):024x}@mail.example.net"
            if rng.random() < EMAIL_FAIL:
                latest = row["failed_at"] = sent + timedelta(seconds=5 + rng.random() * 300)
                row["failure_reason"] = rng.choice(EMAIL_FAILURES)
            else:
                latest = row["delivered_at"] = sent + timedelta(seconds=1 + rng.random() * 60)
                if rng.random() < EMAIL_OPEN:
                    opened = sent + timedelta(minutes=2 + rng.expovariate(1 / 240))
                    if opened <= as_of:
                        latest = row["opened_at"] = opened
                        if rng.random() < EMAIL_REPLY_OPENED * factor:
                            success = opened + timedelta(minutes=1 + rng.expovariate(1 / 45))
                elif rng.random() < EMAIL_REPLY_UNOPENED * factor:
                    success = sent + timedelta(minutes=5 + rng.expovariate(1 / 300))
        else:
            row["provider_message_id"] = f"CA{rng.getrandbits(128):032x}"
            if rng.random() < PHONE_FAIL:
                latest = row["failed_at"] = sent + timedelta(seconds=4 + rng.random() * 20)
                row["failure_reason"] = rng.choice(PHONE_FAILURES)
            elif rng.random() < PHONE_CONNECT * factor:
                success = sent + timedelta(seconds=8 + rng.random() * 35)
                row["connected_at"] = success
        if success is not None:
            if success > as_of:
                success = None
                row["connected_at"] = None
            else:
                latest = success
                if channel != "phone":
                    row["responded_at"] = success
        row["updated_at"] = latest if latest <= as_of else row["updated_at"]
        if row["delivered_at"] is not None and row["delivered_at"] > as_of:
            row["delivered_at"] = None
        if row["failed_at"] is not None and row["failed_at"] > as_of:
            row["failed_at"] = row["failure_reason"] = None
        return success

    def _followup(self, sim: _Sim, created: datetime, day: int, reason: str) -> None:
        """A staff task; it never falls due after as_of, and most are done within days."""
        rng = self.rng
        if day > self.today:
            return
        due = self.at(day, 9 * 60)
        if due > self.as_of:
            return
        if created > due:
            created = due
        completed: datetime | None = None
        if rng.random() < 0.7:
            done = due + timedelta(minutes=rng.random() * 60 * 24 * rng.choice((1, 3, 7)))
            if done <= self.as_of:
                completed = done
        sim.followups.append(
            {
                "org_id": self.org_id,
                "id": f"fu-{sim.num}-{len(sim.followups) + 1:02d}",
                "patient_id": sim.patient_id,
                "due_at": due,
                "completed_at": completed,
                "reason": reason,
                "received_at": created,
                "updated_at": completed or created,
            }
        )

    # -- where the patient ends up --------------------------------------------------------

    def _status(self, sim: _Sim, deceased: bool) -> str:
        """The status a clinic's system would hold at as_of, as front desks keep it: a course
        that ended is discharged; a patient from before the history who never came back was
        marked inactive or discharged long ago; a patient silent for months is marked
        inactive at the clinic's quarterly clean-up (most after six months, some after three);
        the rest are active, and so in the population the risk tiers cover."""
        rng = self.rng
        if deceased:
            return "deceased"
        state = sim.state
        if state == "dormant":
            return "discharged" if rng.random() < 0.45 else "inactive"
        last = sim.last_visit
        silent = SILENT_FOREVER if last is None else (self.as_of - last).days
        if state == "discharged":
            # A few stay active by oversight, but not for long: the clean-up catches them.
            return "active" if silent <= 91 and rng.random() < 0.05 else "discharged"
        if state == "declined":
            # Replied that they are fine: discharged on the strength of it, mostly.
            u = rng.random()
            return "discharged" if u < 0.85 else ("inactive" if u < 0.95 else "active")
        if state in ("lost", "drifting"):
            if silent > 365:
                return "inactive"
            if silent > 182:
                return "inactive" if rng.random() < 0.93 else "active"
            if silent > 91:
                return "inactive" if rng.random() < 0.7 else "active"
        return "active"

    def _outcome(self, sim: _Sim) -> str | None:
        rng = self.rng
        if sim.completed == 0:
            return None
        state = sim.state
        if state in ("booked", "in_course"):
            return "improving" if rng.random() < 0.8 else "plateaued: plan under review"
        if state == "discharged":
            return "goals met" if rng.random() < 0.75 else "independent with home exercise program"
        if state == "declined":
            return "patient reports symptoms resolved"
        return rng.choice(("partially improved", "discontinued before completing the plan", None))


def _local_midnight_utc(day: date, zone: ZoneInfo) -> datetime:
    noon = datetime.combine(day, time(12), tzinfo=zone)
    offset = noon.utcoffset() or timedelta(0)
    return (datetime.combine(day, time(0)) - offset).replace(tzinfo=UTC)


def _local_time_utc(day: date, minutes: float, zone: ZoneInfo) -> datetime:
    return _local_midnight_utc(day, zone) + timedelta(minutes=minutes)
