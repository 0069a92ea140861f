"""dashboard sessions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import reengage.db.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dashboard_sessions",
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", reengage.db.types.UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", reengage.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "key_id"],
            ["api_keys.org_id", "api_keys.id"],
            name=op.f("fk_dashboard_sessions_org_id_api_keys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("org_id", "id", name=op.f("pk_dashboard_sessions")),
    )
    op.create_index(
        "uq_dashboard_sessions_token_hash", "dashboard_sessions", ["token_hash"], unique=True
    )
    op.create_index(
        "ix_dashboard_sessions_org_last_seen",
        "dashboard_sessions",
        ["org_id", "last_seen_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_dashboard_sessions_org_last_seen", table_name="dashboard_sessions")
    op.drop_index("uq_dashboard_sessions_token_hash", table_name="dashboard_sessions")
    op.drop_table("dashboard_sessions")
