"""Marketing core: campaigns, their arms, assignments, every contact attempt and conversions.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-08 00:19:26.998625
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mkt_assignments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("arm", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mkt_assignments")),
        sa.UniqueConstraint("campaign_id", "customer_id", name="uq_mkt_assignments"),
    )
    with op.batch_alter_table("mkt_assignments", schema=None) as batch_op:
        batch_op.create_index("ix_mkt_assignments_customer", ["customer_id"], unique=False)

    op.create_table(
        "mkt_campaign_arms",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("is_holdout", sa.Boolean(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mkt_campaign_arms")),
        sa.UniqueConstraint("campaign_id", "code", name="uq_mkt_campaign_arms_code"),
    )
    op.create_table(
        "mkt_campaigns",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name_zh", sa.String(length=120), nullable=False),
        sa.Column("name_en", sa.String(length=120), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("audience", sa.JSON(), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("schedule", sa.JSON(), nullable=False),
        sa.Column("goal", sa.String(length=32), nullable=False),
        sa.Column("goal_window_days", sa.Integer(), nullable=False),
        sa.Column("holdout_bp", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("offer", sa.JSON(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("submitted_by", sa.String(length=64), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mkt_campaigns")),
        sa.UniqueConstraint("code", name="uq_mkt_campaigns_code"),
    )
    with op.batch_alter_table("mkt_campaigns", schema=None) as batch_op:
        batch_op.create_index("ix_mkt_campaigns_status", ["status"], unique=False)

    op.create_table(
        "mkt_conversions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("arm", sa.String(length=16), nullable=False),
        sa.Column("goal", sa.String(length=32), nullable=False),
        sa.Column("event_ref", sa.String(length=80), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("margin_minor", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("found_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mkt_conversions")),
        sa.UniqueConstraint("campaign_id", "customer_id", "event_ref", name="uq_mkt_conversions_event"),
    )
    with op.batch_alter_table("mkt_conversions", schema=None) as batch_op:
        batch_op.create_index("ix_mkt_conversions_campaign", ["campaign_id", "arm"], unique=False)

    op.create_table(
        "mkt_messages",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=True),
        sa.Column("journey_id", sa.BigInteger(), nullable=True),
        sa.Column("arm", sa.String(length=16), nullable=True),
        sa.Column("channel", sa.String(length=12), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("suppressed_reason", sa.String(length=40), nullable=True),
        sa.Column("reason_details", sa.JSON(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("address", sa.String(length=200), nullable=True),
        sa.Column("external_id", sa.String(length=120), nullable=True),
        sa.Column("error", sa.String(length=300), nullable=True),
        sa.Column("cost_micro", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("clicked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dismissed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mkt_messages")),
    )
    with op.batch_alter_table("mkt_messages", schema=None) as batch_op:
        batch_op.create_index("ix_mkt_messages_campaign", ["campaign_id"], unique=False)
        batch_op.create_index(
            "ix_mkt_messages_customer_channel_created", ["customer_id", "channel", "created_at"], unique=False
        )
        batch_op.create_index("ix_mkt_messages_journey", ["journey_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("mkt_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_mkt_messages_journey")
        batch_op.drop_index("ix_mkt_messages_customer_channel_created")
        batch_op.drop_index("ix_mkt_messages_campaign")

    op.drop_table("mkt_messages")
    with op.batch_alter_table("mkt_conversions", schema=None) as batch_op:
        batch_op.drop_index("ix_mkt_conversions_campaign")

    op.drop_table("mkt_conversions")
    with op.batch_alter_table("mkt_campaigns", schema=None) as batch_op:
        batch_op.drop_index("ix_mkt_campaigns_status")

    op.drop_table("mkt_campaigns")
    op.drop_table("mkt_campaign_arms")
    with op.batch_alter_table("mkt_assignments", schema=None) as batch_op:
        batch_op.drop_index("ix_mkt_assignments_customer")

    op.drop_table("mkt_assignments")
