"""Bill payment and mobile top-up through the API, and the daily limit across payment kinds."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest

from smartbank import clock
from smartbank.security.service import Principal
from tests.api.support import API, add_biller, assert_error, issue_bill, number, scalar, state
from tests.changes import approve
from tests.conftest import login


def _setup(client, bank, engine, balance=100_000):
    alice, bob = bank.customer("王芳"), bank.customer("李娜")
    a1 = bank.account(alice, balance=balance)
    a2 = bank.account(alice, balance=balance)
    b1 = bank.account(bob, balance=balance)
    bank.user("alice", customer_id=alice)
    bank.user("bob", customer_id=bob)
    bank.user("teller1", role="teller")
    add_biller(engine, "BJPOWER")
    add_biller(engine, "CMCC", category="mobile", requires_bill=False)
    return {"alice": alice, "a1": a1, "a2": a2, "b1": b1, "nb1": number(engine, b1), "ha": login(client, "alice"),
            "hb": login(client, "bob"), "ht": login(client, "teller1")}


def _pay(client, w, bill, key, account="a1", who="ha"):
    return client.post(f"{API}/bill-payments", json={"from_account_id": w[account], "bill_id": bill,
                                                     "idempotency_key": key}, headers=w[who])


def test_lookup_and_pay_a_bill_once(client, bank, engine):
    w = _setup(client, bank, engine)
    jan = issue_bill(engine, "BJPOWER", "0012345678", 12_345, period="2026-01", due=date(2026, 2, 15))
    feb = issue_bill(engine, "BJPOWER", "0012345678", 9_900, period="2026-02", due=date(2026, 3, 15))
    issue_bill(engine, "BJPOWER", "0099999999", 500, period="2026-01")  # somebody else's reference

    r = client.get(f"{API}/billers/BJPOWER/bills", params={"reference": " 0012345678 "}, headers=w["ha"])
    assert r.status_code == 200
    assert [(b["id"], b["period"], b["amount_minor"], b["status"]) for b in r.json()] == [
        (jan, "2026-01", 12_345, "unpaid"), (feb, "2026-02", 9_900, "unpaid")]
    assert client.get(f"{API}/billers/BJPOWER/bills", params={"reference": "nope"}, headers=w["ha"]).json() == []
    assert_error(client.get(f"{API}/billers/NOPE/bills", params={"reference": "1"}, headers=w["ha"]), 404)
    billers = client.get(f"{API}/billers", params={"category": "mobile"}, headers=w["ha"]).json()
    assert [(b["code"], b["requires_bill"]) for b in billers] == [("CMCC", False)]

    r = _pay(client, w, jan, "pay-jan")
    assert r.status_code == 201, r.text
    t = r.json()
    assert (t["kind"], t["amount_minor"], t["debit_account_id"], t["reference"]) == (
        "bill_payment", 12_345, w["a1"], f"bill:{jan}")
    assert bank.balance(w["a1"]) == 100_000 - 12_345
    # a paid bill no longer shows up, the other one does
    left = client.get(f"{API}/billers/BJPOWER/bills", params={"reference": "0012345678"}, headers=w["ha"]).json()
    assert [b["id"] for b in left] == [feb]

    # replay with the same key: the same transfer, 200, nothing new
    before = state(engine)
    again = _pay(client, w, jan, "pay-jan")
    assert again.status_code == 200 and again.json()["id"] == t["id"]
    assert state(engine) == before
    # a second payment of the same bill (new key, any account, anyone) is a double payment: 409
    for account, who, key in (("a1", "ha", "pay-jan-2"), ("a2", "ha", "pay-jan-3"), ("b1", "hb", "bob-pays")):
        body = assert_error(_pay(client, w, jan, key, account, who), 409, "conflict")
        assert "already paid" in body["message"]
    # the paid key reused for a different bill is an idempotency conflict
    assert_error(_pay(client, w, feb, "pay-jan"), 409, "idempotency_key_reused")
    assert state(engine) == before
    assert bank.balance(w["a1"]) == 100_000 - 12_345
    bank.assert_invariants()


def test_replaying_a_bill_payment_with_a_different_account_is_a_conflict(client, bank, engine):
    """Same key, different body: 409, as for every other idempotent operation."""
    w = _setup(client, bank, engine)
    bill = issue_bill(engine, "BJPOWER", "0012345678", 1_000)
    assert _pay(client, w, bill, "k").status_code == 201
    before = state(engine)
    assert_error(_pay(client, w, bill, "k", account="a2"), 409)
    assert state(engine) == before


def test_overdue_bills_can_be_paid_and_a_failed_payment_leaves_the_bill_unpaid(client, bank, engine):
    w = _setup(client, bank, engine, balance=5_000)
    overdue = issue_bill(engine, "BJPOWER", "77", 4_000, period="2025-06", due=clock.today() - timedelta(days=90))
    big = issue_bill(engine, "BJPOWER", "77", 9_000, period="2025-07", due=clock.today() - timedelta(days=60))
    before = state(engine)
    assert_error(_pay(client, w, big, "big"), 422, "insufficient_funds")
    assert state(engine) == before
    assert scalar(engine, "SELECT status FROM bills WHERE id = :b", b=big) == "unpaid"
    assert _pay(client, w, overdue, "late").status_code == 201
    assert scalar(engine, "SELECT status FROM bills WHERE id = :b", b=overdue) == "paid"
    assert_error(_pay(client, w, 10**9, "none"), 404, "not_found")
    # someone else's bill may be paid from one's own account (paying a parent's electricity)
    small = issue_bill(engine, "BJPOWER", "77", 1_000, period="2025-08", due=clock.today())
    assert _pay(client, w, small, "bob", account="b1", who="hb").status_code == 201


def _reverse(client, transfer_id, key):
    """A reversal through the back-office API: risk1 asks, risk2 approves."""
    asked = client.post(f"{API}/transfers/{transfer_id}/reverse", json={"idempotency_key": key, "memo": "paid twice"},
                        headers=login(client, "risk1"))
    assert asked.status_code == 201, asked.text
    return client.post(f"{API}/reversals/{asked.json()['id']}/approve", json={}, headers=login(client, "risk2"))


def test_a_reversed_bill_payment_reopens_the_bill(client, bank, engine):
    """Reversing a bill payment gives the money back and the bill is open again: it can be paid anew."""
    w = _setup(client, bank, engine)
    bank.user("risk1", role="risk_officer")
    bank.user("risk2", role="risk_officer")
    bill = issue_bill(engine, "BJPOWER", "0012345678", 12_345)
    paid = _pay(client, w, bill, "pay-1")
    assert paid.status_code == 201, paid.text
    r = _reverse(client, paid.json()["id"], "rev-1")
    assert r.status_code == 200 and r.json()["status"] == "executed", r.text
    assert bank.balance(w["a1"]) == 100_000
    assert scalar(engine, "SELECT status FROM bills WHERE id = :b", b=bill) == "unpaid"
    assert scalar(engine, "SELECT paid_transfer_id FROM bills WHERE id = :b", b=bill) is None
    found = client.get(f"{API}/billers/BJPOWER/bills", params={"reference": "0012345678"}, headers=w["ha"]).json()
    assert [b["id"] for b in found] == [bill]
    again = _pay(client, w, bill, "pay-2")
    assert again.status_code == 201, again.text
    assert scalar(engine, "SELECT paid_transfer_id FROM bills WHERE id = :b", b=bill) == again.json()["id"]
    assert bank.balance(w["a1"]) == 100_000 - 12_345
    # the old payment's key still replays the old (reversed) payment, it does not pay twice
    assert_error(_pay(client, w, bill, "pay-1"), 409, "conflict")
    bank.assert_invariants()


@pytest.mark.commits
def test_concurrent_payments_of_one_bill_pay_it_once(client, bank, engine):
    """Two devices paying the same bill at once with different keys: one payment, one 409."""
    from smartbank import db
    from smartbank.errors import Conflict
    from smartbank.payments import service as payments

    w = _setup(client, bank, engine)
    bill = issue_bill(engine, "BJPOWER", "0012345678", 10_000)
    uid = scalar(engine, "SELECT id FROM users WHERE username = 'alice'")
    me = Principal(user_id=uid, username="alice", role="customer", customer_id=w["alice"])
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def pay(i):
        barrier.wait()
        try:
            db.run_in_transaction(lambda s: payments.pay_bill(
                s, me, from_account_id=w["a1"] if i % 2 else w["a2"], bill_id=bill, idempotency_key=f"dev-{i}"))
            outcomes.append("paid")
        except Conflict:
            outcomes.append("409")

    threads = [threading.Thread(target=pay, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["409", "409", "409", "paid"], outcomes
    assert scalar(engine, "SELECT count(*) FROM transfers WHERE kind = 'bill_payment'") == 1
    assert bank.balance(w["a1"]) + bank.balance(w["a2"]) == 200_000 - 10_000
    bank.assert_invariants()


@pytest.mark.parametrize("yuan", [10, 20, 30, 50, 100, 200, 300, 500])
def test_top_up_allowed_amounts(client, bank, engine, yuan):
    w = _setup(client, bank, engine)
    r = client.post(f"{API}/top-ups", json={"from_account_id": w["a1"], "biller_code": "CMCC",
                                            "phone": "+86 139-1234-5678", "amount_minor": yuan * 100,
                                            "idempotency_key": "t"}, headers=w["ha"])
    assert r.status_code == 201, r.text
    assert r.json()["reference"] == "topup:139****5678"  # the number normalised, kept masked in the journal
    assert "13912345678" not in r.text
    assert bank.balance(w["a1"]) == 100_000 - yuan * 100


def test_top_up_validation(client, bank, engine):
    w = _setup(client, bank, engine)

    def top(key, **kw):
        body = {"from_account_id": w["a1"], "biller_code": "CMCC", "phone": "13912345678", "amount_minor": 50_00,
                "idempotency_key": key, **kw}
        return client.post(f"{API}/top-ups", json=body, headers=w["ha"])

    before = state(engine)
    for amount in (1, 15_00, 49_99, 1000_00, 50_01):
        body = assert_error(top(f"a{amount}", amount_minor=amount), 422, "validation_error")
        assert "top-up amount" in body["message"]
    for phone in ("12345", "23912345678", "1391234567", "139123456789", "phone-number", "+1 650 253 0000"):
        body = assert_error(top(f"p{phone}", phone=phone), 422, "validation_error")
        assert "phone" in body["message"]
    # a landline is a valid phone number, but there is no such thing as topping one up
    for phone in ("010 1234 5678", "+86 10 1234 5678", "0755-12345678"):
        assert_error(top(f"l{phone}", phone=phone), 422, "validation_error")
    body = assert_error(top("bill", biller_code="BJPOWER"), 422, "validation_error")
    assert "bill" in body["message"]
    assert_error(top("nobody", biller_code="NOPE"), 404, "not_found")
    assert_error(top("bobs", from_account_id=w["b1"]), 404, "not_found")
    assert state(engine) == before
    first = top("same")
    assert first.status_code == 201
    again = top("same")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert_error(top("same", phone="13800000000"), 409, "idempotency_key_reused")


def test_daily_limit_spans_transfers_bill_payments_and_top_ups(client, bank, engine):
    w = _setup(client, bank, engine)
    r = client.put(f"{API}/customers/{w['alice']}/daily-limit", json={"daily_limit_minor": 100_00},
                   headers=w["ht"])
    assert r.status_code == 202 and approve(r)["after"]["daily_limit_minor"] == 100_00

    def tr(key, amount, to=None):
        return client.post(f"{API}/transfers", json={"from_account_id": w["a1"], "to_account_number": to or w["nb1"],
                                                     "amount_minor": amount, "idempotency_key": key},
                           headers=w["ha"])

    assert tr("t1", 40_00).status_code == 201
    bill = issue_bill(engine, "BJPOWER", "55", 60_01)
    before = state(engine)
    body = assert_error(_pay(client, w, bill, "b1"), 422, "daily_limit_exceeded")
    assert body["details"] == {"daily_limit_minor": 100_00, "used_minor": 40_00}
    assert state(engine) == before
    topup = {"from_account_id": w["a1"], "biller_code": "CMCC", "phone": "13912345678", "amount_minor": 50_00,
             "idempotency_key": "u1"}
    assert client.post(f"{API}/top-ups", json=topup, headers=w["ha"]).status_code == 201  # 90.00 used
    assert_error(tr("t2", 10_01), 422, "daily_limit_exceeded")
    # between one's own accounts nothing counts
    assert tr("own", 500_00, to=number(engine, w["a2"])).status_code == 201
    assert tr("t3", 10_00).status_code == 201  # exactly at the limit
    assert_error(tr("t4", 1), 422, "daily_limit_exceeded")
    # a replay of a payment made within the limit still answers with the original
    assert tr("t1", 40_00).status_code == 200
    used = scalar(engine, "SELECT amount_minor FROM customer_daily_usage WHERE customer_id = :c", c=w["alice"])
    assert used == 100_00
    # bob is unaffected by alice's limit
    r = client.post(f"{API}/transfers", json={"from_account_id": w["b1"], "to_account_number": number(engine, w["a1"]),
                                              "amount_minor": 900_00, "idempotency_key": "bob"}, headers=w["hb"])
    assert r.status_code == 201
    # raising the limit lets the refused bill through (100.00 used + 60.01)
    approve(client.put(f"{API}/customers/{w['alice']}/daily-limit", json={"daily_limit_minor": 160_01},
                       headers=w["ht"]))
    assert _pay(client, w, bill, "b2").status_code == 201
    bank.assert_invariants()
