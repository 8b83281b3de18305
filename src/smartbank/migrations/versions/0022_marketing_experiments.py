"""Marketing experiments: every evaluation of a campaign as an experiment (counts, statistics, decision).

Revision ID: 0022
Revises: 0020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mkt_experiment_reads",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("control", sa.String(length=16), nullable=False),
        sa.Column("arms", sa.JSON(), nullable=False),
        sa.Column("comparisons", sa.JSON(), nullable=False),
        sa.Column("guardrails", sa.JSON(), nullable=False),
        sa.Column("alpha", sa.Float(), nullable=False),
        sa.Column("method", sa.String(length=60), nullable=False),
        sa.Column("decision", sa.String(length=24), nullable=False),
        sa.Column("winner", sa.String(length=16), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("effect", sa.Float(), nullable=True),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("evaluated_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mkt_experiment_reads")),
    )
    with op.batch_alter_table("mkt_experiment_reads", schema=None) as batch_op:
        batch_op.create_index("ix_mkt_experiment_reads_campaign", ["campaign_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("mkt_experiment_reads", schema=None) as batch_op:
        batch_op.drop_index("ix_mkt_experiment_reads_campaign")
    op.drop_table("mkt_experiment_reads")
