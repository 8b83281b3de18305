"""Marketing contact policy: frequency caps, quiet hours and costs per channel; the do-not-disturb list.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-08 00:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mkt_contact_policy",
        sa.Column("channel", sa.String(length=12), nullable=False),
        sa.Column("max_count", sa.Integer(), nullable=True),
        sa.Column("period_days", sa.Integer(), nullable=False),
        sa.Column("quiet_start", sa.String(length=5), nullable=True),
        sa.Column("quiet_end", sa.String(length=5), nullable=True),
        sa.Column("timezone", sa.String(length=40), nullable=False),
        sa.Column("cost_micro", sa.BigInteger(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("channel", name=op.f("pk_mkt_contact_policy")),
    )
    op.create_table(
        "mkt_do_not_disturb",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("removed_by", sa.String(length=64), nullable=True),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mkt_do_not_disturb")),
    )
    with op.batch_alter_table("mkt_do_not_disturb", schema=None) as batch_op:
        batch_op.create_index("ix_mkt_do_not_disturb_customer", ["customer_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("mkt_do_not_disturb", schema=None) as batch_op:
        batch_op.drop_index("ix_mkt_do_not_disturb_customer")
    op.drop_table("mkt_do_not_disturb")
    op.drop_table("mkt_contact_policy")
