"""the audit log is keyed by org first, like every other tenant table

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 16:30:00

Every primary key of a tenant table leads with ``org_id``, so that the schema distributes
by org (Citus) with no change; the audit log's was its id alone. Its rows are kept as they
are. On PostgreSQL the key changes in place and the id keeps its sequence; SQLite cannot
change a table's key, so its table is made anew and the rows copied, and, the id no longer
being the table's rowid, ``audit.record_access`` gives each entry one past its org's
largest. Going back down, SQLite numbers the entries anew in time order (their ids were
unique per org only); PostgreSQL's, from one sequence, stay.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import reengage.db.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    "id",
    "org_id",
    "key_id",
    "role",
    "method",
    "route",
    "action",
    "patient_ids",
    "record_count",
    "client_ip",
    "at",
)


def _sqlite_table(name: str, key: list[str]) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("route", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("patient_ids", sa.JSON(), nullable=False),
        sa.Column("record_count", sa.Integer(), nullable=False),
        sa.Column("client_ip", sa.String(length=64), nullable=True),
        sa.Column("at", reengage.db.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint(*key, name="pk_audit_log"),
    )


def _key(key: list[str]) -> None:
    if op.get_bind().dialect.name == "postgresql":
        # In place: making the table anew would drop the sequence its id column owns.
        op.drop_constraint("pk_audit_log", "audit_log", type_="primary")
        op.create_primary_key("pk_audit_log", "audit_log", key)
        return
    _sqlite_table("audit_log_rekeyed", key)
    # Down, ids are unique per org only: the entries are numbered anew, in time order.
    kept = list(COLUMNS) if key[0] == "org_id" else list(COLUMNS[1:])
    old = sa.table("audit_log", *(sa.column(name) for name in COLUMNS))
    new = sa.table("audit_log_rekeyed", *(sa.column(name) for name in COLUMNS))
    rows = sa.select(*(old.c[name] for name in kept)).order_by(old.c.at, old.c.org_id, old.c.id)
    op.execute(new.insert().from_select(kept, rows))
    op.drop_index("ix_audit_log_org_at", table_name="audit_log")
    op.drop_table("audit_log")
    op.rename_table("audit_log_rekeyed", "audit_log")
    op.create_index("ix_audit_log_org_at", "audit_log", ["org_id", "at"])


def upgrade() -> None:
    _key(["org_id", "id"])


def downgrade() -> None:
    _key(["id"])
