"""Entries without foreign-key constraints.

Entries are written only by the ledger, in the same statement as their transfer, after both accounts
were locked and found; the two constraint triggers re-proved that at about a fifth of a transfer's
cost on PostgreSQL. ``smartbank ledger verify`` checks that every entry belongs to an existing
transfer and account, and that every posted transfer has exactly its two entries.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.drop_constraint("fk_entries_account_id_accounts", type_="foreignkey")
        batch_op.drop_constraint("fk_entries_transfer_id_transfers", type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.create_foreign_key("fk_entries_account_id_accounts", "accounts", ["account_id"], ["id"])
        batch_op.create_foreign_key("fk_entries_transfer_id_transfers", "transfers", ["transfer_id"], ["id"])
