"""Indexes that find a person: their usage events, mail, sessions, tokens and what they did, for access and erasure.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 14:53:01.407936
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.create_index("ix_invoice_lines_customer", ["customer_id"], unique=False)

    with op.batch_alter_table("invoice_documents", schema=None) as batch_op:
        batch_op.create_index("ix_invoice_documents_customer", ["customer_id"], unique=False)

    with op.batch_alter_table("one_time_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_one_time_tokens_principal"))
        batch_op.create_index(
            "ix_one_time_tokens_principal", ["principal_id", "principal_kind"], unique=False
        )

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_to_address", ["to_address"], unique=False)

    with op.batch_alter_table("processing_log", schema=None) as batch_op:
        batch_op.create_index("ix_processing_log_actor", ["actor_id", "at"], unique=False)

    with op.batch_alter_table("rights_requests", schema=None) as batch_op:
        batch_op.create_index("ix_rights_requests_requester_email", ["requester_email"], unique=False)

    with op.batch_alter_table("usage_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_usage_events_user",
            ["user_id"],
            unique=False,
            sqlite_where=sa.text("user_id IS NOT NULL"),
            postgresql_where=sa.text("user_id IS NOT NULL"),
        )

    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_sessions_principal"))
        batch_op.create_index("ix_web_sessions_principal", ["principal_id", "principal_kind"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("invoice_documents", schema=None) as batch_op:
        batch_op.drop_index("ix_invoice_documents_customer")

    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_invoice_lines_customer")

    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_web_sessions_principal")
        batch_op.create_index(
            batch_op.f("ix_web_sessions_principal"), ["principal_kind", "principal_id"], unique=False
        )

    with op.batch_alter_table("usage_events", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_usage_events_user",
            sqlite_where=sa.text("user_id IS NOT NULL"),
            postgresql_where=sa.text("user_id IS NOT NULL"),
        )

    with op.batch_alter_table("rights_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_rights_requests_requester_email")

    with op.batch_alter_table("processing_log", schema=None) as batch_op:
        batch_op.drop_index("ix_processing_log_actor")

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_to_address")

    with op.batch_alter_table("one_time_tokens", schema=None) as batch_op:
        batch_op.drop_index("ix_one_time_tokens_principal")
        batch_op.create_index(
            batch_op.f("ix_one_time_tokens_principal"), ["principal_kind", "principal_id"], unique=False
        )
