"""submission retries: a failed submission is tried again a bounded number of times

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 07:00:00

A submission the database refused even alone is `failed`; it is claimable again from
`next_attempt_at` until `attempts` reaches the setting's maximum. Rows already failed count as
one attempt with no automatic retry (a person put them there or looks at them).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("raw_submission", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column("next_attempt_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
    op.execute(sa.text("UPDATE raw_submission SET attempts = 1 WHERE state = 'failed'"))


def downgrade() -> None:
    with op.batch_alter_table("raw_submission", schema=None) as batch_op:
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("attempts")
