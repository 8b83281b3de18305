"""Migration 0015 on a bank with plaintext rows: every identity field encrypted, the blind indexes filled, the
blacklist re-keyed for the bank's customers; and back (downgrade decrypts)."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from smartbank import config, db
from smartbank.customers.validation import make_resident_id
from smartbank.ops.migrate import alembic_config, upgrade
from smartbank.security import keyring
from smartbank.security import service as security
from tests import databases
from tests.conftest import PG_URL

ID = make_resident_id("110101", __import__("datetime").date(1985, 3, 7), 42)
OTHER = make_resident_id("110101", __import__("datetime").date(1970, 1, 1), 43)


@pytest.fixture
def empty_url(backend, tmp_path):
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'm.db'}"
        return
    with databases._pg_admin(PG_URL) as c:
        name = databases.database_name(c, "mig")
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield databases.pg_database_url(PG_URL, name)
    finally:
        db.dispose_engines()
        with databases._pg_admin(PG_URL) as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_0015_encrypts_existing_rows_and_downgrades(empty_url, monkeypatch):
    monkeypatch.setenv("SMARTBANK_DATABASE_URL", empty_url)
    config.reset_settings()
    security.reset_key_cache()
    upgrade(empty_url, "0014")
    secret = config.get_settings().secret_key.encode()
    e = create_engine(db.normalise_url(empty_url))
    try:
        with e.begin() as c:
            c.execute(text("INSERT INTO customers (number, kind, name, id_type, id_number, phone, email, address,"
                           " kyc_status, risk_level, status) VALUES ('C1', 'individual', '张三', 'resident_id', :i,"
                           " '+8613812345678', 'a@example.cn', '北京市', 'pending', 'low', 'active')"), {"i": ID})
            for n in (ID, OTHER):
                c.execute(text("INSERT INTO credit_blacklist (id_number_hash, id_number_last4, reason, active)"
                               " VALUES (:h, :l, 'x', true)"),
                          {"h": hmac.new(secret, n.encode(), hashlib.sha256).hexdigest(), "l": n[-4:]})
        upgrade(empty_url)
        with e.connect() as c:
            row = c.execute(text("SELECT id_number, id_number_bidx, phone, phone_bidx, email, address"
                                 " FROM customers")).one()
            hashes = set(c.execute(text("SELECT id_number_hash FROM credit_blacklist")).scalars())
            [(version, status)] = c.execute(text("SELECT version, status FROM data_keys")).all()
        assert (version, status) == (1, "active")
        assert ID not in str(row) and "13812345678" not in str(row) and "北京" not in str(row)
        assert keyring.blob_version(base64.b64decode(row.id_number)) == 1
        assert security.decrypt_text(row.address, context="customers.address") == "北京市"
        assert row.id_number_bidx == security.blind_index(ID, kind="id_number")
        assert row.phone_bidx == security.blind_index("13812345678", kind="phone")
        # the customer's blacklist entry now holds the blind index; a stranger's keeps the old keyed hash
        assert security.blind_index(ID, kind="id_number") in hashes
        assert hmac.new(secret, OTHER.encode(), hashlib.sha256).hexdigest() in hashes

        command.downgrade(alembic_config(empty_url), "0014")
        with e.connect() as c:
            assert c.execute(text("SELECT id_number, phone, email, address FROM customers")).one() == (
                ID, "+8613812345678", "a@example.cn", "北京市")
    finally:
        e.dispose()
        security.reset_key_cache()
