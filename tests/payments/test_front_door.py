"""The payments front door: a transfer, a receipt, an account only as the actor may see them."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from smartbank import db
from smartbank.errors import Forbidden, NotFound
from smartbank.ledger import service as ledger
from smartbank.payments import service as payments
from smartbank.security.service import Principal


@pytest.fixture
def w(bank, engine):
    alice, bob, carol = bank.customer("王芳"), bank.customer("李娜"), bank.customer("张伟")
    a, b = bank.account(alice, balance=10_000), bank.account(bob)
    with db.session_scope(engine) as s:
        biller = payments.add_biller(s, code="WATER", name_zh="自来水", name_en="Water Co", category="water")
        bill = payments.issue_bill(s, biller_code="WATER", reference="R1", period="2026-10", amount_minor=1_000,
                                   due_date=ledger.utcnow().date())
        t = ledger.transfer(s, ledger.TransferCommand(key="t1", debit_account_id=a, credit_account_id=b,
                                                      amount_minor=700, currency="CNY")).id
        paid = ledger.transfer(s, ledger.TransferCommand(
            key="t2", debit_account_id=a, credit_account_id=biller.settlement_account_id, amount_minor=1_000,
            currency="CNY", kind="bill_payment", meta={"biller": "WATER", "bill_reference": "R1"})).id
        bill_id = bill.id
    users = {name: Principal(user_id=bank.user(name, role="customer", customer_id=cid), username=name,
                             role="customer", customer_id=cid)
             for name, cid in (("alice", alice), ("bob", bob), ("carol", carol))}
    for role in ("teller", "marketer"):
        users[role] = Principal(user_id=bank.user(f"{role}1", role=role), username=f"{role}1", role=role,
                                customer_id=None)
    return {"a": a, "b": b, "t": t, "paid": paid, "bill": bill_id, **users}


def run(engine, fn):
    return db.run_in_transaction(fn, engine=engine)


def test_get_transfer_for_either_side_and_for_staff_who_may(engine, w):
    for who in ("alice", "bob"):
        assert run(engine, lambda s, who=who: payments.get_transfer(s, w[who], w["t"]))["amount_minor"] == 700
    with pytest.raises(NotFound):  # another customer's transfer: as if there were none
        run(engine, lambda s: payments.get_transfer(s, w["carol"], w["t"]))
    with pytest.raises(NotFound):
        run(engine, lambda s: payments.get_transfer(s, w["alice"], 987_654))
    assert run(engine, lambda s: payments.get_transfer(s, w["teller"], w["t"]))["id"] == w["t"]
    with pytest.raises(Forbidden):
        run(engine, lambda s: payments.get_transfer(s, w["marketer"], w["t"]))
    assert payments.view_transfer is payments.get_transfer


def test_a_receipt_is_the_customers_own_side(engine, w):
    out = run(engine, lambda s: payments.transfer_receipt(s, w["alice"], w["t"]))
    assert (out.outgoing, out.mine.id, out.other_internal, out.biller) == (True, w["a"], False, None)
    with db.session_scope(engine) as s:
        assert out.other_number == ledger.get_account(s, w["b"]).number
    back = run(engine, lambda s: payments.transfer_receipt(s, w["bob"], w["t"]))
    assert (back.outgoing, back.mine.id) == (False, w["b"])
    for stranger, tid in (("carol", w["t"]), ("bob", w["paid"]), ("alice", 987_654)):
        with pytest.raises(NotFound) as e:
            run(engine, lambda s, st=stranger, tid=tid: payments.transfer_receipt(s, w[st], tid))
        assert e.value.details == {"transfer_id": tid}


def test_a_bill_payment_receipt_names_the_biller_and_the_banks_side(engine, w):
    out = run(engine, lambda s: payments.transfer_receipt(s, w["alice"], w["paid"]))
    assert out.outgoing and out.other_internal and out.biller is not None and out.biller.code == "WATER"


def test_a_staff_read_of_a_transfer_is_audited_for_both_customers(engine, w, bank):
    run(engine, lambda s: payments.get_transfer(s, w["teller"], w["t"]))
    with engine.connect() as c:
        rows = c.execute(text("SELECT action, object_id FROM audit_log WHERE action = 'transfer.read'")).all()
    assert len(rows) == 2  # one record per customer whose data was shown (payer and payee)
