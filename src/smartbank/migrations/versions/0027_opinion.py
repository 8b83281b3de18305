"""Public opinion: the watch list, topics, mentions, alerts and their workflow events.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-08 00:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "opinion_watch_terms",
        sa.Column("id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("term", sa.String(length=160), nullable=False),
        sa.Column("ref", sa.String(length=60), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opinion_watch_terms")),
        sa.UniqueConstraint("kind", "term", name="uq_opinion_watch_terms"),
    )
    op.create_table(
        "opinion_topics",
        sa.Column("id", _ID, nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name_zh", sa.String(length=80), nullable=False),
        sa.Column("name_en", sa.String(length=80), nullable=False),
        sa.Column("keywords_zh", sa.JSON(), nullable=False),
        sa.Column("keywords_en", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("updated_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opinion_topics")),
        sa.UniqueConstraint("code", name="uq_opinion_topics_code"),
    )
    op.create_table(
        "opinion_mentions",
        sa.Column("id", _ID, nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("external_id", sa.String(length=120), nullable=False),
        sa.Column("posted_at", _TS, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=120), nullable=True),
        sa.Column("url", sa.String(length=500), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("products", sa.JSON(), nullable=False),
        sa.Column("relevant", sa.Boolean(), nullable=False),
        sa.Column("sentiment", sa.Float(), nullable=False),
        sa.Column("sentiment_label", sa.String(length=16), nullable=False),
        sa.Column("model_version", sa.String(length=60), nullable=False),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.Column("ingested_at", _TS, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opinion_mentions")),
        sa.UniqueConstraint("source", "external_id", name="uq_opinion_mentions_source_ext"),
    )
    with op.batch_alter_table("opinion_mentions", schema=None) as batch_op:
        batch_op.create_index("ix_opinion_mentions_posted", ["posted_at"], unique=False)

    op.create_table(
        "opinion_alerts",
        sa.Column("id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("bucket_start", _TS, nullable=False),
        sa.Column("bucket_end", _TS, nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("baseline", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("p_value", sa.Float(), nullable=False),
        sa.Column("method", sa.String(length=60), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("escalated", sa.Integer(), nullable=False),
        sa.Column("assignee", sa.String(length=64), nullable=True),
        sa.Column("created_at", _TS, server_default=sa.func.now(), nullable=False),
        sa.Column("ack_due_at", _TS, nullable=False),
        sa.Column("respond_due_at", _TS, nullable=False),
        sa.Column("acknowledged_at", _TS, nullable=True),
        sa.Column("assigned_at", _TS, nullable=True),
        sa.Column("responded_at", _TS, nullable=True),
        sa.Column("closed_at", _TS, nullable=True),
        sa.Column("ack_breached_at", _TS, nullable=True),
        sa.Column("respond_breached_at", _TS, nullable=True),
        sa.Column("response", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opinion_alerts")),
        sa.UniqueConstraint("kind", "bucket_start", name="uq_opinion_alerts_bucket"),
    )
    with op.batch_alter_table("opinion_alerts", schema=None) as batch_op:
        batch_op.create_index("ix_opinion_alerts_status", ["status"], unique=False)

    op.create_table(
        "opinion_alert_events",
        sa.Column("id", _ID, nullable=False),
        sa.Column("alert_id", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("at", _TS, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opinion_alert_events")),
    )
    with op.batch_alter_table("opinion_alert_events", schema=None) as batch_op:
        batch_op.create_index("ix_opinion_alert_events_alert", ["alert_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("opinion_alert_events", schema=None) as batch_op:
        batch_op.drop_index("ix_opinion_alert_events_alert")
    op.drop_table("opinion_alert_events")
    with op.batch_alter_table("opinion_alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_opinion_alerts_status")
    op.drop_table("opinion_alerts")
    with op.batch_alter_table("opinion_mentions", schema=None) as batch_op:
        batch_op.drop_index("ix_opinion_mentions_posted")
    op.drop_table("opinion_mentions")
    op.drop_table("opinion_topics")
    op.drop_table("opinion_watch_terms")
