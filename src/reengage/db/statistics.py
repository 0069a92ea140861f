"""Planner statistics kept fresh by the writes that make them stale (PostgreSQL).

PostgreSQL plans every query from per-table statistics (row counts, value distributions)
that only ``ANALYZE`` refreshes; autovacuum runs it in the background, lagging a fast import,
and some servers (these test machines) run with autovacuum off. An org filling through
``POST /batch`` then has its lookups of 500 ids at a time planned for the near-empty tables
the statistics still describe: sequential scans, each batch slower than the last (4 s, 32 s,
56 s, ... 145 s for the sixth 10,000 patients). So a write that has grown or changed a table
by more than a tenth since its statistics were taken (or by 500 rows, for a table never
analysed) analyses it itself, in its own transaction, before the queries that depend on it:
``ANALYZE`` sees the transaction's own new rows, and its statistics serve the rest of the
request and every request after.

``ANALYZE`` samples at most 30,000 rows whatever the table's size (default statistics
target), so each costs tens to hundreds of milliseconds, and a table analysed after every
tenth of growth is analysed about a hundred times on its way from 1,000 to 10 million rows. It takes
a lock that other ``ANALYZE``s (and autovacuum) wait for, never reads or writes. SQLite's
planner needs no such help here: its plans for these lookups use the primary keys whatever
the statistics say.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

# Analyse a table once its changes since the last ANALYZE exceed this share of the rows
# the planner believes it has, and at least MIN_CHANGES rows.
CHANGED_SHARE = 0.1
MIN_CHANGES = 500
# How long an ANALYZE waits for another one of the same table before it is skipped.
LOCK_WAIT = "200ms"
LOCK_NOT_AVAILABLE = "55P03"

_STATE = text(
    "SELECT c.relname, c.reltuples, COALESCE(s.n_mod_since_analyze, 0) "
    "FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid "
    "WHERE c.relname = ANY(:names) AND c.relkind IN ('r', 'p') AND pg_table_is_visible(c.oid)"
)


def stale(believed_rows: float, changed: int) -> bool:
    """Whether statistics taken over ``believed_rows`` rows (-1: never) are stale after
    ``changed`` rows were inserted, updated or deleted since."""
    return changed >= max(MIN_CHANGES, CHANGED_SHARE * max(believed_rows, 0.0))


def keep_fresh(session: Session, written: Mapping[str, int]) -> list[str]:
    """Analyse those of the named tables whose statistics this transaction's writes
    (``written``: rows per table, not yet counted by the server) and the earlier ones have
    made stale; the names analysed. Nothing on SQLite."""
    if session.get_bind().dialect.name != "postgresql" or not written:
        return []
    rows = session.execute(_STATE, {"names": sorted(written)}).all()
    analysed = []
    for name, believed, changed in sorted(rows):
        if stale(float(believed), int(changed) + written.get(name, 0)) and _analyse(session, name):
            analysed.append(str(name))
    return analysed


def _analyse(session: Session, name: str) -> bool:
    """ANALYZE, unless another transaction is analysing the table right now (its statistics
    land at its commit): waiting for it could deadlock two writes of different orgs, each
    holding a table the other's next ANALYZE wants. So wait at most LOCK_WAIT, in a
    savepoint, and skip on a timeout."""
    previous = session.scalar(text("SELECT current_setting('lock_timeout')"))
    try:
        with session.begin_nested():
            session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_WAIT}'"))
            session.execute(text(f'ANALYZE "{name}"'))
            session.execute(text("SELECT set_config('lock_timeout', :v, true)"), {"v": previous})
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
            raise
        return False  # the savepoint's rollback restored lock_timeout
    return True
