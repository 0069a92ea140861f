"""imports sent over HTTP are jobs, with their status and report

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 08:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import reengage.db.types

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "import_jobs",
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("profile", sa.String(length=64), nullable=True),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("keep_valid", sa.Boolean(), nullable=False),
        sa.Column("file_bytes", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", reengage.db.types.UTCDateTime(), nullable=False),
        sa.Column("started_at", reengage.db.types.UTCDateTime(), nullable=True),
        sa.Column("finished_at", reengage.db.types.UTCDateTime(), nullable=True),
        sa.Column("report", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("org_id", "id", name="pk_import_jobs"),
    )


def downgrade() -> None:
    op.drop_table("import_jobs")
