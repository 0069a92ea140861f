"""the patients with records after as_of are found by index

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 20:10:00

``freshness.late_ids`` looks for them on every request that finds the org's status ahead
of as_of (a patient whose first record is a follow-up due next week makes it so for a
week): without an index, a scan of the org's derived rows each time.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_patient_state_org_horizon", "patient_state", ["org_id", "horizon_at"])


def downgrade() -> None:
    op.drop_index("ix_patient_state_org_horizon", table_name="patient_state")
