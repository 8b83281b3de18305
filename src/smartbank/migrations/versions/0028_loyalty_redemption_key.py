"""Loyalty redemptions carry the customer's idempotency key: a request sent twice redeems once.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-08 02:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("loy_redemptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idempotency_key", sa.String(length=80), nullable=True))
        batch_op.create_unique_constraint("uq_loy_redemptions_key", ["customer_id", "idempotency_key"])


def downgrade() -> None:
    with op.batch_alter_table("loy_redemptions", schema=None) as batch_op:
        batch_op.drop_constraint("uq_loy_redemptions_key", type_="unique")
        batch_op.drop_column("idempotency_key")
