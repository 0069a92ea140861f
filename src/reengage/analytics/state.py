"""Keeping the derived rows in step with the records.

Three tables: ``patient_state`` (what the risk rules need), ``attempt_outcomes`` (what the
success-rate prediction and the outreach funnels sum) and ``risk_spans`` (the at-risk tiers
each patient went through, day by day: what trends count); and two per org:
``daily_rollups`` (their sums per day) and ``derived_status`` (whether all of it is
complete, and up to when). Every write of records refreshes them for the patients it
touched, in the same transaction; a change of the settings they depend on, a bulk load, or
an operator (``reengage state rebuild``) rebuilds a whole org. They are a cache: the
straight computation from events is the reference, and the tests hold the two together.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from reengage.analytics import queries, rollup_queries, rollups
from reengage.analytics.queries import DerivedRows
from reengage.analytics.rollup_queries import Sums
from reengage.domain.calendar import local_date
from reengage.domain.history import PatientHistory
from reengage.domain.prediction import attempt_outcomes
from reengage.domain.spells import risk_spans, settled
from reengage.domain.state import PatientState, summarize
from reengage.orgs import service as orgs_service

REBUILD_CHUNK = 2000


def refresh(session: Session, org_id: str, patient_ids: Iterable[str]) -> None:
    """Recompute the derived rows of these patients from their records, and move the
    roll-ups by the difference between their new rows and their old ones."""
    ids = sorted(set(patient_ids))
    if not ids:
        return
    rollup_queries.lock_states(session, org_id, ids)
    old = rollups.measure_sums(
        rollup_queries.outcome_rows(session, org_id, ids),
        rollup_queries.span_rows(session, org_id, ids),
    )
    written = _write(session, org_id, queries.load_histories(session, org_id, ids), ids)
    rollup_queries.add(session, org_id, rollups.difference(written.sums, old))
    rollup_queries.extend_status(session, org_id, written.latest_at)


def rebuild(
    session: Session, org_id: str, progress: Callable[[int, int], None] | None = None
) -> int:
    """Recompute the derived rows of every patient of the org, their roll-ups and the org's
    derived status; returns how many patients.

    The old rows go in one statement, and patients are read in id ranges, not id lists:
    a rebuild is what a bulk load and a settings change wait for.
    """
    ids = queries.patient_ids(session, org_id)
    queries.replace_derived(session, org_id, None, DerivedRows())
    rollup_queries.clear(session, org_id)
    total = Written()
    for start in range(0, len(ids), REBUILD_CHUNK):
        chunk = ids[start : start + REBUILD_CHUNK]
        loaded = queries.load_histories(session, org_id, id_range=(chunk[0], chunk[-1]))
        total.add(_write(session, org_id, loaded, None))
        # The patients were read only to be summarized: keep the session from growing.
        for patient, _ in loaded:
            session.expunge(patient)
        if progress is not None:
            progress(start + len(chunk), len(ids))
    rollup_queries.insert(session, org_id, total.sums)
    key = orgs_service.get_settings(session, org_id).derivation_key()
    rollup_queries.set_status(session, org_id, key, total.latest_at)
    return len(ids)


@dataclass
class Written:
    """What a write of derived rows adds to the roll-ups, and its latest timestamp."""

    sums: Sums = field(default_factory=Counter)
    latest_at: datetime | None = None

    def add(self, other: Written) -> None:
        self.sums.update(other.sums)
        self.latest_at = _later(self.latest_at, other.latest_at)


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None or (b is not None and b > a) else a


def _write(
    session: Session,
    org_id: str,
    loaded: list[tuple[Any, PatientHistory]],
    replace_ids: list[str] | None,
) -> Written:
    """Summarize the loaded histories and store the rows (replacing those of
    ``replace_ids``; with None, the caller has already cleared them)."""
    settings = orgs_service.get_settings(session, org_id)
    zone = settings.zone()
    key = settings.derivation_key()
    rows = DerivedRows()
    latest: datetime | None = None
    for _, history in loaded:
        state = summarize(history, zone)
        rows.states.append(_row(org_id, state, key))
        latest = _later(latest, state.horizon_at)
        shared = {"horizon_at": state.horizon_at, "settings_key": key}
        comms = {c.id: c for c in history.communications}
        for o in attempt_outcomes(history, settings):
            comm = comms[o.communication_id]
            for at in (comm.delivered_at, comm.opened_at, comm.responded_at, o.converted_at):
                latest = _later(latest, at)
            rows.outcomes.append(
                {
                    "org_id": org_id,
                    "communication_id": o.communication_id,
                    "patient_id": history.id,
                    "sent_at": o.sent_at,
                    "sent_day": _day(o.sent_at, zone),
                    "tier_before": o.tier_before,
                    "contacted": int(o.contacted),
                    "converted_at": o.converted_at,
                    "converted_day": _day(o.converted_at, zone) if o.converted_at else None,
                    "channel": comm.channel,
                    "delivered_at": comm.delivered_at,
                    "opened_at": comm.opened_at,
                    "responded_at": comm.responded_at,
                    "connected_at": comm.connected_at,
                    **shared,
                }
            )
        rows.spans += (
            {"org_id": org_id, "patient_id": history.id, **rollups.span_values(span), **shared}
            for span in risk_spans(history, settled(history, settings), settings)
        )
    if replace_ids is None:
        queries.insert_derived(session, rows)
    else:
        queries.replace_derived(session, org_id, replace_ids, rows)
    return Written(rollups.measure_sums(rows.outcomes, rows.spans), latest)


def _day(at: datetime, zone: ZoneInfo) -> int:
    return local_date(at, zone).toordinal()


def _row(org_id: str, state: PatientState, settings_key: str) -> dict[str, Any]:
    missed = state.missed_days + (None,) * (3 - len(state.missed_days))
    return {
        "org_id": org_id,
        "patient_id": state.patient_id,
        "status": state.status,
        "start_at": state.start_at,
        "horizon_at": state.horizon_at,
        "last_contact_at": state.last_contact_at,
        "contact_day": state.contact_day,
        "future_until": state.future_until,
        "missed_day_1": missed[0],
        "missed_day_2": missed[1],
        "missed_day_3": missed[2],
        "failed_sent_at": state.failed_sent_at,
        "failed_day": state.failed_day,
        "last_attempt_day": state.last_attempt_day,
        "followup_due_at": state.followup_due_at,
        "followup_due_day": state.followup_due_day,
        "settings_key": settings_key,
    }
