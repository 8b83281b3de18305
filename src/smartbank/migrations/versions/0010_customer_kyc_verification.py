"""customers: who verified an identity, how and when; a new customer starts pending

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kyc_method", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("kyc_verified_by", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("kyc_verified_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("kyc_verified_at")
        batch_op.drop_column("kyc_verified_by")
        batch_op.drop_column("kyc_method")
