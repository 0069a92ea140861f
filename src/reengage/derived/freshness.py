"""The one freshness rule: what each cache may answer for a question (org, settings,
as_of), and which patients must come from their histories instead. Decided here, once
per request (``Freshness``), and nowhere else.

The caches, and when each answers:

- **A patient's rows** (``patient_state``, ``attempt_outcomes``, ``risk_spans``; each row
  carries its patient's ``settings_key`` and ``horizon_at``) answer at as_of when they were
  computed under the org's current settings and nothing they hold is dated after as_of
  (``horizon_at <= as_of``). Rows that count *days* (the at-risk spans, and so every
  figure of performance, trends and the overview, which read them together) were computed
  with each day's end in view: when as_of is its day's last instant they answer whatever
  is dated later (the queries count days up to as_of's and instants up to as_of); at any
  other instant they also need no visit of the patient starting between as_of and the
  day's end. Such a patient is "settled"; any other comes whole from their history.
- **The org's derived status** (``derived_status``) vouches that every patient's rows are
  present, computed under ``settings_key`` and dated at or before ``latest_at``: for an as_of
  at or after it, under those settings, every row answers (``rows_answer``). Then the daily
  roll-ups, which sum every row, answer too; the few patients visiting later on as_of's day
  have their span amounts swapped there (``rollups.ended_today``) rather than read.
- **The stored standings** (``standings``) answer when the status is of the current
  settings, they were brought up to an instant of as_of's day at or before as_of, no row has
  fallen due, and the patients with records after as_of are few (``standings_answer``,
  judged on values read in the same statement as the standings). Those patients are kept as
  placeholders (no values, due at their horizon): they are late at as_of and come from
  their histories. When the standings are not past as_of, they are first brought up to it
  (``catch_up``), if the late patients are few.

Every read path is then: a projection (the roll-ups, the stored standings, or the rows of
the settled patients), with the unsettled patients' histories merged in. The references
(``reengage.reference``) compute everything from histories, and the tests hold each path
equal to them.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, Literal

from sqlalchemy import and_, not_, or_, select
from sqlalchemy.orm import Session

from reengage.derived import histories, status
from reengage.derived.status import Status
from reengage.domain.calendar import local_date
from reengage.domain.history import PatientHistory
from reengage.domain.scope import Scope
from reengage.models import Appointment, Patient, PatientState

# The most patients swapped out of the roll-ups for their histories (``late_ids``): past
# it, the rows' path costs less than reading so many histories.
LATE_SWAP_MOST = 200


def rows_current(found: Status | None, scope: Scope) -> bool:
    """The status vouches for every patient's rows, under the current settings: each row
    answers at any as_of at or after its patient's horizon."""
    return found is not None and found.settings_key == scope.settings.derivation_key()


def rows_answer(found: Status | None, scope: Scope) -> bool:
    """The status vouches for every patient's rows at as_of, and the roll-ups sum them."""
    if not rows_current(found, scope):
        return False
    assert found is not None
    return found.latest_at is None or found.latest_at <= scope.as_of


def standings_answer(found: Status | None, due: bool, late: int, scope: Scope) -> bool:
    """The stored standings answer at as_of (``due``: some row fell due by as_of; ``late``:
    the placeholders among them, patients with records after as_of).

    A catch-up at T leaves a placeholder, due at its horizon, for every patient whose rows
    hold something after T; a write that dates a patient's records later makes its row due.
    So at an as_of from T on, with nothing due, the placeholders are exactly the patients
    whose rows do not answer at as_of, and every other row does."""
    at = found.standings_at if found is not None else None
    return (
        rows_current(found, scope)
        and at is not None
        and not due
        and late <= LATE_SWAP_MOST
        and at <= scope.as_of
        and local_date(at, scope.settings.zone()) == scope.today
    )


def catch_up(found: Status | None, scope: Scope) -> Literal["all", "due"] | None:
    """Which stored standings to recompute to bring them up to as_of: all of them when they
    are of an earlier day (a day's first request pays for the day) or none are kept, else
    only those due; None when they cannot be brought up (the rows are of other settings or
    incomplete, or the standings are already past it). Whether the late patients are few
    enough is the caller's to count (``late_ids``), under the lock. Asked before taking the
    lock, to know whether it is worth taking, and again under it."""
    if not rows_current(found, scope):
        return None
    assert found is not None
    at = found.standings_at
    if at is None:
        return "all"
    if at > scope.as_of:
        return None
    return "all" if local_date(at, scope.settings.zone()) != scope.today else "due"


def late_ids(session: Session, scope: Scope) -> tuple[str, ...] | None:
    """The patients whose rows hold something dated after as_of (a patient whose first
    record is a follow-up due next week starts then), if at most ``LATE_SWAP_MOST``; else
    None. Read by the rows' horizon index."""
    s: Any = PatientState.__table__
    stmt = (
        select(s.c.patient_id)
        .where(s.c.org_id == scope.org_id, s.c.horizon_at > scope.as_of)
        .order_by(s.c.patient_id)
        .limit(LATE_SWAP_MOST + 1)
    )
    ids = tuple(session.scalars(stmt))
    return ids if len(ids) <= LATE_SWAP_MOST else None


