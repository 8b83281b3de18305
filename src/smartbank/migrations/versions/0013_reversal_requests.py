"""Reversal requests: maker-checker for reversals, with the negative-balance exception an approved
overdrawing reversal leaves.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reversal_requests",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("transfer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("idempotency_key", sa.String(length=160), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("overdraw", sa.Boolean(), nullable=False),
        sa.Column("alert_id", sa.BigInteger(), nullable=True),
        sa.Column("requested_by", sa.BigInteger(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.BigInteger(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.String(length=500), nullable=True),
        sa.Column("reversal_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("shortfall_account_id", sa.BigInteger(), nullable=True),
        sa.Column("shortfall_minor", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["transfer_id"], ["transfers.id"],
                                name=op.f("fk_reversal_requests_transfer_id_transfers")),
        sa.ForeignKeyConstraint(["reversal_id"], ["transfers.id"],
                                name=op.f("fk_reversal_requests_reversal_id_transfers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reversal_requests")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_reversal_requests_idempotency_key")),
    )
    op.create_index(op.f("ix_reversal_requests_transfer_id"), "reversal_requests", ["transfer_id"], unique=False)
    op.create_index("uq_reversal_requests_open", "reversal_requests", ["transfer_id"], unique=True,
                    postgresql_where=sa.text("status = 'requested'"), sqlite_where=sa.text("status = 'requested'"))


def downgrade() -> None:
    op.drop_index("uq_reversal_requests_open", table_name="reversal_requests")
    op.drop_index(op.f("ix_reversal_requests_transfer_id"), table_name="reversal_requests")
    op.drop_table("reversal_requests")
