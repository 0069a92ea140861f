"""providers' credentials, the events they report, and consent changes

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 11:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import reengage.db.types

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_patients_org_phone", "patients", ["org_id", "phone"])
    op.create_index("ix_patients_org_email", "patients", ["org_id", "email"])
    op.create_index(
        "ix_communications_org_provider_message",
        "communications",
        ["org_id", "provider_message_id"],
    )
    op.create_table(
        "provider_credentials",
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("updated_at", reengage.db.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "provider", name="pk_provider_credentials"),
    )
    op.create_table(
        "provider_events",
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("occurred_at", reengage.db.types.UTCDateTime(), nullable=False),
        sa.Column("received_at", reengage.db.types.UTCDateTime(), nullable=False),
        sa.Column("applied_at", reengage.db.types.UTCDateTime(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "key", name="pk_provider_events"),
    )
    op.create_index("ix_provider_events_org_message", "provider_events", ["org_id", "message_id"])
    op.create_table(
        "consent_changes",
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=128), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("change", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("at", reengage.db.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "id", name="pk_consent_changes"),
    )
    op.create_index(
        "ix_consent_changes_org_patient", "consent_changes", ["org_id", "patient_id", "at"]
    )


def downgrade() -> None:
    op.drop_index("ix_consent_changes_org_patient", table_name="consent_changes")
    op.drop_table("consent_changes")
    op.drop_index("ix_provider_events_org_message", table_name="provider_events")
    op.drop_table("provider_events")
    op.drop_table("provider_credentials")
    op.drop_index("ix_communications_org_provider_message", table_name="communications")
    op.drop_index("ix_patients_org_email", table_name="patients")
    op.drop_index("ix_patients_org_phone", table_name="patients")
