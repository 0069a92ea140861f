"""The ``reengage`` command: serve, worker, db, orgs, keys, state, import, quickstart.

Commands that create a key print it as the last line of their output, alone, so scripts can
take it with ``tail -n 1``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from sqlalchemy.orm import Session, sessionmaker

from reengage.auth import service as auth_service
from reengage.config import get_settings
from reengage.db import migrate
from reengage.db.engine import make_engine, make_sessionmaker
from reengage.logs import configure as configure_logging
from reengage.orgs import service as orgs_service

app = typer.Typer(
    help="reengage: patient reengagement analytics for outpatient clinics.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
orgs_app = typer.Typer(help="Organizations (clinics or clinic groups).", no_args_is_help=True)
keys_app = typer.Typer(
    help="API keys. Only hashes are stored: a key is shown once.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(orgs_app, name="orgs")
state_app = typer.Typer(
    help="Derived per-patient state (a cache of the records).", no_args_is_help=True
)
app.add_typer(keys_app, name="keys")
app.add_typer(state_app, name="state")
import_app = typer.Typer(
    help="Bring a clinic's history in: CSV exports (with a mapping profile) and FHIR R4.",
    no_args_is_help=True,
)
app.add_typer(import_app, name="import")


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=1)


def _sessions() -> sessionmaker[Session]:
    url = get_settings().database_url
    if not migrate.current_revision_is_head(url):
        _fail("the database schema is not current: run 'reengage db upgrade' first")
    return make_sessionmaker(make_engine(url))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database (REENGAGE_DATABASE_URL) to the current schema."""
    from reengage.derived import status

    url = get_settings().database_url
    migrate.upgrade(url)
    typer.echo("database is at the current schema")
    # Some upgrades (0004, 0007) leave orgs' derived rows incomplete: say which, and how.
    with _sessions()() as session:
        orgs = _org_ids(session, None)
        waiting = [one for one in orgs if status.read(session, one) is None]
    for one in waiting:
        typer.echo(
            f"{one}: answers correctly but more slowly until 'reengage state rebuild {one}' "
            "(about a minute per 100,000 patients)"
        )


@orgs_app.command("create")
def orgs_create(
    org_id: Annotated[str, typer.Argument(help="Short id used in API paths, e.g. org_demo")],
    name: Annotated[str, typer.Option(help="Display name of the clinic or group")],
    timezone: Annotated[str, typer.Option(help="IANA timezone for calendar days")] = "UTC",
) -> None:
    """Create an org and print a new admin key (last line)."""
    with _sessions()() as session:
        try:
            orgs_service.create_org(session, org_id, name, timezone)
            row, key = auth_service.create_key(session, org_id, "admin", "created with the org")
        except auth_service.AuthError as exc:
            _fail(str(exc))
        session.commit()
    typer.echo(f"created org {org_id} ({timezone}); admin key id {row.id}; the key:")
    typer.echo(key)


@orgs_app.command("list")
def orgs_list() -> None:
    """List orgs."""
    from reengage.auth import repository

    with _sessions()() as session:
        for org in repository.list_orgs(session):
            typer.echo(f"{org.id}\t{org.name}\t{org.settings.get('timezone', 'UTC')}")


@keys_app.command("create")
def keys_create(
    org_id: str,
    role: Annotated[str, typer.Option(help="admin | staff | ingest | viewer")],
    label: Annotated[str | None, typer.Option(help="What the key is for")] = None,
) -> None:
    """Create a key and print it (last line). It cannot be shown again."""
    with _sessions()() as session:
        try:
            row, key = auth_service.create_key(session, org_id, role, label)
        except auth_service.AuthError as exc:
            _fail(str(exc))
        session.commit()
    typer.echo(f"created {role} key id {row.id} for {org_id}; the key:")
    typer.echo(key)


@keys_app.command("list")
def keys_list(org_id: str) -> None:
    """List an org's keys: id, role, state, label. Never the keys themselves."""
    with _sessions()() as session:
        try:
            rows = auth_service.list_keys(session, org_id)
        except auth_service.AuthError as exc:
            _fail(str(exc))
        typer.echo("id\trole\tcreated\tstate\tlast used\tlabel")
        for row in rows:
            state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "active"
            used = f"{row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "never"
            created = f"{row.created_at:%Y-%m-%d}"
            typer.echo("\t".join((row.id, row.role, created, state, used, row.label or "")))


