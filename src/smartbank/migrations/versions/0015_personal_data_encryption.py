"""Encryption at rest of personal data: the data keys (wrapped by the master key, which stays outside the
database) with the first active one; the customers' identity fields (ID number, phone, e-mail, address) and the
loan applications' employer and collateral description become AES-GCM ciphertext (text columns, versioned
format); keyed blind indexes of the ID number and the phone take over the look-ups and the unique identity
document index; the credit blacklist's hashes of customers' ID numbers become blind indexes.

The data migration encrypts every existing row with data key version 1 in batches.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import sqlalchemy as sa
from alembic import op
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from smartbank import clock
from smartbank.config import get_settings
from smartbank.security import keyring

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

BATCH = 2000
CUSTOMER_FIELDS = ("id_number", "phone", "email", "address")
APPLICATION_FIELDS = ("employer", "collateral_description")


def _enc(key: AESGCM, table: str, column: str, value: str | None) -> str | None:
    if value is None:
        return None
    blob = keyring.seal(key, 1, value.encode("utf-8"), context=f"{table}.{column}")
    return base64.b64encode(blob).decode("ascii")


def _dec(key: AESGCM, table: str, column: str, value: str | None) -> str | None:
    if value is None:
        return None
    return keyring.unseal(key, base64.b64decode(value), context=f"{table}.{column}").decode("utf-8")


def _first_key(bind: sa.engine.Connection, data_keys: sa.Table) -> AESGCM:
    provider = keyring.key_provider()
    dek = AESGCM.generate_key(bit_length=256)
    wrapped = provider.wrap(dek, aad=b"smartbank data key v1")
    bind.execute(data_keys.insert().values(version=1, wrapped_key=base64.b64encode(wrapped).decode(),
                                           master_key_id=provider.key_id, status="active", created_at=clock.now()))
    return AESGCM(dek)


def _rows(bind: sa.engine.Connection, sql: str):
    last = 0
    while True:
        rows = bind.execute(sa.text(sql), {"last": last, "n": BATCH}).all()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def upgrade() -> None:
    bind = op.get_bind()
    pg = bind.dialect.name == "postgresql"
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
    key = _first_key(bind, data_keys)  # version 1, wrapped by the master key in force

    # customers: wider text columns for the ciphertexts, the blind indexes, the indexes moved onto them
    # (SQLite does not enforce a column's length: its columns keep their declared types, and no table is rebuilt)
    op.drop_index("ix_customers_id_doc", table_name="customers")
    op.drop_index("ix_customers_phone", table_name="customers")
    op.add_column("customers", sa.Column("id_number_bidx", sa.String(length=32), nullable=True))
    op.add_column("customers", sa.Column("phone_bidx", sa.String(length=32), nullable=True))
    if pg:
        for col in CUSTOMER_FIELDS:
            op.alter_column("customers", col, type_=sa.Text(), existing_nullable=col != "id_number")
        for col in APPLICATION_FIELDS:
            op.alter_column("loan_applications", col, type_=sa.Text(), existing_nullable=True)

    # the data: every existing row encrypted with version 1, its blind indexes computed
    upd = sa.text("UPDATE customers SET id_number = :id_number, id_number_bidx = :id_number_bidx, phone = :phone,"
                  " phone_bidx = :phone_bidx, email = :email, address = :address WHERE id = :id")
    resident_hashes: dict[str, str] = {}  # the blacklist's old hash of a customer's number -> its blind index
    secret = get_settings().secret_key.encode()
    for rows in _rows(bind, "SELECT id, id_number, phone, email, address FROM customers WHERE id > :last"
                            " ORDER BY id LIMIT :n"):
        params = []
        for cid, id_number, phone, email, address in rows:
            params.append({
                "id": cid, "id_number": _enc(key, "customers", "id_number", id_number),
                "id_number_bidx": keyring.blind_index(id_number, kind="id_number"),
                "phone": _enc(key, "customers", "phone", phone),
                "phone_bidx": None if phone is None else keyring.blind_index(phone, kind="phone"),
                "email": _enc(key, "customers", "email", email),
                "address": _enc(key, "customers", "address", address)})
            n = (id_number or "").strip().replace(" ", "").upper()
            if n:
                resident_hashes[hmac.new(secret, n.encode(), hashlib.sha256).hexdigest()] = \
                    keyring.blind_index(n, kind="id_number")
        bind.execute(upd, params)
    upd = sa.text("UPDATE loan_applications SET employer = :employer,"
                  " collateral_description = :collateral_description WHERE id = :id")
    for rows in _rows(bind, "SELECT id, employer, collateral_description FROM loan_applications WHERE id > :last"
                            " ORDER BY id LIMIT :n"):
        bind.execute(upd, [{"id": i, "employer": _enc(key, "loan_applications", "employer", e),
                            "collateral_description": _enc(key, "loan_applications", "collateral_description", d)}
                           for i, e, d in rows])
    # the blacklist entries of the bank's own customers take the blind index (others keep the old hash, which
    # lending.policy still recognises)
    for (bid, h) in bind.execute(sa.text("SELECT id, id_number_hash FROM credit_blacklist")).all():
        if h in resident_hashes:
            bind.execute(sa.text("UPDATE credit_blacklist SET id_number_hash = :h WHERE id = :id"),
                         {"h": resident_hashes[h], "id": bid})

    if pg:  # (SQLite would rebuild the table for it; its column stays nullable)
        op.alter_column("customers", "id_number_bidx", existing_type=sa.String(length=32), nullable=False)
    op.create_index("ix_customers_id_doc", "customers", ["id_type", "id_number_bidx"], unique=True)
    op.create_index("ix_customers_phone_bidx", "customers", ["phone_bidx"], unique=False)
    if pg:
        op.execute("ANALYZE customers")
    keyring.reset_key_cache()


def downgrade() -> None:
    """Back to plaintext: every value decrypted (with whichever data key version it names), the blind indexes
    and the data keys dropped. Needs the master key, like the upgrade."""
    bind = op.get_bind()
    provider = keyring.key_provider()
    keys = {int(v): AESGCM(provider.unwrap(base64.b64decode(w), aad=f"smartbank data key v{v}".encode()))
            for v, w in bind.execute(sa.text("SELECT version, wrapped_key FROM data_keys")).all()}

    def dec(table: str, column: str, value: str | None) -> str | None:
        if value is None:
            return None
        blob = base64.b64decode(value)
        return keyring.unseal(keys[keyring.blob_version(blob)], blob, context=f"{table}.{column}").decode("utf-8")

    upd = sa.text("UPDATE customers SET id_number = :id_number, phone = :phone, email = :email,"
                  " address = :address WHERE id = :id")
    for rows in _rows(bind, "SELECT id, id_number, phone, email, address FROM customers WHERE id > :last"
                            " ORDER BY id LIMIT :n"):
        bind.execute(upd, [{"id": r[0], **{c: dec("customers", c, v) for c, v in zip(CUSTOMER_FIELDS, r[1:],
                                                                                      strict=True)}}
                           for r in rows])
    upd = sa.text("UPDATE loan_applications SET employer = :employer,"
                  " collateral_description = :collateral_description WHERE id = :id")
    for rows in _rows(bind, "SELECT id, employer, collateral_description FROM loan_applications WHERE id > :last"
                            " ORDER BY id LIMIT :n"):
        bind.execute(upd, [{"id": i, "employer": dec("loan_applications", "employer", e),
                            "collateral_description": dec("loan_applications", "collateral_description", d)}
                           for i, e, d in rows])
    op.drop_index("ix_customers_phone_bidx", table_name="customers")
    op.drop_index("ix_customers_id_doc", table_name="customers")
    op.drop_column("customers", "phone_bidx")
    op.drop_column("customers", "id_number_bidx")
    if bind.dialect.name == "postgresql":
        for col, n in (("id_number", 40), ("phone", 20), ("email", 200), ("address", 300)):
            op.alter_column("customers", col, type_=sa.String(length=n), existing_nullable=col != "id_number")
        op.alter_column("loan_applications", "employer", type_=sa.String(length=200), existing_nullable=True)
        op.alter_column("loan_applications", "collateral_description", type_=sa.String(length=300),
                        existing_nullable=True)
    op.create_index("ix_customers_id_doc", "customers", ["id_type", "id_number"], unique=True)
    op.create_index("ix_customers_phone", "customers", ["phone"], unique=False)
    op.drop_table("data_keys")
    keyring.reset_key_cache()
