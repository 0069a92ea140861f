"""check-in campaigns, their daily batches, each patient's decision and group

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 20:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import reengage.db.types

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RECORD_ID = sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql")
WHEN = reengage.db.types.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "checkin_campaigns",
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("salt", sa.String(length=64), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("created_at", WHEN(), nullable=False),
        sa.Column("updated_at", WHEN(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "id", name="pk_checkin_campaigns"),
    )
    op.create_table(
        "checkin_batches",
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("campaign_id", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("prepared_at", WHEN(), nullable=False),
        sa.Column("approved_at", WHEN(), nullable=True),
        sa.Column("approved_by", sa.String(length=32), nullable=True),
        sa.Column("finished_at", WHEN(), nullable=True),
        sa.PrimaryKeyConstraint("org_id", "id", name="pk_checkin_batches"),
    )
    op.create_index(
        "uq_checkin_batches_day", "checkin_batches", ["org_id", "campaign_id", "day"], unique=True
    )
    op.create_table(
        "checkin_messages",
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("batch_id", sa.String(length=32), nullable=False),
        sa.Column("patient_id", RECORD_ID, nullable=False),
        sa.Column("campaign_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=8), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", WHEN(), nullable=True),
        sa.Column("lease_until", WHEN(), nullable=True),
        sa.Column("communication_id", RECORD_ID, nullable=True),
        sa.Column("provider_message_id", sa.String(length=200), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("sent_at", WHEN(), nullable=True),
        sa.PrimaryKeyConstraint("org_id", "batch_id", "patient_id", name="pk_checkin_messages"),
    )
    op.create_index(
        "ix_checkin_messages_org_patient_sent",
        "checkin_messages",
        ["org_id", "patient_id", "sent_at"],
    )
    op.create_index(
        "ix_checkin_messages_org_state", "checkin_messages", ["org_id", "state", "next_attempt_at"]
    )
    op.create_table(
        "checkin_assignments",
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("campaign_id", sa.String(length=32), nullable=False),
        sa.Column("patient_id", RECORD_ID, nullable=False),
        sa.Column("group", sa.String(length=8), nullable=False),
        sa.Column("assigned_at", WHEN(), nullable=False),
        sa.Column("batch_id", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint(
            "org_id", "campaign_id", "patient_id", name="pk_checkin_assignments"
        ),
    )


def downgrade() -> None:
    op.drop_table("checkin_assignments")
    op.drop_index("ix_checkin_messages_org_state", table_name="checkin_messages")
    op.drop_index("ix_checkin_messages_org_patient_sent", table_name="checkin_messages")
    op.drop_table("checkin_messages")
    op.drop_index("uq_checkin_batches_day", table_name="checkin_batches")
    op.drop_table("checkin_batches")
    op.drop_table("checkin_campaigns")
