"""The day of the disclosure on each of its subjects, from which the register's retention counts.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 16:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("disclosure_subjects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("disclosed_on", sa.Date(), nullable=True))
    op.execute(
        "UPDATE disclosure_subjects SET disclosed_on = "
        "(SELECT disclosures.disclosed_on FROM disclosures WHERE disclosures.id = disclosure_subjects.disclosure_id)"
    )
    with op.batch_alter_table("disclosure_subjects", schema=None) as batch_op:
        batch_op.alter_column("disclosed_on", existing_type=sa.Date(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("disclosure_subjects", schema=None) as batch_op:
        batch_op.drop_column("disclosed_on")
