"""delivery retries: per-item next attempt time

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 04:05:00

Emails and handoffs that failed transiently wait until their next attempt; "failed" rows become
"parked" (the dead letter a person looks at and can put back).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("sent_email", "handoff"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("next_attempt_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
            )
        op.execute(sa.text(f"UPDATE {table} SET state = 'parked' WHERE state = 'failed'"))


def downgrade() -> None:
    for table in ("sent_email", "handoff"):
        op.execute(sa.text(f"UPDATE {table} SET state = 'failed' WHERE state = 'parked'"))
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("next_attempt_at")
