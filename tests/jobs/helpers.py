"""A job whose every run leaves one row, so a test can count the runs that committed; also
run by ``python -m tests.jobs.helpers`` in a worker process the tests kill mid-slot."""

from __future__ import annotations

import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from reengage import clock
from reengage.alerts.deliveries import Outbound
from reengage.db.engine import make_engine, make_sessionmaker
from reengage.jobs.scheduler import Context, Job, Scheduler
from reengage.models import DeliveryAttempt


def counting_job(
    name: str = "test-count",
    hold_seconds: float = 0.0,
    marker: Path | None = None,
    every: timedelta | None = timedelta(minutes=5),
) -> Job:
    """Writes a row (a delivery attempt of a made-up delivery) in the slot's transaction,
    then holds it for ``hold_seconds``; ``marker`` is written once the row is."""

    def run(context: Context, session: Session, org_id: str, now: datetime) -> None:
        session.add(
            DeliveryAttempt(
                org_id=org_id,
                delivery_id=f"{name}-{uuid.uuid4().hex[:12]}",
                attempt=1,
                at=now,
                ok=True,
                status_code=None,
                error=None,
                milliseconds=0,
            )
        )
        session.flush()
        if marker is not None:
            marker.write_text("in the slot")
        time.sleep(hold_seconds)

    return Job(name, run, every=every)


def runs_counted(engine: Engine, org_id: str, name: str = "test-count") -> int:
    with make_sessionmaker(engine)() as session:
        t = DeliveryAttempt
        stmt = select(func.count()).where(t.org_id == org_id, t.delivery_id.like(f"{name}-%"))
        return int(session.scalar(stmt) or 0)


def scheduler_of(engine: Engine, org_id: str, *jobs: Job) -> Scheduler:
    context = Context(sessions=make_sessionmaker(engine), outbound=Outbound("", None), base_url="")
    return Scheduler(context, engine, jobs, tick=0.2, orgs=[org_id])


def main() -> None:
    """``python -m tests.jobs.helpers URL ORG MARKER INSTANT``: run the counting job's slot
    at INSTANT, holding it for a minute (the test kills this process meanwhile)."""
    url, org_id, marker, instant = sys.argv[1:5]
    engine = make_engine(url)
    job = counting_job(hold_seconds=60, marker=Path(marker))
    with clock.frozen_at(datetime.fromisoformat(instant)):
        scheduler_of(engine, org_id, job).run_once()


if __name__ == "__main__":
    main()
