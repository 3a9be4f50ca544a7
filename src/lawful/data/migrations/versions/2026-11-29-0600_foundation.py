"""Foundation: customers, contact persons and the processing log.

Revision ID: 0001
Revises:
Create Date: 2026-11-29 05:56:03.128935
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column(
            "kind",
            sa.Enum(
                "company",
                "sole_proprietor",
                name="customerkind",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("legal_name", sa.String(length=200), nullable=False),
        sa.Column("kvk_number", sa.String(length=8), nullable=True),
        sa.Column("vat_number", sa.String(length=20), nullable=True),
        sa.Column("billing_email", sa.String(length=254), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "prospect",
                "active",
                "suspended",
                "ended",
                name="customerstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("contract_start", sa.Date(), nullable=True),
        sa.Column("contract_end", sa.Date(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("street", sa.String(length=200), nullable=False),
        sa.Column("postal_code", sa.String(length=20), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
    )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.create_index("ix_customers_legal_name", ["legal_name"], unique=False)

    op.create_table(
        "processing_log",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column("operation", sa.String(length=8), nullable=False),
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("categories", sa.String(length=512), nullable=False),
        sa.Column("subject_table", sa.String(length=64), nullable=True),
        sa.Column("subject_id", sa.String(length=64), nullable=True),
        sa.Column("statements", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_processing_log")),
    )
    with op.batch_alter_table("processing_log", schema=None) as batch_op:
        batch_op.create_index("ix_processing_log_at", ["at"], unique=False)
        batch_op.create_index(
            "ix_processing_log_subject",
            ["subject_table", "subject_id", "at"],
            unique=False,
        )

    op.create_table(
        "contact_persons",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("street", sa.String(length=200), nullable=False),
        sa.Column("postal_code", sa.String(length=20), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_contact_persons_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_persons")),
    )
    with op.batch_alter_table("contact_persons", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contact_persons_customer_id"), ["customer_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("contact_persons", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_persons_customer_id"))

    op.drop_table("contact_persons")
    with op.batch_alter_table("processing_log", schema=None) as batch_op:
        batch_op.drop_index("ix_processing_log_subject")
        batch_op.drop_index("ix_processing_log_at")

    op.drop_table("processing_log")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index("ix_customers_legal_name")

    op.drop_table("customers")
