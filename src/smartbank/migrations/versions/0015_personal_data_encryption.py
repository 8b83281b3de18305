"""Encryption at rest of personal data: the data keys (wrapped by the master key, which stays outside the
database), and the first active data key.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import base64

import sqlalchemy as sa
from alembic import op
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from smartbank import clock
from smartbank.security import keyring

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    data_keys = op.create_table(
        "data_keys",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("wrapped_key", sa.Text(), nullable=False),
        sa.Column("master_key_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"),
                  nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_data_keys")),
    )
    # version 1, wrapped by the master key in force (made on first use in development, see keyring)
    provider = keyring.key_provider()
    dek = AESGCM.generate_key(bit_length=256)
    wrapped = provider.wrap(dek, aad=b"smartbank data key v1")
    op.bulk_insert(data_keys, [{"version": 1, "wrapped_key": base64.b64encode(wrapped).decode(),
                                "master_key_id": provider.key_id, "status": "active",
                                "created_at": clock.now()}])
    keyring.reset_key_cache()


def downgrade() -> None:
    op.drop_table("data_keys")
    keyring.reset_key_cache()
