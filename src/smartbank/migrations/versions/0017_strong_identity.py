"""Strong identity: TOTP second factors, recovery codes, one-time codes by text message (password reset and
step-up), and the device of each session (user agent, coarse address, last seen, pending second factor).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 19:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "user_mfa",
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("secret_enc", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"),
                  nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_step", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_user_mfa_user_id_users")),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_mfa")),
    )
    op.create_table(
        "user_recovery_codes",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"),
                  nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_user_recovery_codes_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_recovery_codes")),
    )
    op.create_index(op.f("ix_user_recovery_codes_user_id"), "user_recovery_codes", ["user_id"], unique=False)
    op.create_table(
        "otp_challenges",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"),
                  nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_otp_challenges_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_otp_challenges")),
    )
    op.create_index(op.f("ix_otp_challenges_user_id"), "otp_challenges", ["user_id"], unique=False)
    with op.batch_alter_table("auth_sessions") as b:
        b.add_column(sa.Column("pending", sa.String(length=8), nullable=True))
        b.add_column(sa.Column("user_agent", sa.String(length=200), nullable=True))
        b.add_column(sa.Column("address", sa.String(length=64), nullable=True))
        b.add_column(sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("auth_sessions") as b:
        b.drop_column("last_seen_at")
        b.drop_column("address")
        b.drop_column("user_agent")
        b.drop_column("pending")
    op.drop_index(op.f("ix_otp_challenges_user_id"), table_name="otp_challenges")
    op.drop_table("otp_challenges")
    op.drop_index(op.f("ix_user_recovery_codes_user_id"), table_name="user_recovery_codes")
    op.drop_table("user_recovery_codes")
    op.drop_table("user_mfa")
