"""daily roll-ups, the derived status, and patient_state by org and status

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 12:00:00

Existing orgs get no ``derived_status`` row: they answer from their derived rows as before
until ``reengage state rebuild`` (or a settings change) builds their roll-ups.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import reengage.db.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "daily_rollups",
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("measure", sa.String(length=32), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_daily_rollups_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("org_id", "day", "measure", name=op.f("pk_daily_rollups")),
    )
    op.create_table(
        "derived_status",
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("settings_key", sa.String(length=200), nullable=False),
        sa.Column("latest_at", reengage.db.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_derived_status_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("org_id", name=op.f("pk_derived_status")),
    )
    with op.batch_alter_table("patient_state", schema=None) as batch_op:
        batch_op.create_index("ix_patient_state_org_status", ["org_id", "status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("patient_state", schema=None) as batch_op:
        batch_op.drop_index("ix_patient_state_org_status")
    op.drop_table("derived_status")
    op.drop_table("daily_rollups")
