"""Every job the scheduler runs, named for what it does (``reengage worker --list`` and
``docs/alerts.md`` show this table)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from reengage import clock
from reengage.alerts import deliveries, digest
from reengage.alerts import repository as alerts_repository
from reengage.alerts import service as alerts_service
from reengage.checkins import service as checkins
from reengage.db.locks import lock_org_writes
from reengage.derived import alert_checks, status, upkeep
from reengage.domain.settings import OrgSettings
from reengage.jobs import repository
from reengage.jobs.scheduler import Context, Job
from reengage.orgs import service as orgs_service
from reengage.risk import service as risk_service

EVALUATE_EVERY = timedelta(minutes=5)
STANDINGS_AT = (0, 1)  # just after local midnight
PRUNE_AT = (3, 0)
KEEP_RUNS = timedelta(days=30)


def evaluate(context: Context, session: Session, org_id: str, now: datetime) -> None:
    alerts_service.evaluate(session, org_id, now)


def check_written(context: Context, session: Session, org_id: str, now: datetime) -> None:
    alerts_service.evaluate_written(session, org_id, now)


def send_digest(context: Context, session: Session, org_id: str, now: datetime) -> None:
    digest.enqueue(session, org_id, now, context.base_url)


def send_deliveries(context: Context, session: Session, org_id: str, now: datetime) -> None:
    deliveries.send_due(context.sessions, org_id, context.outbound)


def prepare_checkins(context: Context, session: Session, org_id: str, now: datetime) -> None:
    checkins.prepare(session, org_id, now)


def send_checkins(context: Context, session: Session, org_id: str, now: datetime) -> None:
    checkins.send_due(context.sessions, org_id, context.sending)


def store_standings(context: Context, session: Session, org_id: str, now: datetime) -> None:
    risk_service.store_today(session, org_id, now)


def derived_stale(session: Session, org_id: str) -> bool:
    found = status.read(session, org_id)
    settings = orgs_service.get_settings(session, org_id)
    return found is None or found.settings_key != settings.derivation_key()


def rebuild_derived(context: Context, session: Session, org_id: str, now: datetime) -> None:
    """After a settings change (or an upgrade that left the rows incomplete): the answers
    come from the histories, correct but slower, until this has run."""
    lock_org_writes(session, org_id)
    if derived_stale(session, org_id):
        settings = orgs_service.get_settings(session, org_id)
        upkeep.rebuild(session, org_id, settings, workers=context.rebuild_workers)


def prune(context: Context, session: Session, org_id: str, now: datetime) -> None:
    repository.prune(session, org_id, now - KEEP_RUNS)


def _digest_time(settings: OrgSettings) -> tuple[int, int] | None:
    wanted = settings.digest
    return wanted.clock() if wanted.enabled and wanted.recipients else None


def _deliveries_due(session: Session, org_id: str) -> bool:
    return bool(alerts_repository.due_deliveries(session, org_id, clock.now(), 1))


JOBS: tuple[Job, ...] = (
    # First, so a settings change is not judged on the histories for longer than it takes.
    Job("derived-rebuild", rebuild_derived, has_work=derived_stale),
    Job("standings-today", store_standings, daily=lambda _: STANDINGS_AT),
    Job("alerts-checks", check_written, has_work=alert_checks.waiting),
    Job("alerts-evaluate", evaluate, every=EVALUATE_EVERY),
    Job("alerts-digest", send_digest, daily=_digest_time),
    Job("deliveries-send", send_deliveries, has_work=_deliveries_due),
    Job("checkins-prepare", prepare_checkins, has_work=checkins.batch_due),
    Job("checkins-send", send_checkins, has_work=checkins.has_work),
    Job("jobs-prune", prune, daily=lambda _: PRUNE_AT),
)
BY_NAME = {job.name: job for job in JOBS}
