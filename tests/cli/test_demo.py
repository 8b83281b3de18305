"""``smartbank demo`` seeds a bank, its sign-ins, the insight models and every profile (first run only)."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from smartbank.cli import app
from smartbank.customers.validation import make_resident_id, resident_id_check_digit

# an 18-character resident ID number (region, birth date, sequence, check) and a mainland mobile number, each
# standing alone: not inside a longer run of letters and digits (a hex hash, a base64 ciphertext)
_RESIDENT_ID = re.compile(rb"(?<![0-9A-Za-z])([1-9][0-9]{5}(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
                          rb"[0-9]{3}[0-9X])(?![0-9A-Za-z])")
_MOBILE = re.compile(rb"(?<![0-9A-Za-z])(?:\+?86)?(1[3-9][0-9]{9})(?![0-9A-Za-z])")


def plaintext_identities(data: bytes) -> list[str]:
    """Every valid resident ID number (checksum) and full mobile number written out in ``data``."""
    found = [m.group(1).decode() for m in _RESIDENT_ID.finditer(data)
             if resident_id_check_digit(m.group(1)[:17].decode()) == chr(m.group(1)[17])]
    return found + [m.group(1).decode() for m in _MOBILE.finditer(data)]


_READ_DATABASE_FILES = ("import sys, pathlib; p = pathlib.Path(sys.argv[1]); w = p.with_name(p.name + '-wal'); "
                        "sys.stdout.buffer.write(p.read_bytes() + (w.read_bytes() if w.exists() else b''))")


def database_plaintext(engine: Engine) -> list[str]:
    """The scan of a whole database: on SQLite the file's bytes (the write-ahead log checkpointed into it first),
    on PostgreSQL every text and JSON column of every table."""
    if engine.dialect.name == "sqlite":
        path = Path(engine.url.database or "")
        raw = sqlite3.connect(path, isolation_level=None)  # outside any transaction: the checkpoint may run
        try:
            raw.execute("PRAGMA wal_checkpoint(FULL)")
        finally:
            raw.close()
        # the bytes are read in another process: closing a descriptor of the database file here would drop the
        # POSIX locks SQLite holds on it for this process's open connections (fcntl locks belong to the process),
        # and a later connection of this process then meets a write-ahead log that is not what it expects
        read = subprocess.run([sys.executable, "-c", _READ_DATABASE_FILES, str(path)], capture_output=True,
                              check=True, timeout=120)
        return plaintext_identities(read.stdout)
    found: list[str] = []
    with engine.connect() as c:
        cols = c.execute(text("SELECT table_name, column_name FROM information_schema.columns"
                              " WHERE table_schema = current_schema()"
                              " AND data_type IN ('text', 'character varying', 'json', 'jsonb')")).all()
        for table, column in cols:
            for (v,) in c.execute(text(f'SELECT "{column}"::text FROM "{table}" WHERE "{column}" IS NOT NULL')):
                found += [f"{table}.{column}: {x}" for x in plaintext_identities(v.encode())]
    return found


def test_the_scan_finds_identity_numbers_and_mobiles_but_not_hashes_or_other_numbers():
    rid = make_resident_id("110101", __import__("datetime").date(1985, 3, 7), 42)
    wrong = rid[:17] + ("0" if rid[17] != "0" else "1")
    data = (f'{{"id": "{rid}", "x": "{wrong}", "phone": "+8613812345678"}} 手机15900001111。 '
            f"a1b2c3d13812345678e9f 12345678901234567890 amount 12812345678").encode()
    assert plaintext_identities(data) == [rid, "13812345678", "15900001111"]


@pytest.mark.commits  # the synthetic bank loads through an engine of its own
def test_demo_seeds_bank_users_models_and_profiles(database_url, engine, tmp_path, monkeypatch):
    monkeypatch.setenv("SMARTBANK_MODEL_DIR", str(tmp_path / "models"))
    from smartbank import config

    config.reset_settings()
    r = CliRunner().invoke(app, ["demo", "--no-serve", "--customers", "40", "--months", "4", "--seed", "3"])
    assert r.exit_code == 0, r.output
    with engine.connect() as c:
        customers = c.execute(text("SELECT count(*) FROM customers WHERE kind IN ('individual', 'business')")).scalar()
        profiles = c.execute(text("SELECT count(*) FROM customer_profiles")).scalar()
        users = c.execute(text("SELECT count(*) FROM users WHERE username IN ('demo', 'demo2', 'admin')")).scalar()
        segments = c.execute(text("SELECT count(*) FROM segments")).scalar()
        products = c.execute(text("SELECT count(*) FROM loan_products")).scalar()
        decided = c.execute(text("SELECT count(*) FROM credit_decisions WHERE model_version <> 'none'")).scalar()
        loans = c.execute(text("SELECT count(*) FROM loans")).scalar()
        queue = c.execute(text("SELECT count(*) FROM loan_applications WHERE status = 'manual_review'")).scalar()
        wealth = c.execute(text("SELECT count(*) FROM wealth_products")).scalar()
        held = c.execute(text("SELECT count(DISTINCT customer_id) FROM holdings WHERE units_micro > 0")).scalar()
        assessed = c.execute(text("SELECT count(*) FROM risk_assessments")).scalar()
        faqs = c.execute(text("SELECT count(*) FROM faq_entries WHERE active")).scalar()
        demo_held = c.execute(text("SELECT count(*) FROM holdings h JOIN users u ON u.customer_id = h.customer_id"
                                   " WHERE u.username = 'demo' AND h.units_micro > 0")).scalar()
    assert users == 3
    assert "skipped" not in r.output, r.output
    assert demo_held >= 1  # the demo customer is assessed (age as on the ID) and holds products
    # lending: products, a trained credit model deciding every application, a loan book, an officer's queue
    assert products >= 4 and decided > 0 and loans > 0 and queue >= 1
    # wealth: a catalogue, assessed customers holding settled products (the recommender's feedback)
    assert wealth >= 10 and assessed > 0 and held > 0
    assert faqs >= 20  # the assistant's knowledge base
    assert profiles == customers > 0
    assert segments > 0  # the trained segmentation is published for the segment explorer
    assert {p.name for p in (tmp_path / "models").iterdir()} >= {"rfm", "segments", "churn", "credit", "rec_hybrid"}
    assert CliRunner().invoke(app, ["ledger", "verify"]).exit_code == 0
    # no identity in plain text anywhere in the database: encrypted columns, masked copies (top-ups), hashes
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM customers WHERE phone IS NOT NULL")).scalar() > 0
    assert database_plaintext(engine) == []