@keys_app.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke a key by id: it gets 401 from then on."""
    with _sessions()() as session:
        try:
            row = auth_service.revoke_key(session, key_id)
        except auth_service.AuthError as exc:
            _fail(str(exc))
        session.commit()
    typer.echo(f"revoked key {row.id} ({row.role}, {row.org_id})")


def _org_ids(session: Session, org_id: str | None) -> list[str]:
    """That org (it must exist), or every org."""
    from reengage.auth import repository

    if org_id is None:
        return [org.id for org in repository.list_orgs(session)]
    if repository.get_org(session, org_id) is None:
        _fail(f"no org '{org_id}'")
    return [org_id]


@state_app.command("rebuild")
def state_rebuild(
    org_id: Annotated[str | None, typer.Argument(help="One org; all orgs when left out")] = None,
) -> None:
    """Recompute every patient's derived state from the records (safe to run any time)."""
    from reengage.derived import upkeep

    with _sessions()() as session:
        for one in _org_ids(session, org_id):
            settings = orgs_service.get_settings(session, one)
            count = upkeep.rebuild(session, one, settings, workers=None)
            session.commit()
            typer.echo(f"{one}: {count} patients")


@state_app.command("today")
def state_today(
    org_id: Annotated[str | None, typer.Argument(help="One org; all orgs when left out")] = None,
) -> None:
    """Store where every patient stands now, so that the day's first analytics request
    does not wait for it (run it from cron soon after midnight; about half a second per
    100,000 patients)."""
    import time

    from reengage import clock
    from reengage.risk import service

    with _sessions()() as session:
        for one in _org_ids(session, org_id):
            started = time.perf_counter()
            stored = service.store_today(session, one, clock.now())
            session.commit()
            seconds = time.perf_counter() - started
            typer.echo(
                f"{one}: stored in {seconds:.1f} s"
                if stored
                else f"{one}: not stored (records dated after now, or run 'reengage state rebuild')"
            )


def _import(
    format_: str,
    org_id: str,
    paths: list[Path],
    dry_run: bool,
    keep_valid: bool,
    profiles: list[str] | None = None,
    phone_region: str | None = None,
) -> None:
    from reengage.imports import progress, service, sources
    from reengage.imports.profiles import ProfileError

    with _sessions()() as session:
        try:
            if format_ == "csv":
                source = sources.open_csv_sources(session, org_id, paths, profiles or [])
            else:
                source = sources.open_source(
                    session, org_id, format_, paths[0], phone_region=phone_region
                )
        except LookupError:
            _fail(f"no org '{org_id}'")
        except (ProfileError, ValueError) as exc:
            _fail(str(exc))
        with progress.bar(source.name) as step:
            report = service.run(
                session,
                org_id,
                source,
                dry_run=dry_run,
                keep_valid=keep_valid,
                progress=step,
                workers=None,  # a command may fork workers for the derived state
            )
        if report.kept:
            session.commit()
        else:
            session.rollback()
    for line in progress.summary_lines(report):
        typer.echo(line)
    if report.problem_count and not report.kept:
        raise typer.Exit(code=1)


DryRun = Annotated[
    bool, typer.Option("--dry-run", help="Check everything and report; write nothing")
]
KeepValid = Annotated[
    bool,
    typer.Option(
        "--keep-valid",
        help="Write the records that pass and report the refused (default: a refused record "
        "keeps nothing)",
    ),
]


@import_app.command("csv")
def import_csv(
    org_id: str,
    files: Annotated[list[Path], typer.Argument(help="The CSV export(s), imported as one")],
    profile: Annotated[
        list[str],
        typer.Option(
            help="A built-in profile (see 'reengage import profiles') or a profile file; "
            "once for all the files, or once per file in the same order"
        ),
    ],
    dry_run: DryRun = False,
    keep_valid: KeepValid = False,
) -> None:
    """Import CSV exports read through mapping profiles: several files are one import (one
    transaction; a later file may name patients of an earlier one)."""
    _import("csv", org_id, files, dry_run, keep_valid, profiles=profile)


@import_app.command("fhir")
def import_fhir(
    org_id: str,
    path: Annotated[
        Path, typer.Argument(help="A Bundle or resource (.json), NDJSON file(s), or a folder")
    ],
    phone_region: Annotated[
        str | None, typer.Option(help="Region for phone numbers written without +, e.g. AU")
    ] = None,
    dry_run: DryRun = False,
    keep_valid: KeepValid = False,
) -> None:
    """Import FHIR R4: a Bundle, one resource, or a Bulk Data export (NDJSON)."""
    _import("fhir", org_id, [path], dry_run, keep_valid, phone_region=phone_region)


