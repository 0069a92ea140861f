"""alerts, outgoing webhooks, deliveries and the scheduler's runs

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import reengage.db.types

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RECORD_ID = sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("subject", RECORD_ID, nullable=False),
        sa.Column("patient_id", RECORD_ID, nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("opened_at", reengage.db.types.UTCDateTime(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("acknowledged_at", reengage.db.types.UTCDateTime(), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=32), nullable=True),
        sa.Column("resolved_at", reengage.db.types.UTCDateTime(), nullable=True),
        sa.Column("resolved_by", sa.String(length=32), nullable=True),
        sa.Column("cleared_at", reengage.db.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("org_id", "id", name="pk_alerts"),
    )
    op.create_index(
        "uq_alerts_current",
        "alerts",
        ["org_id", "rule", "subject"],
        unique=True,
        sqlite_where=sa.text("cleared_at IS NULL"),
        postgresql_where=sa.text("cleared_at IS NULL"),
    )
    op.create_index("ix_alerts_org_state_opened", "alerts", ["org_id", "state", "opened_at"])
    op.create_table(
        "alert_checks",
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("patient_id", RECORD_ID, nullable=False),
        sa.PrimaryKeyConstraint("org_id", "patient_id", name="pk_alert_checks"),
    )
    op.create_table(
        "webhook_endpoints",
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("sealed_secret", sa.Text(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", reengage.db.types.UTCDateTime(), nullable=False),
        sa.Column("disabled_at", reengage.db.types.UTCDateTime(), nullable=True),
        sa.Column("failed_deliveries", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "id", name="pk_webhook_endpoints"),
    )
    op.create_table(
        "deliveries",
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("target", sa.String(length=32), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", reengage.db.types.UTCDateTime(), nullable=False),
        sa.Column("next_attempt_at", reengage.db.types.UTCDateTime(), nullable=True),
        sa.Column("lease_until", reengage.db.types.UTCDateTime(), nullable=True),
        sa.Column("finished_at", reengage.db.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("org_id", "id", name="pk_deliveries"),
    )
    op.create_index("ix_deliveries_due", "deliveries", ["org_id", "state", "next_attempt_at"])
    op.create_table(
        "delivery_attempts",
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("delivery_id", sa.String(length=40), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("at", reengage.db.types.UTCDateTime(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=300), nullable=True),
        sa.Column("milliseconds", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "delivery_id", "attempt", name="pk_delivery_attempts"),
    )
    op.create_table(
        "job_runs",
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("job", sa.String(length=40), nullable=False),
        sa.Column("slot", sa.String(length=32), nullable=False),
        sa.Column("finished_at", reengage.db.types.UTCDateTime(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("worker", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "job", "slot", name="pk_job_runs"),
    )


def downgrade() -> None:
    op.drop_table("job_runs")
    op.drop_table("delivery_attempts")
    op.drop_index("ix_deliveries_due", table_name="deliveries")
    op.drop_table("deliveries")
    op.drop_table("webhook_endpoints")
    op.drop_table("alert_checks")
    op.drop_index("ix_alerts_org_state_opened", table_name="alerts")
    op.drop_index("uq_alerts_current", table_name="alerts")
    op.drop_table("alerts")