RowsKind = Literal["instants", "days"]


class Freshness:
    """What the caches may answer for one scope: the org's status, who visits later today
    and who is unsettled, each found when first asked for and at most once.

    ``kind``: "instants" for readers of instant-valued rows only (the risk rules and the
    prediction: ``patient_state``, ``attempt_outcomes``), "days" for readers of day counts
    (performance, trends, the overview: they read ``risk_spans``)."""

    def __init__(self, session: Session, scope: Scope) -> None:
        self.session = session
        self.scope = scope
        self._histories: dict[RowsKind, list[PatientHistory]] = {}
        self._loaded: dict[tuple[str, ...], list[tuple[Patient, PatientHistory]]] = {}

    @cached_property
    def status(self) -> Status | None:
        """The org's status row, read once (and not at all by a request the stored
        standings answer: they read it in their own statement)."""
        return status.read(self.session, self.scope.org_id)

    @cached_property
    def complete(self) -> bool:
        """The status vouches for every patient's rows at as_of (``rows_answer``)."""
        return rows_answer(self.status, self.scope)

    @cached_property
    def late_ids(self) -> tuple[str, ...] | None:
        """When the status is of the current settings but not complete at as_of: the
        patients whose rows hold something dated after as_of (a patient whose first record
        is a follow-up due next week starts then), if few; else None. For the rest the
        roll-ups answer, these few swapped out of them for their histories
        (``rollups.counts_for``): without this, one such patient sent every request of the
        org down the rows' path, ten times slower, until their day came."""
        if self.complete or not rows_current(self.status, self.scope):
            return None
        return late_ids(self.session, self.scope)

    def loaded(self, ids: tuple[str, ...]) -> list[tuple[Patient, PatientHistory]]:
        """These patients with their histories, read once per request (the list's late
        patients are its prediction's too)."""
        if ids not in self._loaded:
            found = histories.load_histories(self.session, self.scope.org_id, ids) if ids else []
            self._loaded[ids] = found
        return self._loaded[ids]

    def histories_of(self, ids: tuple[str, ...]) -> list[PatientHistory]:
        return [h for _, h in self.loaded(ids)]

    @cached_property
    def visiting_ids(self) -> tuple[str, ...]:
        """Patients with a visit starting between as_of and its day's end (none when as_of
        ends its day): few, one day's remaining visits."""
        scope = self.scope
        if scope.ends_its_day:
            return ()
        a: Any = Appointment.__table__
        stmt = (
            select(a.c.patient_id)
            .where(
                a.c.org_id == scope.org_id,
                a.c.status != "cancelled",
                a.c.starts_at > scope.as_of,
                a.c.starts_at <= scope.day_end,
            )
            .distinct()
        )
        return tuple(sorted(self.session.scalars(stmt)))

    def settled(self, rows: Any, kind: RowsKind) -> list[Any]:
        """WHERE clauses over rows carrying a patient's ``settings_key``, ``horizon_at`` and
        ``patient_id``: the rows of settled patients (see the module docstring)."""
        scope = self.scope
        clauses: list[Any] = []
        if not self.complete:
            clauses.append(rows.c.settings_key == scope.settings.derivation_key())
        if kind == "days" and scope.ends_its_day:
            return clauses  # every day up to as_of's has ended: records after it count nowhere
        if not self.complete:
            clauses.append(rows.c.horizon_at <= scope.as_of)
        if kind == "days" and self.visiting_ids:
            clauses.append(rows.c.patient_id.not_in(self.visiting_ids))
        return clauses

    def unsettled_ids(self, kind: RowsKind) -> list[str]:
        """Patients of any status whose figures must come from their histories."""
        if self.complete:
            return list(self.visiting_ids) if kind == "days" else []
        p: Any = Patient.__table__
        s: Any = PatientState.__table__
        joined = p.outerjoin(s, and_(s.c.org_id == p.c.org_id, s.c.patient_id == p.c.id))
        stmt = (
            select(p.c.id)
            .select_from(joined)
            .where(
                p.c.org_id == self.scope.org_id,
                or_(s.c.patient_id.is_(None), not_(and_(*self.settled(s, kind)))),
            )
            .order_by(p.c.id)
        )
        return list(self.session.scalars(stmt))

    def histories(self, kind: RowsKind) -> list[PatientHistory]:
        """The unsettled patients' histories, read once per kind."""
        if kind not in self._histories:
            ids = self.unsettled_ids(kind)
            loaded = histories.load_histories(self.session, self.scope.org_id, ids) if ids else []
            self._histories[kind] = [h for _, h in loaded]
        return self._histories[kind]
