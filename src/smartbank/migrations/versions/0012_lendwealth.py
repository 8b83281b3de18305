"""Lending and wealth fixes: money-market products (a fixed NAV with 万份收益 and 七日年化, income accrued as
units); risk assessments kept with their status (accepted or refused, and why) and the age from the ID.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("wealth_products", schema=None) as batch_op:
        batch_op.add_column(sa.Column("money_market", sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table("product_navs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("income_per_10k_micro", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("yield_7d_ppm", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("risk_assessments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(length=12), server_default="accepted", nullable=False))
        batch_op.add_column(sa.Column("refusal_code", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("id_age", sa.Integer(), nullable=True))
    op.create_table(
        "money_market_income",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("product_id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("units_micro", sa.BigInteger(), nullable=False),
        sa.Column("income_per_10k_micro", sa.BigInteger(), nullable=False),
        sa.Column("income_units_micro", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_money_market_income")),
        sa.UniqueConstraint("customer_id", "product_id", "day", name="uq_money_market_income_day"),
    )
    with op.batch_alter_table("money_market_income", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_money_market_income_customer_id"), ["customer_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("money_market_income", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_money_market_income_customer_id"))
    op.drop_table("money_market_income")
    with op.batch_alter_table("risk_assessments", schema=None) as batch_op:
        batch_op.drop_column("id_age")
        batch_op.drop_column("refusal_code")
        batch_op.drop_column("status")
    with op.batch_alter_table("product_navs", schema=None) as batch_op:
        batch_op.drop_column("yield_7d_ppm")
        batch_op.drop_column("income_per_10k_micro")
    with op.batch_alter_table("wealth_products", schema=None) as batch_op:
        batch_op.drop_column("money_market")
