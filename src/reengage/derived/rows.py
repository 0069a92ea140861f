"""The derived rows of patients' histories, and how they are written.

Three tables per patient: ``patient_state`` (what the risk rules need, ``domain.state``),
``attempt_outcomes`` (what the success-rate prediction and the outreach funnels sum) and
``risk_spans`` (the at-risk tiers each patient went through, day by day: what trends
count). ``derive`` is pure, so that a rebuild can run it in worker processes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete
from sqlalchemy.orm import Session

from reengage.db import bulk
from reengage.derived import rollups
from reengage.derived.histories import PackedHistory, patient_selections, unpack
from reengage.derived.rollup_table import Sums
from reengage.domain.calendar import local_date
from reengage.domain.history import PatientHistory
from reengage.domain.prediction import attempt_outcomes
from reengage.domain.settings import OrgSettings
from reengage.domain.spells import risk_spans, settled
from reengage.domain.state import PatientState, summarize
from reengage.domain.tier_timeline import TierTimeline
from reengage.models import AttemptOutcome, RiskSpan
from reengage.models import PatientState as PatientStateRow


@dataclass
class DerivedRows:
    """A write's derived rows per table: dicts by column name, or, once ``prepared``, value
    lists in ``COPY``'s form."""

    states: list[Any] = field(default_factory=list)
    outcomes: list[Any] = field(default_factory=list)
    spans: list[Any] = field(default_factory=list)
    is_prepared: bool = False

    def by_model(self) -> list[tuple[Any, list[Any]]]:
        return [
            (PatientStateRow, self.states),
            (AttemptOutcome, self.outcomes),
            (RiskSpan, self.spans),
        ]

    def prepared(self) -> DerivedRows:
        """The rows converted for ``COPY`` (``bulk.converter``): done where they are
        computed, a worker process, so that the writing process only sends them."""
        states, outcomes, spans = (
            list(map(bulk.converter(model.__table__), values)) for model, values in self.by_model()
        )
        return DerivedRows(states, outcomes, spans, is_prepared=True)


def replace(session: Session, org_id: str, ids: Sequence[str] | None, rows: DerivedRows) -> None:
    """Swap the derived rows of these patients (``None``: of the whole org) for new ones."""
    for model, _ in rows.by_model():
        table: Any = model.__table__
        for where in patient_selections(table.c.patient_id, ids, None):
            session.execute(delete(table).where(table.c.org_id == org_id, *where))
    insert_derived(session, rows)


def insert_derived(session: Session, rows: DerivedRows) -> None:
    """``COPY`` on PostgreSQL, executemany elsewhere, on the session's connection: the ORM's
    bulk path costs more per row."""
    connection = session.connection()
    write = bulk.prepared_writer(connection) if rows.is_prepared else bulk.writer(connection)
    for model, values in rows.by_model():
        write(model.__table__, values)


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


def derive(
    org_id: str, settings: OrgSettings, histories: Iterable[PatientHistory]
) -> tuple[DerivedRows, Written]:
    """The derived rows of these histories, and what they add to the roll-ups. Pure: it
    runs in worker processes too (``OrgBuild``)."""
    zone = settings.zone()
    key = settings.derivation_key()
    rows = DerivedRows()
    latest: datetime | None = None
    for history in histories:
        state = summarize(history, zone)
        rows.states.append(_row(org_id, state, key))
        latest = _later(latest, state.horizon_at)
        shared = {"horizon_at": state.horizon_at, "settings_key": key}
        comms = {c.id: c for c in history.communications}
        timeline = TierTimeline(history, settings)
        for o in attempt_outcomes(history, settings, timeline):
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
            for span in risk_spans(history, settled(history, settings), settings, timeline)
        )
    return rows, Written(rollups.measure_sums(rows.outcomes, rows.spans), latest)


def derive_packed(
    org_id: str, settings: OrgSettings, packed: list[PackedHistory], prepared: bool
) -> tuple[DerivedRows, Written]:
    """``derive`` of packed histories, the rows ``prepared`` for COPY when asked: what a
    worker process is sent."""
    rows, written = derive(org_id, settings, map(unpack, packed))
    return (rows.prepared() if prepared else rows), written


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
        "completed": state.completed,
        "last_completed_at": state.last_completed_at,
        "attempts": state.attempts,
        "successes_morning": state.successes[0],
        "successes_afternoon": state.successes[1],
        "successes_evening": state.successes[2],
        "recent_from": state.recent_from,
        "settings_key": settings_key,
    }
