"""The ledger stops writing risk's table: ``sb_transfer`` goes back to version 1 (without ``p_risk``).

A payment's risk decision is now an annotation (``smartbank.ledger.annotations``): the ledger writes it into
the table its owner registered, in the same statement that calls the procedure, so a payment is still one
round trip and the procedure knows no other domain's table.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from alembic import op

from smartbank.ledger import procedures

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(procedures.drop_sb_transfer_sql(2))
        op.execute(procedures.sb_transfer_sql(1))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(procedures.drop_sb_transfer_sql(1))
        op.execute(procedures.sb_transfer_sql(2))
