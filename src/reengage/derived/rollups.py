"""Daily roll-ups of the derived rows: what performance, trends and the list's prediction
read when the org's derived status says every row answers.

Each ``attempt_outcomes`` and ``risk_spans`` row contributes amounts to (day, measure)
pairs (``outcome_measures``, ``span_measures``); ``daily_rollups`` holds their sums over all
of an org's patients, kept by every write (the new rows' amounts minus the old ones') and
rebuilt with the rows. A window of days is then a read of days x measures, whatever the
length of the history or the number of patients.

The roll-ups answer when the org's derived status does (``freshness.rows_answer``: then
every "by as_of" in the row queries holds for every row), with one exception: a patient with a
visit starting later on as_of's day. Their rows were computed with the day's end in view,
where that visit has begun; the answer as of as_of must not see it. Only their at-risk spans
can differ (attempt outcomes depend on nothing after as_of), and only from as_of's day on,
so their span amounts are swapped for those of their stored spans cut at that day
(``ended_today``): no history is read.
``tests/derived/test_rollups.py`` and ``tests/derived/test_risk_fast_path.py`` hold all of
this equal to the straight computation.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from typing import Any, Protocol

from reengage.derived import rollup_table, row_counts
from reengage.derived.freshness import Freshness
from reengage.derived.rollup_table import Sums
from reengage.domain.history import PatientHistory
from reengage.domain.performance import FUNNEL_STEPS, Funnel, OutreachCounts
from reengage.domain.prediction import qualifying_days
from reengage.domain.risk import AT_RISK_TIERS
from reengage.domain.spells import Span
from reengage.domain.vocabulary import CHANNELS

FUNNEL_MEASURES = tuple(f"{step}:{channel}" for channel in CHANNELS for step in FUNNEL_STEPS)
# Day 0 (no calendar day) holds all-time totals of the tier enter/leave measures.
TOTALS_DAY = 0
TIER_MEASURES = tuple(f"{move}:{tier}" for tier in AT_RISK_TIERS for move in ("enter", "leave"))
DAILY_MEASURES = ("new_at_risk", "reengaged", "scheduled", *(f"sent:{c}" for c in CHANNELS))
REENGAGE_MEASURES = ("reengage_days", "reengage_spells")
PREDICTION_MEASURES = tuple(f"{k}:{tier}" for tier in AT_RISK_TIERS for k in ("tried", "reached"))


def outcome_measures(o: Mapping[str, Any]) -> Iterator[tuple[int, str, int]]:
    """(day, measure, amount) of one attempt outcome, as the row queries count it."""
    day, channel = o["sent_day"], o["channel"]
    for step, names in FUNNEL_STEPS.items():  # a row's instants are all by as_of
        if not names or any(o[name] is not None for name in names):
            yield day, f"{step}:{channel}", 1
    if o["converted_at"] is not None:
        yield o["converted_day"], "scheduled", 1
    if o["tier_before"] is not None:
        yield day, f"tried:{o['tier_before']}", 1
        if o["contacted"]:
            yield day, f"reached:{o['tier_before']}", 1


def span_measures(r: Mapping[str, Any]) -> Iterator[tuple[int, str, int]]:
    """(day, measure, amount) of one at-risk span, as the row queries count it."""
    first, end, tier = r["first_day"], r["end_day"], r["tier"]
    if first == r["spell_first_day"]:
        yield first, "new_at_risk", 1
    if end is not None and end == r["spell_end_day"] and r["reengaged"]:
        yield end, "reengaged", 1
        if r["first_attempt_day"] is not None:
            yield end, "reengage_days", end - r["first_attempt_day"]
            yield end, "reengage_spells", 1
    yield first, f"enter:{tier}", 1
    yield TOTALS_DAY, f"enter:{tier}", 1
    if end is not None:
        yield end, f"leave:{tier}", 1
        yield TOTALS_DAY, f"leave:{tier}", 1


def measure_sums(outcomes: Iterable[Mapping[str, Any]], spans: Iterable[Mapping[str, Any]]) -> Sums:
    out: Sums = Counter()
    for o in outcomes:
        for day, measure, n in outcome_measures(o):
            out[(day, measure)] += n
    for r in spans:
        for day, measure, n in span_measures(r):
            out[(day, measure)] += n
    return out


def difference(new: Sums, old: Sums) -> Sums:
    """``new - old`` keeping negative amounts (``Counter.__sub__`` drops them)."""
    out = Counter(new)
    for key, n in old.items():
        out[key] -= n
    return out


def span_values(span: Span) -> dict[str, Any]:
    """A span as the ``risk_spans`` columns hold it (day ordinals)."""
    return {
        "first_day": span.first_day.toordinal(),
        "end_day": _ordinal(span.end_day),
        "tier": span.tier,
        "spell_first_day": span.spell.first_day.toordinal(),
        "spell_end_day": _ordinal(span.spell.end_day),
        "reengaged": int(span.spell.reengaged),
        "first_attempt_day": _ordinal(span.first_attempt_day),
    }


def _ordinal(day: date | None) -> int | None:
    return day.toordinal() if day is not None else None


def ended_today(
    stored: Iterable[Mapping[str, Any]], today: int, contacted: set[str]
) -> list[dict[str, Any]]:
    """The spans, as of an instant of ``today``, of patients booked then for a visit later
    that day, from their stored spans (computed with the day's end in view).

    Under ``booked_patients_are_engaged`` such a patient is engaged at as_of, so not at
    risk: whatever spell was open at yesterday's end ends today, reengaged if they had a
    contact today (``contacted``: every contact is at or before as_of, so their latest is
    today's). Days before today are the same either way (their ends are before as_of and
    nothing is dated after it), and nothing begins today or later. Without that setting
    the visit changes no tier, and no swap is needed.
    """
    out = []
    for r in stored:
        if r["first_day"] >= today:
            continue
        row = dict(r)
        if row["end_day"] is None or row["end_day"] >= today:
            row["end_day"] = today
        if row["spell_end_day"] is None or row["spell_end_day"] >= today:
            row["spell_end_day"] = today
            row["reengaged"] = int(row["patient_id"] in contacted)
        out.append(row)
    return out


class Counts(Protocol):
    """What performance and trends read from the derived rows (``RowCounts``) or their
    roll-ups (``RollupCounts``)."""

    def funnels(self, first_day: date, last_day: date) -> OutreachCounts: ...

    def daily(self, first_day: date, last_day: date) -> dict[date, dict[str, int]]: ...

    def reengagement_days(self, first_day: date, last_day: date) -> tuple[int, int]: ...

    def tiers_at_day_end(self, day: date) -> dict[str, int]: ...


class RowCounts:
    """Counted over the settled patients' rows (``row_counts``)."""

    def __init__(self, fresh: Freshness) -> None:
        self._fresh = fresh

    def funnels(self, first_day: date, last_day: date) -> OutreachCounts:
        return row_counts.funnels(self._fresh, first_day, last_day)

    def daily(self, first_day: date, last_day: date) -> dict[date, dict[str, int]]:
        return row_counts.daily(self._fresh, first_day, last_day)

    def reengagement_days(self, first_day: date, last_day: date) -> tuple[int, int]:
        return row_counts.reengagement_days(self._fresh, first_day, last_day)

    def tiers_at_day_end(self, day: date) -> dict[str, int]:
        return row_counts.tiers_at_day_end(self._fresh, day)


class RollupCounts:
    """Summed from ``daily_rollups``, with the span amounts of patients visiting later on
    as_of's day swapped for those as of as_of (see ``ended_today``)."""

    def __init__(self, fresh: Freshness, without: tuple[str, ...] = ()) -> None:
        """``without``: patients whose stored rows are taken out of the sums entirely (their
        figures come from their histories instead)."""
        session, scope = fresh.session, fresh.scope
        self._session, self._org_id = session, scope.org_id
        self._swap: Sums = Counter()
        if without:
            ids = list(without)
            stored_sums = measure_sums(
                rollup_table.outcome_rows(session, scope.org_id, ids),
                rollup_table.span_rows(session, scope.org_id, ids),
            )
            self._swap = difference(Counter(), stored_sums)
        visiting = [pid for pid in fresh.visiting_ids if pid not in without]
        if scope.settings.booked_patients_are_engaged and visiting:
            ids = visiting
            today = scope.today.toordinal()
            # Spells ended before today are the same either way: only the others are read,
            # so the swap costs the same whatever the length of the histories.
            stored = rollup_table.span_rows(session, scope.org_id, ids, unended_on=today)
            contacted = rollup_table.contacted_on(session, scope.org_id, ids, today)
            as_of_rows = ended_today(stored, today, contacted)
            self._swap.update(difference(measure_sums((), as_of_rows), measure_sums((), stored)))

    def _sums(self, first: int, last: int, measures: tuple[str, ...], by_day: bool) -> Sums:
        out = rollup_table.sums(self._session, self._org_id, first, last, measures, by_day)
        for (day, measure), n in self._swap.items():
            if first <= day <= last and measure in measures:
                out[(day if by_day else 0, measure)] += n
        return out

    def funnels(self, first_day: date, last_day: date) -> OutreachCounts:
        found = self._sums(first_day.toordinal(), last_day.toordinal(), FUNNEL_MEASURES, False)
        counts = OutreachCounts()
        for channel in CHANNELS:
            counts.channels[channel] = Funnel(
                **{step: found[(0, f"{step}:{channel}")] for step in FUNNEL_STEPS}
            )
        return counts

    def daily(self, first_day: date, last_day: date) -> dict[date, dict[str, int]]:
        found = self._sums(first_day.toordinal(), last_day.toordinal(), DAILY_MEASURES, True)
        names = {"new_at_risk": "new_at_risk", "reengaged": "reengaged_successfully"}
        names |= {"scheduled": "appointments_scheduled"}
        names |= {f"sent:{c}": "outreach_attempts" for c in CHANNELS}
        out: dict[date, dict[str, int]] = {}
        for (day, measure), n in found.items():
            fields = out.setdefault(date.fromordinal(day), {})
            fields[names[measure]] = fields.get(names[measure], 0) + n
        return out

    def reengagement_days(self, first_day: date, last_day: date) -> tuple[int, int]:
        found = self._sums(first_day.toordinal(), last_day.toordinal(), REENGAGE_MEASURES, False)
        return found[(0, "reengage_days")], found[(0, "reengage_spells")]

    def tiers_at_day_end(self, day: date) -> dict[str, int]:
        """All-time totals minus the days after ``day`` (fewer rows than the days before)."""
        totals = self._sums(TOTALS_DAY, TOTALS_DAY, TIER_MEASURES, False)
        after = self._sums(day.toordinal() + 1, date.max.toordinal(), TIER_MEASURES, False)
        return {
            tier: sum(
                sign * (totals[(0, f"{move}:{tier}")] - after[(0, f"{move}:{tier}")])
                for move, sign in (("enter", 1), ("leave", -1))
            )
            for tier in AT_RISK_TIERS
        }


def counts_for(fresh: Freshness) -> tuple[Counts, list[PatientHistory]]:
    """Where performance and trends read their figures from: the roll-ups when the org's
    status answers (they hold every patient, those visiting later today swapped in); when
    it answers for all but a few patients with records after as_of, the roll-ups without
    those, with their histories; else the settled patients' rows, with the others'
    histories."""
    if fresh.complete:
        return RollupCounts(fresh), []
    late = fresh.late_ids
    if late is not None:
        return RollupCounts(fresh, without=late), fresh.histories_of(late)
    return RowCounts(fresh), fresh.histories("days")


def prediction_counts(fresh: Freshness) -> tuple[dict[str, tuple[int, int]], list[PatientHistory]]:
    """Per at-risk tier, (qualifying attempts, those followed by a contact), over the
    patients the derived rows answer for, and the histories of the others: from the roll-ups
    when the org's status answers, or answers but for a few patients with records after
    as_of (their amounts taken out); else from the settled patients' rows."""
    if fresh.complete:
        without: tuple[str, ...] = ()
    elif (late := fresh.late_ids) is not None:
        without = late
    else:
        return row_counts.prediction(fresh), fresh.histories("instants")
    first_day, last_day = qualifying_days(fresh.scope.as_of, fresh.scope.settings)
    first, last = first_day.toordinal(), last_day.toordinal()
    session, org_id = fresh.session, fresh.scope.org_id
    found = rollup_table.sums(session, org_id, first, last, PREDICTION_MEASURES, False)
    if without:
        stored = measure_sums(rollup_table.outcome_rows(session, org_id, list(without)), ())
        for (day, measure), n in stored.items():
            if first <= day <= last and measure in PREDICTION_MEASURES:
                found[(0, measure)] -= n
    counts = {
        tier: (found[(0, f"tried:{tier}")], found[(0, f"reached:{tier}")])
        for tier in AT_RISK_TIERS
        if found[(0, f"tried:{tier}")]
    }
    return counts, fresh.histories_of(without)
