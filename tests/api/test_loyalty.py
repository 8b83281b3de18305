"""/api/v1/loyalty: a customer's points and redemptions; staff rules and reconciliation; refusals."""

from __future__ import annotations

from smartbank import db
from smartbank.loyalty import service as loyalty
from smartbank.security.service import SYSTEM
from tests.api.support import API, assert_error
from tests.conftest import login
from tests.loyalty.conftest import post


def test_customer_earns_sees_and_redeems(client, bank, engine, bank_clock):
    alice = bank.customer("王芳")
    acct = bank.account(alice, balance=50_000)
    bank.user("alice", customer_id=alice)
    for _ in range(2):
        post(engine, "bill_payment", customer_account=acct)
    post(engine, "salary", customer_account=acct, amount=900_000, inbound=True)
    assert db.run_in_transaction(loyalty.run_due, engine=engine)["points"] == 600
    h = login(client, "alice")
    me = client.get(f"{API}/loyalty/me", headers=h).json()
    assert me["balance"] == 600 and me["value_minor"] == 600 and me["point_value_minor"] == 1
    assert sorted(e["rule_code"] for e in me["history"]) == ["BILL_PAY", "BILL_PAY", "SALARY_FIRST"]
    r = client.post(f"{API}/loyalty/redemptions", headers=h, json={"reward_code": "FEE_WAIVER_5"})
    assert r.status_code == 201, r.text
    code = r.json()["voucher_code"]
    assert r.json()["balance"] == 100
    r = client.post(f"{API}/loyalty/redemptions", headers=h, json={"reward_code": "CASHBACK_20"})
    body = assert_error(r, 422)
    assert body["reason"] == "loyalty.insufficient_points" and body["details"] == {"needed": 2000, "available": 100}
    r = client.post(f"{API}/loyalty/vouchers/use", headers=h, json={"voucher_code": code, "used_ref": "fee:1"})
    assert r.status_code == 200 and r.json()["status"] == "used"
    assert_error(client.get(f"{API}/loyalty/reconcile", headers=h), 403)
    assert_error(client.get(f"{API}/loyalty/rules", headers=h), 403)


def test_staff_rules_lookup_and_reconcile(client, bank, engine, bank_clock):
    alice = bank.customer("王芳")
    db.run_in_transaction(lambda s: loyalty.adjust_points(s, SYSTEM, alice, 250, reason="gift"), engine=engine)
    bank.user("teller1", role="teller")
    bank.user("market1", role="marketer")
    ht = login(client, "teller1")
    rec = client.get(f"{API}/loyalty/reconcile", headers=ht).json()
    assert rec["ok"] is True and rec["liability_minor"] == 250 and rec["outstanding_points"] == 250
    assert client.get(f"{API}/loyalty/customers/{alice}", headers=ht).json()["balance"] == 250
    assert_error(client.get(f"{API}/loyalty/customers/999999", headers=ht), 404)
    rule = {"code": "BILL_PAY", "behaviour": "bill_payment", "points": 60, "cap_per_month": 240}
    assert_error(client.post(f"{API}/loyalty/rules", headers=ht, json=rule), 403)
    assert_error(client.post(f"{API}/loyalty/redemptions", headers=ht, json={"reward_code": "TOPUP_10"}), 403)
    hm = login(client, "market1")
    r = client.post(f"{API}/loyalty/rules", headers=hm, json=rule)
    assert r.status_code == 201 and r.json()["version"] == 2
    assert_error(client.post(f"{API}/loyalty/rules", headers=hm, json={**rule, "cap_per_month": 10}), 422)
    assert_error(client.post(f"{API}/loyalty/rules", headers=hm, json={**rule, "behaviour": "nope"}), 422)
    rules = client.get(f"{API}/loyalty/rules", headers=hm).json()
    assert {r["code"]: r["points"] for r in rules}["BILL_PAY"] == 60
