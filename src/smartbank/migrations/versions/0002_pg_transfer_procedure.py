"""PostgreSQL: the transfer hot path as one stored procedure (one round trip per transfer).

It performs exactly the steps of ``smartbank.ledger.transfers.transfer`` (which SQLite runs in
Python), in the same order; ``tests/ledger/test_parity.py`` runs the rules through both. The procedure's
text is version 1 in ``smartbank/ledger/sql/``.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

from smartbank.ledger import procedures

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(procedures.sb_transfer_sql(1))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(procedures.drop_sb_transfer_sql(1))
