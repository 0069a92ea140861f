"""Planner statistics kept fresh by the writes that stale them (``reengage.db.statistics``),
on a table of the test's own: analysed once its changes pass a tenth of what the planner
believes (and 500 rows), within the writing transaction, its own new rows counted."""

from __future__ import annotations

import time
import uuid

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from reengage.db import statistics
from reengage.db.engine import make_sessionmaker


@given(believed=st.floats(-1, 1e8), changed=st.integers(0, 10**8))
def test_stale_is_a_tenth_and_at_least_500_rows(believed: float, changed: int) -> None:
    share = max(believed, 0) * statistics.CHANGED_SHARE
    assert statistics.stale(believed, changed) == (
        changed >= statistics.MIN_CHANGES and changed >= share
    )


def test_a_table_that_grew_is_analysed_in_the_writing_transaction(engine: Engine) -> None:
    name = f"stats_{uuid.uuid4().hex[:8]}"
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        session.execute(text(f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, org TEXT)"))
        session.commit()
    try:
        with sessions() as session:
            session.execute(
                text(f"INSERT INTO {name} (id, org) VALUES (:id, 'o')"),
                [{"id": i} for i in range(1200)],
            )
            analysed = statistics.keep_fresh(session, {name: 1200})
            if engine.dialect.name != "postgresql":
                assert analysed == []  # SQLite's plans here need no statistics
                return
            assert analysed == [name]
            believed = session.scalar(
                text("SELECT reltuples FROM pg_class WHERE relname = :n"), {"n": name}
            )
            assert believed == 1200  # the transaction's own rows, not yet committed
            # Fifty more is under a tenth: left alone.
            session.execute(
                text(f"INSERT INTO {name} (id, org) VALUES (:id, 'o')"),
                [{"id": 2000 + i} for i in range(50)],
            )
            assert statistics.keep_fresh(session, {name: 50}) == []
            # A table not named is never touched; an unknown name is no error.
            assert statistics.keep_fresh(session, {"no_such_table": 10**6}) == []
            session.commit()
    finally:
        with sessions() as session:
            session.execute(text(f"DROP TABLE {name}"))
            session.commit()


def test_a_table_another_transaction_is_analysing_is_skipped_not_waited_for(
    engine: Engine,
) -> None:
    if engine.dialect.name != "postgresql":
        return
    name = f"stats_{uuid.uuid4().hex[:8]}"
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        session.execute(text(f"CREATE TABLE {name} (id INTEGER PRIMARY KEY)"))
        session.execute(text(f"INSERT INTO {name} SELECT generate_series(1, 1000)"))
        session.commit()
    try:
        with sessions() as first, sessions() as second:
            assert statistics.keep_fresh(first, {name: 1000}) == [name]  # holds its lock
            second.execute(text("SET LOCAL lock_timeout = '7s'"))
            started = time.perf_counter()
            assert statistics.keep_fresh(second, {name: 1000}) == []
            assert time.perf_counter() - started < 2
            # The second goes on as before: its transaction usable, its lock_timeout its own.
            assert second.scalar(text("SELECT current_setting('lock_timeout')")) == "7s"
            assert second.scalar(text(f"SELECT count(*) FROM {name}")) == 1000
            first.commit()
            assert statistics.keep_fresh(second, {name: 1000}) == [name]
            second.commit()
    finally:
        with sessions() as session:
            session.execute(text(f"DROP TABLE {name}"))
            session.commit()
