"""The customers' identity fields at rest: ciphertext in the table, plaintext through the ORM, look-ups by
blind index (search, the duplicate identity check, the import's matching)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select, text

from smartbank import db
from smartbank.customers import service as customers
from smartbank.customers.validation import make_resident_id
from smartbank.errors import Conflict
from smartbank.security import service as security

ID = make_resident_id("110101", date(1985, 3, 7), 123)


def test_the_table_holds_ciphertext_and_the_model_plaintext(engine, bank):
    cid = bank.customer(id_number=ID, phone="13812345678", email="zhao@example.cn", address="北京市朝阳区建国路1号")
    with engine.connect() as c:
        row = c.execute(text("SELECT id_number, phone, email, address, id_number_bidx, phone_bidx FROM customers"
                             " WHERE id = :i"), {"i": cid}).one()
    raw = " ".join(str(v) for v in row)
    for plain in (ID, "13812345678", "zhao@example.cn", "北京", "example"):
        assert plain not in raw
    assert row.id_number_bidx == security.blind_index(ID, kind="id_number")
    assert row.phone_bidx == security.blind_index("+8613812345678", kind="phone")
    assert security.decrypt_text(row.phone, context="customers.phone") == "+8613812345678"
    with pytest.raises(security.DecryptionError):  # a ciphertext copied into another column does not open
        security.decrypt_text(row.phone, context="customers.email")
    with db.session_scope(engine) as s:
        c = customers.get_customer(s, cid)
        assert (c.id_number, c.phone, c.email, c.address) == (ID, "+8613812345678", "zhao@example.cn",
                                                              "北京市朝阳区建国路1号")


def test_changing_the_phone_moves_its_blind_index(engine, bank):
    cid = bank.customer(phone="13812345678")
    with db.session_scope(engine) as s:
        customers.get_customer(s, cid).phone = "+8613900001111"
    with db.session_scope(engine) as s:
        found = customers.search_customers(s, "13900001111")
        assert [c.id for c in found] == [cid] and customers.search_customers(s, "13812345678") == []


def test_search_finds_by_whole_id_number_and_phone_only(engine, bank):
    a = bank.customer("赵六", id_number=ID, phone="13812345678")
    bank.customer("钱七")
    with db.session_scope(engine) as s:
        def ids(q):
            return [c.id for c in customers.search_customers(s, q)]
        assert ids(ID) == [a] and ids(ID.lower()) == [a]
        assert ids("13812345678") == [a] and ids("+86 138 1234 5678") == [a]
        assert ids("赵") == [a]
        assert ids("5678") == []  # part of a number: the encrypted column cannot be searched by substring


def test_the_same_identity_document_is_refused_by_its_blind_index(engine, bank):
    bank.customer(id_number=ID)
    with db.session_scope(engine) as s, pytest.raises(Conflict):
        customers.create_customer(s, customers.CustomerCreate(kind="individual", name="某人", id_number=f" {ID} "))


def test_ids_by_document_and_bulk_inserts(engine, bank, session):
    cid = bank.customer(id_number=ID)
    rows = [{"number": "C9", "kind": "individual", "name": "孙八", "id_type": "resident_id",
             "id_number": make_resident_id("110101", date(1990, 1, 1), 5), "phone": "+8613700000000",
             "email": None, "address": "上海", "kyc_status": "pending", "risk_level": "low", "status": "active"}]
    with db.session_scope(engine) as s:
        [new] = customers.insert_many(s, rows)
        assert customers.ids_by_document(s, [("resident_id", ID), ("resident_id", rows[0]["id_number"]),
                                             ("passport", ID)]) == {("resident_id", ID): cid,
                                                                    ("resident_id", rows[0]["id_number"]): new}
    with engine.connect() as c:
        stored = c.execute(text("SELECT phone, phone_bidx, address FROM customers WHERE id = :i"), {"i": new}).one()
    assert "13700000000" not in stored.phone and stored.phone_bidx == security.blind_index("13700000000", kind="phone")
    assert "上海" not in stored.address


def test_stored_form_for_copy_matches_what_the_column_types_write(engine):
    [row] = customers.stored_form([{"id_number": ID, "phone": "+8613812345678", "email": None, "name": "x"}])
    assert row["email"] is None and row["name"] == "x"
    assert row["id_number_bidx"] == security.blind_index(ID, kind="id_number")
    assert security.decrypt_text(row["phone"], context="customers.phone") == "+8613812345678"


def test_comparing_an_encrypted_column_with_a_value_is_refused():
    with pytest.raises(security.EncryptedColumnCompared):
        select(customers.Customer.id).where(customers.Customer.phone == "+8613812345678")
    with pytest.raises(security.EncryptedColumnCompared):
        customers.Customer.id_number.in_([ID])
    select(customers.Customer.id).where(customers.Customer.phone.is_(None))  # allowed
