"""``reengage quickstart``: from an empty database to a running demo clinic in one command.

Re-running it keeps the data and the key: the demo admin key is kept in a file beside the
SQLite database (mode 600) because the database holds only its hash.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from reengage import clock
from reengage.auth import repository
from reengage.auth import service as auth_service
from reengage.db import migrate
from reengage.db.engine import make_engine, make_sessionmaker
from reengage.demo import load_demo
from reengage.orgs import service as orgs_service
from reengage.records import repository as records_repository

DEMO_ORG = "org_demo"
DEMO_NAME = "Harbourside Physio (demo)"
DEMO_TIMEZONE = "Australia/Sydney"
DEMO_PATIENTS = 2000
DEMO_SEED = 1
KEY_FILE = Path(".reengage/demo-admin-key")


def prepare(
    database_url: str, key_file: Path = KEY_FILE, demo_as_of: datetime | None = None
) -> str:
    """Migrate, load the demo clinic if it is missing, and return a working admin key.

    ``demo_as_of``: where the demo's history ends when it is loaded (default now); a fixed
    instant gives the same clinic on any day, as the README's examples need."""
    migrate.upgrade(database_url)
    engine = make_engine(database_url)
    try:
        if _demo_org_is_empty(engine):
            print(f"loading the demo clinic: {DEMO_PATIENTS:,} patients...", file=sys.stderr)
            ends = demo_as_of if demo_as_of is not None else clock.now()
            load_demo(engine, DEMO_ORG, DEMO_PATIENTS, DEMO_SEED, ends)
        return _demo_key(engine, key_file)
    finally:
        engine.dispose()


def _demo_org_is_empty(engine: Engine) -> bool:
    """Create the demo org if missing; True while it has no patients (also after a failed
    load, which keeps nothing, so the next run tries again)."""
    with make_sessionmaker(engine)() as session:
        if repository.get_org(session, DEMO_ORG) is None:
            orgs_service.create_org(session, DEMO_ORG, DEMO_NAME, DEMO_TIMEZONE)
            session.commit()
        return records_repository.count_patients(session, DEMO_ORG) == 0


def _demo_key(engine: Engine, key_file: Path) -> str:
    with make_sessionmaker(engine)() as session:
        if key_file.exists():
            key = key_file.read_text().strip()
            principal = auth_service.authenticate(session, key)
            if principal is not None and principal.org_id == DEMO_ORG:
                session.commit()
                return key
        _row, key = auth_service.create_key(session, DEMO_ORG, "admin", "quickstart")
        session.commit()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key
