"""Test databases are built by the real migrations, once per run, on SQLite and PostgreSQL.

Every DB-backed test runs once per database named in ``REENGAGE_TEST_DATABASES``
(default: both). Tests isolate themselves by creating their own org, so nothing is
truncated between tests: which is also a standing check that every query is org-scoped.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import Browser
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from reengage.app import create_app
from reengage.config import Settings
from reengage.db import migrate
from reengage.db.engine import make_engine, make_sessionmaker
from tests.browser import chromium
from tests.factories import OrgFixture, make_org

PG_ADMIN_URL = os.environ.get("REENGAGE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
DATABASES = [
    name.strip()
    for name in os.environ.get("REENGAGE_TEST_DATABASES", "sqlite,postgresql").split(",")
    if name.strip()
]


def _pg_url(dbname: str) -> str:
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{dbname}"


@contextmanager
def empty_database(kind: str, directory: Path) -> Iterator[str]:
    """The URL of a new, empty database of this kind: a file in ``directory`` (SQLite), or
    a database on ``PG_ADMIN_URL``'s server, dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{directory / 'reengage.db'}"
        return
    if kind != "postgresql":
        raise ValueError(f"unknown test database {kind!r}")
    dbname = f"reengage_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(
        PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://"),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{dbname}"'))
    try:
        yield _pg_url(dbname)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))
        admin.dispose()


# Encrypts providers' credentials in the tests' app (a fresh key per run).
TEST_SECRET_KEY = Fernet.generate_key().decode()


@pytest.fixture(scope="session", params=DATABASES)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with empty_database(request.param, tmp_path_factory.mktemp("db")) as url:
        migrate.upgrade(url)
        yield url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def app(engine: Engine) -> FastAPI:
    # One app serves the whole session, whose tests send many bad keys on purpose: the
    # key-failure limits are tested with apps of their own (tests/auth/test_throttle.py).
    settings = Settings(
        key_failures_per_client="1000000/minute",
        key_failures_per_org="1000000/minute",
        secret_key=TEST_SECRET_KEY,
    )
    return create_app(settings, engine=engine)


@pytest.fixture(scope="session")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with make_sessionmaker(engine)() as session:
        yield session


@pytest.fixture
def org(engine: Engine) -> OrgFixture:
    """A fresh org with one key per role."""
    return make_org(engine)


@pytest.fixture
def other_org(engine: Engine) -> OrgFixture:
    return make_org(engine)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the whole run: Playwright's sync API allows one at a time."""
    with chromium() as launched:
        yield launched
