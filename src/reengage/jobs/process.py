"""The scheduler as a process runs it: inside ``reengage serve`` (a thread), or as
``reengage worker`` (the main thread, until SIGTERM)."""

from __future__ import annotations

import signal
from collections.abc import Sequence
from types import FrameType

from sqlalchemy import Engine

from reengage.alerts.deliveries import Mailer, Outbound
from reengage.checkins.service import SendingConfig
from reengage.config import Settings, base_url
from reengage.db.engine import make_sessionmaker
from reengage.jobs.catalog import JOBS
from reengage.jobs.scheduler import Context, Scheduler


def outbound(settings: Settings) -> Outbound:
    mailer = (
        Mailer(
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=settings.smtp_security,
            username=settings.smtp_username,
            password=settings.smtp_password,
            sender=settings.smtp_from,
            timeout=settings.delivery_timeout_seconds,
        )
        if settings.smtp_host
        else None
    )
    return Outbound(settings.secret_key, mailer, settings.delivery_timeout_seconds)


def sending(settings: Settings) -> SendingConfig:
    return SendingConfig(
        secret_key=settings.secret_key,
        twilio_api_url=settings.twilio_api_url,
        sendgrid_api_url=settings.sendgrid_api_url,
        public_url=settings.public_url,
        timeout=settings.delivery_timeout_seconds,
    )


def scheduler(
    settings: Settings,
    engine: Engine,
    rebuild_workers: int | None = 0,
    orgs: Sequence[str] | None = None,
) -> Scheduler:
    context = Context(
        sessions=make_sessionmaker(engine),
        outbound=outbound(settings),
        base_url=base_url(settings),
        rebuild_workers=rebuild_workers,
        sending=sending(settings),
    )
    return Scheduler(context, engine, JOBS, settings.scheduler_tick_seconds, orgs)


def runs_in_server(settings: Settings, engine: Engine) -> bool:
    if settings.scheduler == "auto":
        return engine.dialect.name == "sqlite"
    return settings.scheduler == "on"


def run_until_stopped(found: Scheduler) -> None:
    """Run in this thread; SIGTERM or SIGINT finishes the job in hand, then stops."""

    def stop(signum: int, frame: FrameType | None) -> None:
        found.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    found.run_forever()