@import_app.command("profiles")
def import_profiles() -> None:
    """List the built-in CSV mapping profiles."""
    from reengage.imports import profiles

    for name in profiles.builtin_names():
        profile = profiles.load(name, "UTC")
        typer.echo(f"{name}\t{', '.join(profile.kind_names)}\t{profile.title}")


@app.command("secret-key")
def secret_key() -> None:
    """Print a new key for REENGAGE_SECRET_KEY, which encrypts providers' credentials (keep
    it out of the database's backups; changing it makes stored credentials unreadable)."""
    from reengage.providers import secrets

    typer.echo(secrets.new_key())


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Worker processes, each with its own connections (for PostgreSQL; on "
            "SQLite, writes still go one at a time). Default 1.",
        ),
    ] = 1,
) -> None:
    """Serve the API and dashboard until stopped."""
    from reengage import serving

    settings = get_settings()
    configure_logging(settings.log_level)
    if not migrate.current_revision_is_head(settings.database_url):
        _fail("the database schema is not current: run 'reengage db upgrade' first")
    try:
        serving.serve(host, port, workers)
    except OSError as exc:
        _fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")


@app.command()
def worker(
    once: Annotated[
        bool, typer.Option("--once", help="One pass over every org and job, then exit")
    ] = False,
    list_jobs: Annotated[bool, typer.Option("--list", help="List the jobs and exit")] = False,
    org: Annotated[
        list[str] | None, typer.Option("--org", help="Only this org (repeat for several)")
    ] = None,
) -> None:
    """Run the scheduled jobs (alert rules, digests, webhook deliveries, the nightly
    standings, rebuilds after a settings change) until SIGTERM. On PostgreSQL, run one or
    more beside `reengage serve`: each slot runs once, whichever worker takes it."""
    from reengage.db.engine import make_engine
    from reengage.jobs import catalog, process

    if list_jobs:
        for job in catalog.JOBS:
            when = (
                f"every {int(job.every.total_seconds() // 60)} minutes"
                if job.every
                else "daily"
                if job.daily
                else "when there is work"
            )
            typer.echo(f"{job.name}\t{when}")
        return
    settings = get_settings()
    configure_logging(settings.log_level)
    if not migrate.current_revision_is_head(settings.database_url):
        _fail("the database schema is not current: run 'reengage db upgrade' first")
    engine = make_engine(settings.database_url)
    if org:
        with make_sessionmaker(engine)() as session:
            for one in org:
                _org_ids(session, one)
    found = process.scheduler(settings, engine, rebuild_workers=None, orgs=org)
    if once:
        for ran in found.run_once():
            if ran.outcome in ("ran", "failed"):
                typer.echo(f"{ran.org_id}\t{ran.job}\t{ran.slot or '-'}\t{ran.outcome}")
        found.locks.close()
        return
    tick = settings.scheduler_tick_seconds
    typer.echo(f"reengage worker: {len(catalog.JOBS)} jobs, a pass every {tick:g} s")
    process.run_until_stopped(found)
    typer.echo("reengage worker: stopped")


@app.command()
def quickstart(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    demo_as_of: Annotated[
        str | None,
        typer.Option(
            "--demo-as-of",
            help="ISO datetime with offset at which the demo's history ends, when it is "
            "loaded (default: now); the README's figures are at 2026-11-24T17:00:00+11:00",
        ),
    ] = None,
) -> None:
    """Migrate, load a demo clinic on first run, print a key and the URL, then serve."""
    from reengage.demo.command import parse_as_of
    from reengage.quickstart import DEMO_ORG, prepare

    settings = get_settings()
    configure_logging(settings.log_level)
    ends = parse_as_of(demo_as_of) if demo_as_of else None
    key = prepare(settings.database_url, demo_as_of=ends)
    base = f"http://{host}:{port}"
    typer.echo(
        f"\nreengage is starting at {base}/  (API docs: {base}/docs)\n"
        f"dashboard: open {base}/ in a browser and sign in with the admin key below\n"
        f"demo org: {DEMO_ORG}\n"
        f"try:  curl -H 'Authorization: Bearer {key}' \\\n"
        f"        {base}/api/v1/orgs/{DEMO_ORG}/patients?limit=2\n"
        f"admin key (also in .reengage/demo-admin-key):\n{key}\n"
    )
    serve(host=host, port=port)


from reengage.demo.command import demo as demo_command  # noqa: E402

app.command("demo")(demo_command)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
