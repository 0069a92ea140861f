"""``reengage demo``: fill an org with a generated clinic, creating the org if need be.

Kept out of ``cli.py`` so the generator's options live beside the generator; ``cli.py``
only registers it. Progress goes to stderr so that stdout stays parseable: when the org is
created, its admin key is the last line, as for ``reengage orgs create``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, NoReturn

import typer
from sqlalchemy import Engine, delete

from reengage import clock
from reengage.auth import repository
from reengage.auth import service as auth_service
from reengage.config import get_settings
from reengage.db import migrate
from reengage.db.engine import make_engine, make_sessionmaker
from reengage.demo.loader import DemoError, Progress, load_demo
from reengage.models import ApiKey, Org
from reengage.orgs import service as orgs_service

DEFAULT_NAME = "Demo physiotherapy clinic"


def demo(
    org_id: Annotated[
        str, typer.Argument(help="Org to fill; created, with an admin key, if it does not exist")
    ],
    patients: Annotated[
        int, typer.Option(min=1, max=2_000_000, help="How many patients to generate")
    ] = 2000,
    seed: Annotated[int, typer.Option(help="Same seed, patients and --as-of: same clinic")] = 1,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="ISO datetime with offset at which the history ends (default: now)",
        ),
    ] = None,
    name: Annotated[str | None, typer.Option(help="Display name, when the org is created")] = None,
    timezone: Annotated[
        str | None, typer.Option(help="IANA timezone, when the org is created (default UTC)")
    ] = None,
) -> None:
    """Load a generated demo clinic (18 months of history) into an empty org.

    Creates the org and prints a new admin key (last line) if it does not exist.
    """
    instant = parse_as_of(as_of) if as_of is not None else clock.now()
    url = get_settings().database_url
    if not migrate.current_revision_is_head(url):
        _fail("the database schema is not current: run 'reengage db upgrade' first")
    engine = make_engine(url)
    try:
        created_key = _ensure_org(engine, org_id, name, timezone)
        try:
            summary = load_demo(engine, org_id, patients, seed, instant, _progress_printer())
        except BaseException as exc:
            if created_key is not None:
                _remove_org(engine, org_id)
            if isinstance(exc, DemoError):
                _fail(str(exc))
            raise
    finally:
        engine.dispose()
    typer.echo(
        f"loaded demo into {org_id}: {summary.patients:,} patients, "
        f"{summary.appointments:,} appointments, {summary.communications:,} communications, "
        f"{summary.followups:,} followups in {summary.seconds:.1f} s "
        f"(seed {seed}, as of {instant.isoformat()})"
    )
    if created_key is not None:
        key_id, key = created_key
        typer.echo(f"created org {org_id}; admin key id {key_id}; the key:")
        typer.echo(key)


def parse_as_of(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        _fail(f"--as-of must be an ISO 8601 datetime with an offset, e.g. {_EXAMPLE}")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        _fail(f"--as-of needs a UTC offset (e.g. {_EXAMPLE}): without one it is ambiguous")
    return parsed


_EXAMPLE = "2026-11-24T17:00:00+11:00"


def _ensure_org(
    engine: Engine, org_id: str, name: str | None, timezone: str | None
) -> tuple[str, str] | None:
    """Create the org and an admin key if it is missing; the (key id, key) when created."""
    with make_sessionmaker(engine)() as session:
        existing = repository.get_org(session, org_id)
        if existing is not None:
            current = existing.settings.get("timezone", "UTC")
            if timezone is not None and timezone != current:
                typer.echo(
                    f"note: org {org_id} exists with timezone {current}; --timezone is ignored",
                    err=True,
                )
            return None
        try:
            orgs_service.create_org(session, org_id, name or DEFAULT_NAME, timezone or "UTC")
            row, key = auth_service.create_key(session, org_id, "admin", "created with the demo")
        except auth_service.AuthError as exc:
            _fail(str(exc))
        session.commit()
        return row.id, key


def _remove_org(engine: Engine, org_id: str) -> None:
    """Undo an org this command created when its demo failed: nothing half-made is left."""
    with engine.begin() as conn:
        conn.execute(delete(ApiKey).where(ApiKey.org_id == org_id))
        conn.execute(delete(Org).where(Org.id == org_id))


def _progress_printer() -> Progress:
    shown = {"step": -1}

    def progress(stage: str, done: int, total: int) -> None:
        # About ten lines however large the demo: enough to see it move.
        step = done * 10 // max(total, 1)
        if step != shown["step"]:
            shown["step"] = step
            typer.echo(f"{stage} {done}/{total}", err=True)

    return progress


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=1)
