"""Marketing journeys: definitions (versioned), events, runs, their steps, quiet periods, detector watermarks.

Revision ID: 0025
Revises: 0022
Create Date: 2026-12-08 00:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0022"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "mkt_journeys",
        sa.Column("id", ID, nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name_zh", sa.String(length=120), nullable=False),
        sa.Column("name_en", sa.String(length=120), nullable=False),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("reentry_days", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("approved_by", sa.String(length=64), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mkt_journeys")),
        sa.UniqueConstraint("code", "version", name="uq_mkt_journeys_code_version"),
    )
    op.create_index("ix_mkt_journeys_trigger_status", "mkt_journeys", ["trigger", "status"])
    op.create_table(
        "mkt_journey_events",
        sa.Column("id", ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("ref", sa.String(length=80), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("runs_started", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mkt_journey_events")),
        sa.UniqueConstraint("kind", "ref", name="uq_mkt_journey_events_kind_ref"),
    )
    op.create_index("ix_mkt_journey_events_customer", "mkt_journey_events", ["customer_id"])
    op.create_table(
        "mkt_journey_runs",
        sa.Column("id", ID, nullable=False),
        sa.Column("journey_id", sa.BigInteger(), nullable=False),
        sa.Column("journey_code", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("step", sa.String(length=40), nullable=True),
        sa.Column("wake_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_message_id", sa.BigInteger(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mkt_journey_runs")),
    )
    op.create_index("ix_mkt_journey_runs_due", "mkt_journey_runs", ["status", "wake_at"])
    op.create_index("ix_mkt_journey_runs_customer", "mkt_journey_runs", ["customer_id"])
    op.create_index("ix_mkt_journey_runs_journey", "mkt_journey_runs", ["journey_code", "status"])
    op.create_index("uq_mkt_journey_runs_active", "mkt_journey_runs", ["journey_code", "customer_id"], unique=True,
                    postgresql_where=sa.text("status = 'active'"), sqlite_where=sa.text("status = 'active'"))
    op.create_table(
        "mkt_journey_steps",
        sa.Column("id", ID, nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("journey_code", sa.String(length=40), nullable=False),
        sa.Column("step_id", sa.String(length=40), nullable=False),
        sa.Column("step_type", sa.String(length=12), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mkt_journey_steps")),
    )
    op.create_index("ix_mkt_journey_steps_run", "mkt_journey_steps", ["run_id"])
    op.create_index("ix_mkt_journey_steps_journey_step", "mkt_journey_steps", ["journey_code", "step_id"])
    op.create_table(
        "mkt_journey_quiet",
        sa.Column("id", ID, nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("journey_code", sa.String(length=40), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mkt_journey_quiet")),
    )
    op.create_index("ix_mkt_journey_quiet_customer_until", "mkt_journey_quiet", ["customer_id", "until"])
    op.create_table(
        "mkt_journey_watermarks",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_mkt_journey_watermarks")),
    )


def downgrade() -> None:
    for t in ("mkt_journey_watermarks", "mkt_journey_quiet", "mkt_journey_steps", "mkt_journey_runs",
              "mkt_journey_events", "mkt_journeys"):
        op.drop_table(t)
