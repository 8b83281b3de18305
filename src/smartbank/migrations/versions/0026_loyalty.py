"""Loyalty: rules, the points entries and lots, rewards, redemptions and the earning watermarks.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-08 00:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "loy_rules",
        sa.Column("id", _ID, nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("behaviour", sa.String(length=32), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("cap_per_month", sa.Integer(), nullable=True),
        sa.Column("once_per_customer", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("name_zh", sa.String(length=80), nullable=False),
        sa.Column("name_en", sa.String(length=80), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loy_rules")),
        sa.UniqueConstraint("code", "version", name="uq_loy_rules_code_version"),
    )
    op.create_table(
        "loy_entries",
        sa.Column("id", _ID, nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("rule_code", sa.String(length=40), nullable=True),
        sa.Column("rule_version", sa.Integer(), nullable=True),
        sa.Column("source_ref", sa.String(length=80), nullable=False),
        sa.Column("redemption_id", sa.BigInteger(), nullable=True),
        sa.Column("transfer_id", sa.BigInteger(), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loy_entries")),
        sa.UniqueConstraint("source_ref", name="uq_loy_entries_source_ref"),
    )
    with op.batch_alter_table("loy_entries", schema=None) as batch_op:
        batch_op.create_index("ix_loy_entries_customer", ["customer_id", "id"], unique=False)
    op.create_table(
        "loy_lots",
        sa.Column("id", _ID, nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.Column("earned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loy_lots")),
        sa.UniqueConstraint("entry_id", name=op.f("uq_loy_lots_entry_id")),
    )
    with op.batch_alter_table("loy_lots", schema=None) as batch_op:
        batch_op.create_index("ix_loy_lots_customer", ["customer_id", "expires_at", "id"], unique=False)
    op.create_table(
        "loy_rewards",
        sa.Column("id", _ID, nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name_zh", sa.String(length=80), nullable=False),
        sa.Column("name_en", sa.String(length=80), nullable=False),
        sa.Column("cost_points", sa.BigInteger(), nullable=False),
        sa.Column("value_minor", sa.BigInteger(), nullable=False),
        sa.Column("valid_days", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loy_rewards")),
        sa.UniqueConstraint("code", name=op.f("uq_loy_rewards_code")),
    )
    op.create_table(
        "loy_redemptions",
        sa.Column("id", _ID, nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("reward_code", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("value_minor", sa.BigInteger(), nullable=False),
        sa.Column("voucher_code", sa.String(length=24), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=True),
        sa.Column("transfer_id", sa.BigInteger(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_ref", sa.String(length=80), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loy_redemptions")),
        sa.UniqueConstraint("voucher_code", name=op.f("uq_loy_redemptions_voucher_code")),
    )
    with op.batch_alter_table("loy_redemptions", schema=None) as batch_op:
        batch_op.create_index("ix_loy_redemptions_customer", ["customer_id", "id"], unique=False)
    op.create_table(
        "loy_watermarks",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_loy_watermarks")),
    )


def downgrade() -> None:
    op.drop_table("loy_watermarks")
    with op.batch_alter_table("loy_redemptions", schema=None) as batch_op:
        batch_op.drop_index("ix_loy_redemptions_customer")
    op.drop_table("loy_redemptions")
    op.drop_table("loy_rewards")
    with op.batch_alter_table("loy_lots", schema=None) as batch_op:
        batch_op.drop_index("ix_loy_lots_customer")
    op.drop_table("loy_lots")
    with op.batch_alter_table("loy_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_loy_entries_customer")
    op.drop_table("loy_entries")
    op.drop_table("loy_rules")
