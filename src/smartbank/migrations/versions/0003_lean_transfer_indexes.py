"""Leaner transfer indexes for the hot path.

``pending_id`` and ``reverses_id`` stay unique where set, as partial indexes: the common transfer has
neither, so it no longer pays two index insertions. The per-account transfer indexes go: history is
read through ``entries`` (indexed by account), never through ``transfers``.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("transfers", schema=None) as batch_op:
        batch_op.drop_index("ix_transfers_debit")
        batch_op.drop_index("ix_transfers_credit")
        batch_op.drop_constraint("uq_transfers_pending_id", type_="unique")
        batch_op.drop_constraint("uq_transfers_reverses_id", type_="unique")
    for col in ("pending_id", "reverses_id"):
        op.create_index(f"uq_transfers_{col}", "transfers", [col], unique=True,
                        postgresql_where=sa.text(f"{col} IS NOT NULL"), sqlite_where=sa.text(f"{col} IS NOT NULL"))


def downgrade() -> None:
    for col in ("pending_id", "reverses_id"):
        op.drop_index(f"uq_transfers_{col}", table_name="transfers")
    with op.batch_alter_table("transfers", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_transfers_pending_id", ["pending_id"])
        batch_op.create_unique_constraint("uq_transfers_reverses_id", ["reverses_id"])
        batch_op.create_index("ix_transfers_credit", ["credit_account_id", "id"], unique=False)
        batch_op.create_index("ix_transfers_debit", ["debit_account_id", "id"], unique=False)
