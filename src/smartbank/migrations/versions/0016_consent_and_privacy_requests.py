"""Consent registry (customer_consents, append-only) and privacy requests (corrections, deletions).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 19:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "customer_consents",
        sa.Column("id", _ID, nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("purpose", sa.String(length=40), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("notice_version", sa.String(length=32), nullable=False),
        sa.Column("given_via", sa.String(length=16), nullable=False),
        sa.Column("recorded_by", sa.BigInteger(), nullable=True),
        sa.Column("recorded_role", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name=op.f("fk_customer_consents_customer_id_customers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_consents")),
    )
    op.create_index("ix_customer_consents_customer_purpose", "customer_consents", ["customer_id", "purpose", "id"])
    op.create_table(
        "privacy_requests",
        sa.Column("id", _ID, nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("field", sa.String(length=32), nullable=True),
        sa.Column("requested_value", sa.String(length=300), nullable=True),
        sa.Column("customer_note", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("CURRENT_TIMESTAMP"),
                  nullable=False),
        sa.Column("resolved_by", sa.BigInteger(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution_note", sa.String(length=500), nullable=True),
        sa.Column("outcome", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name=op.f("fk_privacy_requests_customer_id_customers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_requests")),
    )
    op.create_index("ix_privacy_requests_customer", "privacy_requests", ["customer_id", "id"])
    op.create_index("ix_privacy_requests_kind_status", "privacy_requests", ["kind", "status"])


def downgrade() -> None:
    op.drop_index("ix_privacy_requests_kind_status", table_name="privacy_requests")
    op.drop_index("ix_privacy_requests_customer", table_name="privacy_requests")
    op.drop_table("privacy_requests")
    op.drop_index("ix_customer_consents_customer_purpose", table_name="customer_consents")
    op.drop_table("customer_consents")
