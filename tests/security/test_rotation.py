"""Data-key rotation: online (batches, each its own transaction), resumable, reads open either version."""

from __future__ import annotations

import pytest
from sqlalchemy import text

import smartbank.models  # noqa: F401 - every encrypted column registered
from smartbank import db
from smartbank.customers import service as customers
from smartbank.security import keyring
from smartbank.security import service as security


def _versions(engine) -> set[int]:
    with engine.connect() as c:
        values = [v for r in c.execute(text("SELECT id_number, phone, email FROM customers")) for v in r if v]
    return {keyring.blob_version(__import__("base64").b64decode(v)) for v in values}


def test_encrypted_columns_are_found_in_the_registry():
    names = {f"{t.name}.{c.name}" for t, c, _ in security.encrypted_columns()}
    assert {"customers.id_number", "customers.phone", "customers.email", "customers.address",
            "loan_applications.employer", "loan_applications.collateral_description", "user_mfa.secret_enc"} <= names


def test_rotation_re_encrypts_the_totp_secrets_too(engine, bank):
    from smartbank.security import mfa
    from smartbank.security.models import User

    uid = bank.user("teller1", role="teller")
    with db.session_scope(engine) as s:
        secret = mfa.begin(s, s.get(User, uid)).secret
    report = security.rotate_data_key()
    assert report.rewritten["user_mfa.secret_enc"] == 1 and report.left == {}
    assert security.rows_per_version()["user_mfa.secret_enc"] == {"2": 1}
    with db.session_scope(engine) as s:  # the factor still opens: a code made from the secret is accepted
        import pyotp

        from smartbank import clock

        assert mfa.check(s, uid, pyotp.TOTP(secret).at(clock.now()), confirming=True)


def test_rotation_re_encrypts_every_row_in_batches(engine, bank):
    ids = [bank.customer(f"客户{i}", email=f"c{i}@example.cn") for i in range(5)]
    assert _versions(engine) == {1}
    assert security.rows_per_version()["customers.phone"] == {"1": 5}
    batches: list[tuple[str, int]] = []
    report = security.rotate_data_key(batch_size=2, progress=lambda col, n: batches.append((col, n)))
    assert report.version == 2 and report.created and report.left == {}
    assert report.rewritten["customers.phone"] == 5 and report.rewritten["customers.email"] == 5
    assert [n for col, n in batches if col == "customers.phone"] == [2, 2, 1]
    assert _versions(engine) == {2}
    assert security.rows_per_version()["customers.id_number"] == {"2": 5}
    assert {r["version"]: r["status"] for r in security.data_keys()} == {1: "retired", 2: "active"}
    with db.session_scope(engine) as s:  # the bank reads them as before
        assert [customers.get_customer(s, i).email for i in ids] == [f"c{i}@example.cn" for i in range(5)]
        assert [c.id for c in customers.search_customers(s, "13800000003")] == [ids[2]]


def test_an_interrupted_rotation_resumes_and_reads_work_meanwhile(engine, bank):
    ids = [bank.customer(f"客户{i}") for i in range(4)]

    class Stop(Exception):
        pass

    def stop_after_first(col: str, n: int) -> None:
        raise Stop

    with pytest.raises(Stop):
        security.rotate_data_key(batch_size=3, progress=stop_after_first)
    assert _versions(engine) == {1, 2}  # part-way: both versions in the table
    with db.session_scope(engine) as s:  # and every row still reads
        assert all(customers.get_customer(s, i).phone for i in ids)
        customers.get_customer(s, ids[0]).phone = "+8613911112222"  # a write meanwhile: the active version
    report = security.reencrypt(batch_size=3)
    assert report.version == 2 and not report.created and report.left == {}
    assert _versions(engine) == {2}
    again = security.reencrypt()
    assert sum(again.rewritten.values()) == 0  # nothing left to do


def test_a_row_changed_between_read_and_write_is_not_overwritten(engine, bank, monkeypatch):
    cid = bank.customer(phone="13812345678")
    security.create_data_key()
    real = keyring.encrypt_text
    changed = []

    def encrypt_and_race(value, *, context, engine=None):
        if context == "customers.phone" and not changed:  # the bank writes the row while the batch works
            changed.append(True)
            with db.session_scope() as s:
                customers.get_customer(s, cid).phone = "+8613600000000"
        return real(value, context=context, engine=engine)

    monkeypatch.setattr(keyring, "encrypt_text", encrypt_and_race)
    security.reencrypt(passes=2)
    with db.session_scope(engine) as s:
        assert customers.get_customer(s, cid).phone == "+8613600000000"


def test_bad_batch_size_is_refused():
    with pytest.raises(ValueError):
        security.reencrypt(batch_size=0)
