"""derived rows without foreign keys to patients

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 13:00:00

``patient_state``, ``attempt_outcomes`` and ``risk_spans`` are a cache computed from each
patient's own records, written only for patients just read or just written, and patients
are never deleted. Their foreign keys checked every derived row at write time (a lookup
and a row lock on the patient: about 6.5 microseconds a row on PostgreSQL, a tenth of a
bulk load's time) and guarded against nothing that can happen. The event tables keep
theirs.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("patient_state", "attempt_outcomes", "risk_spans")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(op.f(f"fk_{table}_org_id_patients"), type_="foreignkey")


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_foreign_key(
                op.f(f"fk_{table}_org_id_patients"),
                "patients",
                ["org_id", "patient_id"],
                ["org_id", "id"],
                ondelete="CASCADE",
            )
