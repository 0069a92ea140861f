"""patient_state keeps what a page of the list shows of the whole history; the records'
patient indexes also order by time

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 21:00:00

The new columns are null in existing rows, so existing orgs lose their ``derived_status``
row (and their stored standings, which need it): they answer from their derived rows as
before 0004 until ``reengage state rebuild`` (or a settings change, or a bulk load) fills
the columns and builds their roll-ups again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import reengage.db.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("completed", sa.Integer),
    ("last_completed_at", reengage.db.types.UTCDateTime),
    ("attempts", sa.Integer),
    ("successes_morning", sa.Integer),
    ("successes_afternoon", sa.Integer),
    ("successes_evening", sa.Integer),
    ("recent_from", reengage.db.types.UTCDateTime),
)
INDEXES = (("appointments", "starts_at"), ("communications", "sent_at"))


def upgrade() -> None:
    with op.batch_alter_table("patient_state", schema=None) as batch_op:
        for name, column_type in COLUMNS:
            batch_op.add_column(sa.Column(name, column_type(), nullable=True))
    for table, column in INDEXES:
        op.drop_index(f"ix_{table}_org_patient", table_name=table)
        op.create_index(f"ix_{table}_org_patient_{column}", table, ["org_id", "patient_id", column])
    op.execute("DELETE FROM standings")
    op.execute("DELETE FROM derived_status")


def downgrade() -> None:
    for table, column in INDEXES:
        op.drop_index(f"ix_{table}_org_patient_{column}", table_name=table)
        op.create_index(f"ix_{table}_org_patient", table, ["org_id", "patient_id"])
    with op.batch_alter_table("patient_state", schema=None) as batch_op:
        for name, _ in reversed(COLUMNS):
            batch_op.drop_column(name)
