"""standings: where each population patient stands today, kept between requests

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 15:00:00

Empty at first: each org's first analytics request builds its rows
(``reengage.derived.stored_standings``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import reengage.db.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    record_id = sa.String(length=128).with_variant(
        sa.String(length=128, collation="C"), "postgresql"
    )
    op.create_table(
        "standings",
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("patient_id", record_id, nullable=False),
        sa.Column("tier", sa.SmallInteger(), nullable=True),
        sa.Column("missed", sa.SmallInteger(), nullable=True),
        sa.Column("failed", sa.SmallInteger(), nullable=True),
        sa.Column("overdue", sa.SmallInteger(), nullable=True),
        sa.Column("future", sa.SmallInteger(), nullable=True),
        sa.Column("rule", sa.SmallInteger(), nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("days", sa.Integer(), nullable=True),
        sa.Column("next_day", sa.Integer(), nullable=True),
        sa.Column("week", sa.SmallInteger(), nullable=True),
        sa.Column("until_at", reengage.db.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "patient_id", name=op.f("pk_standings")),
    )
    op.create_index("ix_standings_until", "standings", ["org_id", "until_at"])
    op.create_index(
        "ix_standings_score", "standings", ["org_id", sa.column("score").desc(), "patient_id"]
    )
    op.create_index(
        "ix_standings_days", "standings", ["org_id", sa.column("days").desc(), "patient_id"]
    )
    op.create_index("ix_standings_next_day", "standings", ["org_id", "next_day", "patient_id"])
    with op.batch_alter_table("derived_status", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("standings_at", reengage.db.types.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("derived_status", schema=None) as batch_op:
        batch_op.drop_column("standings_at")
    op.drop_table("standings")
